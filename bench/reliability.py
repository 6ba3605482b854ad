"""Memory that must not grow with traffic, and how soon results flow after a broker outage.

    .venv/bin/python -m bench.reliability [--commands N] [--owed N] [--outages N] [--json out]

(a) Commands: ``pos-adapter run`` against ``pos-adapter mock-pos`` (SQLite store), each in
    its own process; N snapshot requests with distinct messageIds, 20 in flight, on ten
    tables with open streams. The worker's resident memory (``VmRSS``) is sampled every
    tenth of the way: flat means nothing kept per command.
(b) Owed rows: a store holding N outbox rows (changes of about 1.2 KB, as a long broker
    outage leaves them) is handed to a fresh worker; RSS before, the peak (``VmHWM``)
    while it publishes them all, and how long that took.
(c) Broker outages: the worker reaches the broker through a TCP proxy in this process.
    The proxy cuts every connection and refuses new ones (the broker is down), a snapshot
    request is queued meanwhile (OpenApp reaches the broker directly), the proxy accepts
    connections again: the time from then to the result reaching us.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
from aio_pika.abc import AbstractConnection

from adapter.store import SqlStore
from adapter.testing import TcpProxy
from bench._support import (
    SNAPSHOT_REQUESTED,
    Child,
    OpenAppSide,
    Reply,
    adapter_env,
    adapter_queues,
    amqp_url_from_env,
    child_env,
    command_line,
    consumer_count,
    delete_queues,
    facts_lines,
    free_port,
    http_ok,
    machine_facts,
    markdown_table,
    ms,
    percentile,
    process_memory_kib,
    run_and_report,
    unique_id,
    wait_until,
)
from handlers import OutgoingMessage, WriteSet
from pos_drivers.mock import MockPosControl

TABLES = [f"T{n}" for n in range(1, 11)]
IN_FLIGHT = 20


def mib(kib: int) -> float:
    return round(kib / 1024, 1)


async def start_worker(adapter: Child, connection: AbstractConnection, location: str) -> None:
    await adapter.start()

    async def consuming() -> bool:
        return await consumer_count(connection, f"pos-adapter.{location}") > 0

    await wait_until(consuming, what="the adapter", children=[adapter], timeout=60)


async def open_streams(side: OpenAppSide, location: str) -> dict[str, str]:
    sessions = {table: str(uuid.uuid4()) for table in TABLES}
    for table, session in sessions.items():
        reply = await side.request(location, SNAPSHOT_REQUESTED,
                                   {"posTableId": table, "tableSessionId": session})
        assert reply.payload["outcome"] == "RESOLVED", reply.payload
    return sessions


# -- (a) memory over many commands ------------------------------------------------------


async def run_commands(
    args: argparse.Namespace, connection: AbstractConnection, side: OpenAppSide, work: Path,
    pos_url: str,
) -> list[dict[str, Any]]:
    location = unique_id("bench-mem")
    adapter = Child("adapter-commands", ["adapter.cli", "run"],
                    env=adapter_env(amqp_url=args.amqp_url, location_id=location,
                                    pos_url=pos_url, store_dir=work), log_dir=work)
    samples: list[dict[str, Any]] = []
    try:
        await side.listen(location)
        await start_worker(adapter, connection, location)
        sessions = await open_streams(side, location)
        sent = 0
        step = max(1, args.commands // 10)
        started = time.perf_counter()

        async def one_user() -> None:
            nonlocal sent
            while sent < args.commands:
                sent += 1
                table = TABLES[sent % len(TABLES)]
                await side.request(location, SNAPSHOT_REQUESTED,
                                   {"posTableId": table, "tableSessionId": sessions[table]})

        samples.append({"commands": 0, "rssMiB": mib(process_memory_kib(adapter.pid)["VmRSS"])})
        users = [asyncio.create_task(one_user()) for _ in range(IN_FLIGHT)]
        while not all(user.done() for user in users):
            await asyncio.wait(users, timeout=0.5)
            adapter.check_alive()
            if sent >= (len(samples)) * step or all(user.done() for user in users):
                samples.append({"commands": sent,
                                "rssMiB": mib(process_memory_kib(adapter.pid)["VmRSS"]),
                                "seconds": round(time.perf_counter() - started, 1)})
        for user in users:
            user.result()
        samples[-1]["peakMiB"] = mib(process_memory_kib(adapter.pid)["VmHWM"])
    finally:
        await adapter.stop()
        await delete_queues(connection, adapter_queues(location))
    return samples


# -- (b) a large owed backlog ------------------------------------------------------------


def change_body(location: str, n: int) -> OutgoingMessage:
    line = {"posLineId": f"ln-{n}", "productId": "chicha", "name": "Chicha morada",
            "quantity": 1, "unitPrice": 900, "totalPrice": 900, "status": "PENDING",
            "origin": "POS", "openAppLineId": None, "notes": None, "modifiers": []}
    payload = {"posTableId": "T1", "tableSessionId": "s-1", "streamId": "st-bench",
               "sequence": n, "changeType": "POS_LINE_ADDED", "lines": [line],
               "discounts": [], "snapshot": {"version": n, "lines": [line] * 4}}
    message_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    body = json.dumps({"messageId": message_id, "messageType": "TableOrderSnapshotChanged",
                       "schemaVersion": 1, "locationId": location,
                       "occurredAt": now.isoformat(), "correlationId": "open-1",
                       "payload": payload}).encode()
    return OutgoingMessage(message_id, "TableOrderSnapshotChanged", location, "open-1", now,
                           body, "T1")


async def fill_outbox(url: str, location: str, rows: int) -> None:
    store = SqlStore(url)
    await store.start()
    try:
        for first in range(0, rows, 1000):
            batch = [change_body(location, n) for n in range(first, min(rows, first + 1000))]
            await store.commit(WriteSet(outbox=batch))
    finally:
        await store.close()


async def run_owed(
    args: argparse.Namespace, connection: AbstractConnection, side: OpenAppSide, work: Path,
    pos_url: str,
) -> dict[str, Any]:
    location = unique_id("bench-owed")
    env = adapter_env(amqp_url=args.amqp_url, location_id=location, pos_url=pos_url,
                      store_dir=work)
    await fill_outbox(env["POS_ADAPTER_STORE_URL"], location, args.owed)
    received: set[str] = set()
    done = asyncio.Event()

    def count(reply: Reply) -> None:
        if reply.body.get("messageType") == "TableOrderSnapshotChanged":
            received.add(reply.body["messageId"])
            if len(received) >= args.owed:
                done.set()

    side.on_other = count
    adapter = Child("adapter-owed", ["adapter.cli", "run"], env=env, log_dir=work)
    try:
        await side.listen(location)
        started = time.perf_counter()
        await adapter.start()
        finished = asyncio.create_task(done.wait())
        while not done.is_set():
            adapter.check_alive()
            await asyncio.wait([finished], timeout=1.0)
        seconds = time.perf_counter() - started
        memory = process_memory_kib(adapter.pid)
    finally:
        side.on_other = None
        await adapter.stop()
        await delete_queues(connection, adapter_queues(location))
    return {"rows": args.owed, "secondsToPublishAll": round(seconds, 1),
            "peakMiB": mib(memory["VmHWM"]), "rssAfterMiB": mib(memory["VmRSS"])}


# -- (c) broker outages ------------------------------------------------------------------


async def run_outages(
    args: argparse.Namespace, connection: AbstractConnection, side: OpenAppSide, work: Path,
    pos_url: str,
) -> list[float]:
    location = unique_id("bench-outage")
    proxy = TcpProxy.for_url(args.amqp_url)
    adapter = Child("adapter-outages", ["adapter.cli", "run"],
                    env=adapter_env(amqp_url=proxy.url(args.amqp_url), location_id=location,
                                    pos_url=pos_url, store_dir=work), log_dir=work)
    back_after: list[float] = []
    async with proxy:
        try:
            await side.listen(location)
            await start_worker(adapter, connection, location)
            sessions = await open_streams(side, location)
            for _ in range(args.outages):
                await proxy.down()
                message_id = str(uuid.uuid4())
                answer = side.expect(message_id)
                await side.send(location, SNAPSHOT_REQUESTED,
                                {"posTableId": "T1", "tableSessionId": sessions["T1"]},
                                message_id=message_id)
                await asyncio.sleep(args.outage_seconds)
                await proxy.up()
                back = time.perf_counter()
                reply = await asyncio.wait_for(answer, 60)
                back_after.append(reply.received - back)
                adapter.check_alive()
        finally:
            await adapter.stop()
            await delete_queues(connection, adapter_queues(location))
    return back_after


# -- the run and the report --------------------------------------------------------------


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    connection = await aio_pika.connect(args.amqp_url)
    port = free_port()
    pos_url = f"http://127.0.0.1:{port}"
    async with connection, OpenAppSide(connection) as side:
        facts = await machine_facts(connection)
        with tempfile.TemporaryDirectory(prefix="pos-adapter-bench-") as tmp:
            work = Path(tmp)
            mock = Child("mock-pos", ["adapter.cli", "mock-pos", "--port", str(port)],
                         env=child_env(), log_dir=work)
            async with mock, MockPosControl(pos_url) as control:
                await wait_until(lambda: http_ok(f"{pos_url}/health"), what="the mock POS",
                                 children=[mock])
                for table in TABLES:
                    await control.add_waiter_lines(table, [{"productId": "ceviche",
                                                            "quantity": 1}])
                print(f"(a) {args.commands} commands", flush=True)
                commands = await run_commands(args, connection, side, work, pos_url)
                print(f"(b) {args.owed} rows owed", flush=True)
                owed = await run_owed(args, connection, side, work, pos_url)
                print(f"(c) {args.outages} broker outages", flush=True)
                outages = await run_outages(args, connection, side, work, pos_url)
    return {"facts": facts, "commands": commands, "owed": owed, "outages": outages}


def report(result: dict[str, Any]) -> str:
    lines = [f"`{command_line('bench.reliability')}`", "", *facts_lines(result["facts"]), ""]
    commands = result["commands"]
    lines += ["Resident memory of the worker while it answers snapshot requests "
              f"({IN_FLIGHT} in flight):", ""]
    lines.append(markdown_table(["commands", "RSS MiB", "seconds"],
                                [(s["commands"], s["rssMiB"], s.get("seconds", 0))
                                 for s in commands]))
    lines += ["", f"Peak: {commands[-1].get('peakMiB')} MiB.", ""]
    owed = result["owed"]
    lines += ["A fresh worker handed a store that owes rows (its idle RSS is the first row "
              "above):", ""]
    lines.append(markdown_table(
        ["rows owed", "peak MiB", "RSS after MiB", "seconds to publish all"],
        [(owed["rows"], owed["peakMiB"], owed["rssAfterMiB"], owed["secondsToPublishAll"])]))
    outages = result["outages"]
    lines += ["", "Broker outages: from the broker accepting connections again to the result "
              "of a command sent during the outage:", ""]
    lines.append(markdown_table(
        ["outages", "p50 ms", "max ms"],
        [(len(outages), ms(percentile(outages, 0.5)), ms(max(outages, default=float("nan"))))]))
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.reliability", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--amqp-url", default=amqp_url_from_env())
    parser.add_argument("--commands", type=int, default=100_000)
    parser.add_argument("--owed", type=int, default=100_000)
    parser.add_argument("--outages", type=int, default=5)
    parser.add_argument("--outage-seconds", type=float, default=3.0)
    parser.add_argument("--json", type=Path, default=None)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return run_and_report(bench(args), report, lambda result: result, args.json)


if __name__ == "__main__":
    sys.exit(main())
