"""The store's CPU per command, without the broker or the POS.

    .venv/bin/python -m bench.store [--commands 2000] [--repeat 3] [--in-flight 1 10]
                                    [--postgres URL] [--json out.json]

Drives :class:`adapter.store.SqlStore` the way the snapshot handler does, N commands at a
time (1 and 10): each looks its messageId up in the inbox (``inbox_entry``), then commits
a write set with its inbox row, its journal entry and one result of about 1.5 KB in the
outbox (what ``handlers._command.answer`` builds); the rows each commit hands to the
outbox listeners are marked sent (``mark_sent``), as the relay does once the broker
confirmed them. Reported: this process's CPU time (user + system, every thread: the
aiosqlite thread included) per command, and the wall time; each cell is measured
``--repeat`` times after a warm-up, and the median run (by CPU) is reported, as other
work on the machine skews single runs.

The SQLite store is a file in a temporary directory; with ``--postgres URL`` (an admin
URL such as ``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``) the same runs go
against a database made for the run and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapter.store import OutboxRow, SqlStore
from bench._support import (
    command_line,
    facts_lines,
    machine_facts,
    markdown_table,
    run_and_report,
)
from handlers import InboxRecord, JournalEntry, OutgoingMessage, WriteSet

IN_FLIGHT = (1, 10)
LOCATION = "bench-store"
SNAPSHOT_REQUESTED = "TableOrderSnapshotRequested"
RESULT_TYPE = "TableOrderSnapshotResolutionResult"


@dataclass(frozen=True, slots=True)
class Cell:
    backend: str
    in_flight: int
    commands: int
    cpu_seconds: float
    wall_seconds: float

    @property
    def cpu_ms_per_command(self) -> float:
        return 1000 * self.cpu_seconds / self.commands

    @property
    def wall_us_per_command(self) -> float:
        return 1e6 * self.wall_seconds / self.commands

    def to_json(self) -> dict[str, Any]:
        return {"backend": self.backend, "inFlight": self.in_flight, "commands": self.commands,
                "cpuMsPerCommand": round(self.cpu_ms_per_command, 4),
                "wallUsPerCommand": round(self.wall_us_per_command, 1)}


def _result_body(message_id: str, correlation_id: str, table: str) -> bytes:
    """A snapshot result of about 1.5 KB: a check with a few lines."""
    lines = [
        {"lineId": f"ln-{n}", "posLineId": f"pos-{n}", "name": f"Lomo saltado {n}",
         "quantity": 1, "unitPrice": "42.50", "total": "42.50", "status": "SENT",
         "addedBy": "WAITER", "notes": None}
        for n in range(5)
    ]
    envelope = {
        "messageId": message_id, "messageType": RESULT_TYPE,
        "occurredAt": datetime.now(UTC).isoformat(), "correlationId": correlation_id,
        "locationId": LOCATION,
        "payload": {"posTableId": table, "outcome": "RESOLVED", "snapshot": {
            "posTableId": table, "tableName": "Mesa 1", "posOrderId": "ord-1",
            "orderStatus": "OPEN", "currency": "PEN", "lines": lines,
            "totals": {"subtotal": "212.50", "discountTotal": "0", "taxTotal": "38.25",
                       "total": "212.50"},
            "version": 7, "capturedAt": datetime.now(UTC).isoformat()}},
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


def write_set(command_id: str, table: str) -> WriteSet:
    """What the snapshot handler's answer commits for one command."""
    now = datetime.now(UTC)
    result_id = str(uuid.uuid4())
    result = OutgoingMessage(
        message_id=result_id, message_type=RESULT_TYPE, location_id=LOCATION,
        correlation_id=command_id, occurred_at=now,
        body=_result_body(result_id, command_id, table), pos_table_id=table,
    )
    body = json.dumps({"messageId": command_id, "messageType": SNAPSHOT_REQUESTED,
                       "occurredAt": now.isoformat(), "locationId": LOCATION,
                       "payload": {"posTableId": table}}).encode()
    properties = {"message_id": command_id, "type": SNAPSHOT_REQUESTED,
                  "content_type": "application/json", "delivery_mode": 2,
                  "headers": {"x-delivery-count": 0}}
    return WriteSet(
        inbox=InboxRecord(message_id=command_id, location_id=LOCATION,
                          message_type=SNAPSHOT_REQUESTED, pos_table_id=table,
                          received_at=now, outcome="RESOLVED", result=result),
        outbox=[result],
        journal=[JournalEntry(location_id=LOCATION, message_id=command_id,
                              message_type=SNAPSHOT_REQUESTED, pos_table_id=table,
                              correlation_id=None, received_at=now, outcome="RESOLVED",
                              body=body, properties=properties,
                              result_message_id=result_id)],
    )


