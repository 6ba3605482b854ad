"""The adapter's own work per command, without the broker: one process, little noise.

    .venv/bin/python -m bench.dispatch [--commands 1500] [--in-flight 10] [--rounds 3]
                                       [--json out.json]

``bench.commands`` measures the worker beside RabbitMQ, the benchmark's client and the
mock POS on the same cores, where a change of a few per cent drowns in what the others
do. Here the handlers run as the worker runs them minus AMQP: the dispatcher of one
location over a SQLite store (a temporary file, as ``pos-adapter run`` keeps it), the
``mock`` driver metered as the worker meters it, and ``pos-adapter mock-pos`` in a child
process on a free port; the outbox rows each commit hands out are marked sent as soon
as the commit has returned (the relay's store work, not its publishing). The workloads
are ``bench.commands``':

- ``snapshot``: TableOrderSnapshotRequested on ten tables with three waiter lines each,
  every table's stream open;
- ``submission``: OrderSubmissionRequested of one item on twenty tables, each starting
  without a check, whose checks grow by a line per submission (90 lines at the end with
  the default ``--commands``, about what ``bench.commands`` ends with).

Per round, each workload in a new process of the mock POS and a new store: ``--commands``
after a warm-up of 300, ``--in-flight`` at a time. The CPU time of this process (every
thread: the store's included) per command, and the commands per second; the median round
and the range. Also each command's time from the dispatcher's call to its return (its
commit included; no broker): p50 and p99, the median round: the worker's own part of
``bench.commands``' latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from adapter.instrumented import meter
from adapter.logging import configure_logging
from adapter.metrics import Metrics
from adapter.settings import LogLevel
from adapter.store import OutboxRow, SqlStore
from adapter.testing import command
from bench._support import (
    Child,
    child_env,
    command_line,
    facts_lines,
    free_port,
    http_ok,
    machine_facts,
    markdown_table,
    percentile,
    run_and_report,
    wait_until,
)
from bench.commands import (
    SNAPSHOT_TABLES,
    SUBMISSION_TABLES,
    SUBMITTED_ITEM,
    WAITER_LINES,
)
from handlers import Dispatcher, HandlerContext, SnapshotHandler, TableLocks
from handlers.submission import SubmissionHandler
from handlers.watcher import Watcher
from pos_drivers import DriverConfig
from pos_drivers.mock import MockDriver, MockPosControl
from schemas import MessageType

LOCATION = "bench-dispatch"
WARMUP = 300
PRODUCT_CACHE_TTL = 2.0
"""``pos-adapter run``'s default."""

Body = Callable[[int], bytes]


def _body(message_type: str, payload: dict[str, Any]) -> bytes:
    return json.dumps(command(message_type, payload, location_id=LOCATION)).encode()


def snapshot_body(sessions: dict[str, str]) -> Body:
    tables = list(sessions)

    def body(number: int) -> bytes:
        table = tables[number % len(tables)]
        return _body(MessageType.TABLE_ORDER_SNAPSHOT_REQUESTED,
                     {"posTableId": table, "tableSessionId": sessions[table],
                      "reason": "REFRESH"})

    return body


def submission_body(sessions: dict[str, str]) -> Body:
    tables = list(sessions)

    def body(number: int) -> bytes:
        table = tables[number % len(tables)]
        return _body(MessageType.ORDER_SUBMISSION_REQUESTED, {
            "submissionId": f"bench-sub-{uuid.uuid4().hex}",
            "orderContext": {"type": "TABLE", "posTableId": table,
                             "tableSessionId": sessions[table]},
            "items": [{"lineId": "oa-line-1", **SUBMITTED_ITEM, "notes": None,
                       "modifiers": []}],
            "payment": None,
        })

    return body


class Location:
    """One location's handlers, as ``adapter.location`` builds them, minus AMQP."""

    def __init__(self, store: SqlStore, driver: MockDriver) -> None:
        metrics = Metrics().location(LOCATION, "mock")
        ctx = HandlerContext(location_id=LOCATION, store=store, driver=meter(driver, metrics),
                             locks=TableLocks(), pos_deadline=10.0)
        ctx.listener = Watcher(ctx)
        self.dispatcher = Dispatcher(ctx, {
            MessageType.TABLE_ORDER_SNAPSHOT_REQUESTED: SnapshotHandler(ctx),
            MessageType.ORDER_SUBMISSION_REQUESTED: SubmissionHandler(
                ctx, product_cache_ttl=PRODUCT_CACHE_TTL),
        })

    async def send(self, bodies: Sequence[bytes], in_flight: int) -> list[float]:
        """Every body dispatched, ``in_flight`` at a time; each must succeed. How long
        each took, in seconds, its commit included."""
        pending = iter(bodies)
        took: list[float] = []

        async def worker() -> None:
            for body in pending:
                started = time.perf_counter()
                answer = await self.dispatcher.dispatch(body, redelivered=False)
                took.append(time.perf_counter() - started)
                if getattr(answer, "outcome", None) not in ("RESOLVED", "ACCEPTED"):
                    raise RuntimeError(f"a command was not answered as expected: {answer}")

        await asyncio.gather(*(worker() for _ in range(in_flight)))
        return took

    async def open_streams(self, tables: Sequence[str]) -> dict[str, str]:
        sessions = {table: str(uuid.uuid4()) for table in tables}
        await self.send([
            _body(MessageType.TABLE_ORDER_SNAPSHOT_REQUESTED,
                  {"posTableId": t, "tableSessionId": s, "reason": "SESSION_START"})
            for t, s in sessions.items()
        ], in_flight=1)
        return sessions