async def one_command(store: SqlStore, writes: WriteSet) -> None:
    assert writes.inbox is not None
    seen = await store.inbox_entry(writes.inbox.message_id)
    assert seen is None
    await store.commit(writes)


def commands(count: int) -> list[WriteSet]:
    """The write sets of ``count`` commands, made before the clock starts: what is
    measured is the store's work, not the making of results."""
    ids = [str(uuid.uuid4()) for _ in range(count)]
    return [write_set(command_id, f"T{n % 10}") for n, command_id in enumerate(ids)]


async def drive(store: SqlStore, write_sets: list[WriteSet], in_flight: int) -> None:
    """Commit ``write_sets``, ``in_flight`` commands at a time (a closed loop per slot)."""
    queue = iter(write_sets)

    async def slot() -> None:
        for writes in queue:
            await one_command(store, writes)

    await asyncio.gather(*(slot() for _ in range(in_flight)))


async def measure(url: str, backend: str, args: argparse.Namespace) -> list[Cell]:
    store = SqlStore(url)
    await store.start()

    def relay(rows: list[OutboxRow]) -> None:
        ids = [row.id for row in rows]
        asyncio.get_running_loop().call_soon(store.mark_sent, ids)

    store.on_outbox(relay)
    cells: list[Cell] = []
    try:
        for in_flight in args.in_flight:
            await drive(store, commands(args.warmup), in_flight)
            runs: list[Cell] = []
            for _ in range(args.repeat):
                write_sets = commands(args.commands)
                cpu, wall = time.process_time(), time.perf_counter()
                await drive(store, write_sets, in_flight)
                runs.append(Cell(backend, in_flight, args.commands,
                                 time.process_time() - cpu, time.perf_counter() - wall))
            cells.append(sorted(runs, key=lambda c: c.cpu_seconds)[len(runs) // 2])
            print(f"  {backend}, {in_flight} in flight: "
                  f"{cells[-1].cpu_ms_per_command:.3f} ms CPU per command", flush=True)
    finally:
        await store.close()
    return cells


@contextlib.asynccontextmanager
async def postgres_database(admin_url: str) -> AsyncIterator[str]:
    """A database of its own for the run, dropped afterwards."""
    import asyncpg
    from sqlalchemy.engine import make_url

    parsed = make_url(admin_url)
    name = f"pos_adapter_bench_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(host=parsed.host, port=parsed.port or 5432,
                                     user=parsed.username, password=parsed.password,
                                     database=parsed.database or "postgres")
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    await admin(f'CREATE DATABASE "{name}"')
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    facts = await machine_facts(None)
    cells: list[Cell] = []
    with tempfile.TemporaryDirectory(prefix="pos-adapter-bench-store-") as tmp:
        cells += await measure(f"sqlite+aiosqlite:///{Path(tmp) / 'store.db'}", "sqlite", args)
    if args.postgres:
        async with postgres_database(args.postgres) as url:
            cells += await measure(url, "postgresql", args)
    return {"facts": facts, "cells": cells}


def report(result: dict[str, Any]) -> str:
    cells: list[Cell] = result["cells"]
    lines = [f"`{command_line('bench.store')}`", ""]
    lines.append(markdown_table(
        ["store", "in flight", "commands", "CPU ms / command", "wall µs / command"],
        [(c.backend, c.in_flight, c.commands, round(c.cpu_ms_per_command, 3),
          c.wall_us_per_command) for c in cells]))
    lines += ["", "Machine:", *facts_lines(result["facts"])]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.store",
                                     description=__doc__.split("\n", 1)[0])
    parser.add_argument("--commands", type=int, default=2000, help="measured, per cell")
    parser.add_argument("--warmup", type=int, default=300, help="not measured, per cell")
    parser.add_argument("--repeat", type=int, default=3,
                        help="measured runs per cell; the median (by CPU) is reported")
    parser.add_argument("--in-flight", type=int, nargs="+", default=list(IN_FLIGHT),
                        metavar="N", help="commands at a time, one cell each")
    parser.add_argument("--postgres", metavar="URL",
                        help="also run against PostgreSQL (a database made for the run)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)

    def document(result: dict[str, Any]) -> dict[str, Any]:
        return {"commandLine": command_line("bench.store"), "facts": result["facts"],
                "cells": [c.to_json() for c in result["cells"]]}

    return run_and_report(bench(args), report, document, args.json)


if __name__ == "__main__":
    sys.exit(main())