@asynccontextmanager
async def location(work: Path, waiter_lines: Sequence[str]) -> AsyncIterator[Location]:
    """A fresh mock POS (``waiter_lines`` tables with the waiter's lines) and store."""
    port = free_port()
    pos_url = f"http://127.0.0.1:{port}"
    mock = Child("mock-pos", ["adapter.cli", "mock-pos", "--port", str(port)],
                 env=child_env(), log_dir=work)
    store = SqlStore(f"sqlite+aiosqlite:///{work / f'store-{port}.db'}")
    driver = MockDriver(DriverConfig(pos_url=pos_url, request_timeout=10.0))
    async with mock, MockPosControl(pos_url) as control:
        await wait_until(lambda: http_ok(f"{pos_url}/health"), what="the mock POS",
                         children=[mock])
        for table in waiter_lines:
            await control.add_waiter_lines(table, WAITER_LINES)
        await store.start()
        try:
            await driver.open()
            store.on_outbox(lambda rows: _sent(store, rows))
            yield Location(store, driver)
        finally:
            await driver.aclose()
            await store.close()


def _sent(store: SqlStore, rows: list[OutboxRow]) -> None:
    """Marked once the commit has returned, as the relay marks them on their confirms:
    marked within the commit's callback, they would get a transaction of their own."""
    ids = [row.id for row in rows]
    asyncio.get_running_loop().call_soon(store.mark_sent, ids)


async def measure(place: Location, body: Body, commands: int, in_flight: int) -> dict[str, float]:
    await place.send([body(n) for n in range(WARMUP)], in_flight)
    bodies = [body(WARMUP + n) for n in range(commands)]
    cpu, wall = time.process_time(), time.perf_counter()
    took = await place.send(bodies, in_flight)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"cpuMs": cpu * 1000 / commands, "perSecond": commands / wall,
            "p50Ms": percentile(took, 0.50) * 1000, "p99Ms": percentile(took, 0.99) * 1000}


async def one_round(args: argparse.Namespace, work: Path) -> dict[str, dict[str, float]]:
    async with location(work, SNAPSHOT_TABLES) as place:
        sessions = await place.open_streams(SNAPSHOT_TABLES)
        snapshot = await measure(place, snapshot_body(sessions), args.commands, args.in_flight)
    async with location(work, ()) as place:
        sessions = await place.open_streams(SUBMISSION_TABLES)
        submission = await measure(place, submission_body(sessions), args.commands,
                                   args.in_flight)
    return {"snapshot": snapshot, "submission": submission}


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    configure_logging(LogLevel.WARNING)  # as the benchmarks run the worker
    rounds = []
    with tempfile.TemporaryDirectory(prefix="pos-adapter-bench-") as tmp:
        for number in range(1, args.rounds + 1):
            print(f"round {number} of {args.rounds}", flush=True)
            rounds.append(await one_round(args, Path(tmp)))
    return {"facts": await machine_facts(None), "rounds": rounds,
            "commands": args.commands, "inFlight": args.in_flight}


def report(result: dict[str, Any]) -> str:
    rows = []
    for workload in ("snapshot", "submission"):
        cpu = [r[workload]["cpuMs"] for r in result["rounds"]]
        rows.append((workload, statistics.median(cpu), f"{min(cpu):.3f} to {max(cpu):.3f}",
                     *(statistics.median(r[workload][key] for r in result["rounds"])
                       for key in ("perSecond", "p50Ms", "p99Ms"))))
    return "\n".join([
        f"`{command_line('bench.dispatch')}`", "",
        markdown_table([f"workload ({result['commands']} commands, {result['inFlight']} in "
                        "flight)", "CPU ms per command, median", "range", "commands/s",
                        "p50 ms", "p99 ms"], rows),
        "", "Machine:", *facts_lines(result["facts"]),
    ])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--commands", type=int, default=1500)
    parser.add_argument("--in-flight", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.commands < 1 or args.in_flight < 1 or args.rounds < 1:
        parser.error("--commands, --in-flight and --rounds must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)

    def document(result: dict[str, Any]) -> dict[str, Any]:
        return {"commandLine": command_line("bench.dispatch"), **result}

    return run_and_report(bench(args), report, document, args.json)


if __name__ == "__main__":
    sys.exit(main())
