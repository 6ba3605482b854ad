"""Many locations in one process, and a fleet of processes sharing them.

    .venv/bin/python -m bench.locations [--locations 200] [--streams 5] [--idle-seconds 60]
                                        [--fleet-locations 60] [--json out.json]

(a) Idle: one ``pos-adapter run`` serving ``--locations`` locations of a locations file
    (SQLite store, ``--change-mode``, default auto: push for the mock), all in front of
    one mock POS running in this process behind a middleware that counts the POS API
    calls. Nothing changes for ``--idle-seconds``, first with no stream open, then with
    ``--streams`` streams on each location: the adapter's resident memory, its CPU share,
    and the POS calls per location and poll interval (one at most, whatever the number of
    streams; none for a location that watches no stream).
(b) Fleet: three ``pos-adapter run`` over ``--fleet-locations`` locations on one
    PostgreSQL store (a database made for the run), commands sent to every location at a
    steady pace; one process is killed with SIGKILL. For each of its locations: the time
    from the kill to the first answer to a command sent after it; and the commands sent
    that were never answered (lost).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import itertools
import math
import os
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
from aio_pika.abc import AbstractConnection

from bench._support import (
    SNAPSHOT_REQUESTED,
    Child,
    CpuMeter,
    OpenAppSide,
    adapter_queues,
    amqp_url_from_env,
    child_env,
    command_line,
    consumer_count,
    delete_queues,
    facts_lines,
    machine_facts,
    markdown_table,
    ms,
    percentile,
    process_memory_kib,
    run_and_report,
    unique_id,
    wait_until,
)
from bench.changes import CountPosCalls, pos_calls
from bench.commands import py_spy_recorder
from pos_drivers.mock import MockPosServer

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
RSS_BAR_MIB = 250
CPU_BAR = 0.05


def locations_file(path: Path, ids: Sequence[str]) -> Path:
    path.write_text("".join(f'[[location]]\nid = "{location}"\n\n' for location in ids))
    return path


def fleet_env(args: argparse.Namespace, file: Path, store_url: str, pos_url: str,
              **extra: str) -> dict[str, str]:
    return child_env(AMQP_URL=args.amqp_url, STORE_URL=store_url, POS_URL=pos_url,
                     LOCATIONS_FILE=str(file), LOG_LEVEL="warning", INBOX_QUEUE="false",
                     METRICS_PORT="0", **extra)


async def serving_all(connection: AbstractConnection, ids: Sequence[str]) -> bool:
    for location in ids:
        if await consumer_count(connection, f"pos-adapter.{location}") < 1:
            return False
    return True


async def open_streams(side: OpenAppSide, ids: Sequence[str], streams: int) -> None:
    work = [(location, f"T{n + 1}") for location in ids for n in range(streams)]

    async def user() -> None:
        while work:
            location, table = work.pop()
            reply = await side.request(location, SNAPSHOT_REQUESTED,
                                       {"posTableId": table, "tableSessionId": "s"}, timeout=60)
            if reply.payload.get("outcome") != "RESOLVED":
                raise RuntimeError(f"{location} {table}: {reply.payload.get('rejection')}")

    await asyncio.gather(*(user() for _ in range(32)))


# -- (a) many idle locations ------------------------------------------------------------


async def run_idle(
    args: argparse.Namespace, connection: AbstractConnection, side: OpenAppSide, work: Path
) -> dict[str, Any]:
    ids = [unique_id("bench-loc") for _ in range(args.locations)]
    counts: Counter[str] = Counter()
    server = MockPosServer()
    server.app.add_middleware(CountPosCalls, counts=counts)
    file = locations_file(work / "idle.toml", ids)
    store = f"sqlite+aiosqlite:///{work / 'idle.db'}"
    result: dict[str, Any] = {"locations": args.locations, "streamsPerLocation": args.streams,
                              "pollInterval": args.poll_interval, "mode": args.change_mode}
    async with server:
        adapter = Child("adapter-idle", ["adapter.cli", "run"], log_dir=work,
                        env=fleet_env(args, file, store, server.url,
                                      CHANGE_MODE=args.change_mode,
                                      POLL_INTERVAL=str(args.poll_interval)))
        try:
            for location in ids:
                await side.listen(location)
            started = time.perf_counter()
            await adapter.start()
            await wait_until(lambda: serving_all(connection, ids), what="every location",
                             children=[adapter], timeout=180)
            result["secondsToServeAll"] = round(time.perf_counter() - started, 1)
            print(f"  idle for {args.idle_seconds:g} s, no stream open", flush=True)
            result["withoutStreams"] = await _idle_for(args, adapter, counts, len(ids),
                                                       "no-streams")
            print(f"  opening {args.streams} streams on each location", flush=True)
            await open_streams(side, ids, args.streams)
            await asyncio.sleep(2 * args.poll_interval)  # the last reads settle
            print(f"  idle for {args.idle_seconds:g} s, {args.streams} streams each", flush=True)
            result["withStreams"] = await _idle_for(args, adapter, counts, len(ids), "streams")
        finally:
            await adapter.stop()
            await delete_queues(connection, [q for loc in ids for q in adapter_queues(loc)])
    return result


async def _idle_for(
    args: argparse.Namespace, adapter: Child, counts: Counter[str], locations: int, label: str
) -> dict[str, Any]:
    before = counts.copy()
    meter = CpuMeter({"adapter": adapter.pid})
    meter.start()
    record = py_spy_recorder(args.py_spy, args.profile_dir, lambda: adapter.pid)
    recording = record(f"idle-{label}", args.idle_seconds) if record else None
    await asyncio.sleep(args.idle_seconds)
    if recording is not None:
        await recording
    usage = meter.stop()
    adapter.check_alive()
    calls = pos_calls(counts - before)
    intervals = usage.wall / args.poll_interval
    memory = process_memory_kib(adapter.pid)
    return {
        "seconds": round(usage.wall, 1), "cpuShare": round(usage.share("adapter"), 4),
        "posCalls": calls,
        "posCallsPerLocationAndInterval": round(calls / intervals / locations, 3),
        "rssMiB": round(memory["VmRSS"] / 1024, 1), "peakMiB": round(memory["VmHWM"] / 1024, 1),
    }


# -- (b) a fleet, one member killed -----------------------------------------------------


async def fresh_database(postgres_url: str) -> tuple[str, str]:
    name = f"pos_adapter_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return name, postgres_url.rsplit("/", 1)[0] + f"/{name}"


async def drop_database(name: str) -> None:
    admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def holders(store_url: str) -> dict[str, str]:
    dsn = store_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT location_id, holder FROM leases WHERE expires_at > now()")
    finally:
        await conn.close()
    return {row["location_id"]: row["holder"] for row in rows}


async def run_fleet(
    args: argparse.Namespace, connection: AbstractConnection, side: OpenAppSide, work: Path
) -> dict[str, Any]:
    ids = [unique_id("bench-fleet") for _ in range(args.fleet_locations)]
    name, store = await fresh_database(args.postgres_url)
    file = locations_file(work / "fleet.toml", ids)
    result: dict[str, Any] = {"locations": len(ids), "processes": 3, "leaseTtl": args.lease_ttl}
    async with MockPosServer() as server:
        env = fleet_env(args, file, store, server.url, LEASE_TTL=str(args.lease_ttl))
        members = [Child(f"member-{n}", ["adapter.cli", "run"], env=env, log_dir=work)
                   for n in range(3)]
        try:
            for location in ids:
                await side.listen(location)
            for member in members:
                await member.start()
            await wait_until(lambda: serving_all(connection, ids), what="every location",
                             children=members, timeout=120)
            owners = await holders(store)
            result["spread"] = sorted(Counter(owners.values()).values())
            victim = members[0]
            victims = {loc for loc, holder in owners.items() if f":{victim.pid}:" in holder}
            result.update(await _kill_under_load(args, side, ids, victim, victims))
            result["spreadAfter"] = sorted(Counter((await holders(store)).values()).values())
        finally:
            for member in members:
                await member.stop()
            await delete_queues(connection, [q for loc in ids for q in adapter_queues(loc)])
            await drop_database(name)
    return result


async def _kill_under_load(
    args: argparse.Namespace, side: OpenAppSide, ids: Sequence[str], victim: Child,
    victims: set[str],
) -> dict[str, Any]:
    answers: dict[str, asyncio.Future[Any]] = {}
    killed_at = math.inf
    back_after: dict[str, float] = {}
    all_back = asyncio.Event()

    def answered(future: asyncio.Future[Any], *, location: str, sent: float) -> None:
        """The first answer to a command sent after the kill, per location."""
        if not future.cancelled() and sent > killed_at and location not in back_after:
            back_after[location] = future.result().received - killed_at
            if set(back_after) >= victims:
                all_back.set()

    async def load() -> None:
        for location in itertools.cycle(ids):
            message_id = str(uuid.uuid4())
            future = answers[message_id] = side.expect(message_id)
            future.add_done_callback(functools.partial(
                answered, location=location, sent=time.perf_counter()))
            await side.send(location, SNAPSHOT_REQUESTED,
                            {"posTableId": "T1", "tableSessionId": "s"}, message_id=message_id)
            await asyncio.sleep(1 / args.fleet_rate)

    loading = asyncio.create_task(load())
    await asyncio.sleep(args.fleet_warmup)
    os.kill(victim.pid, signal.SIGKILL)
    killed_at = time.perf_counter()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_back.wait(), args.lease_ttl + 60)
    await asyncio.sleep(args.fleet_tail)
    loading.cancel()
    await asyncio.gather(loading, return_exceptions=True)
    await asyncio.wait(answers.values(), timeout=30)
    lost = [message_id for message_id, future in answers.items() if not future.done()]
    times = [back_after.get(location, math.inf) for location in victims] or [0.0]
    return {"commandsSent": len(answers), "lost": len(lost), "killedLocations": len(victims),
            "backAfterP50Ms": ms(percentile(times, 0.5)), "backAfterMaxMs": ms(max(times))}


# -- the run and the report --------------------------------------------------------------


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    connection = await aio_pika.connect(args.amqp_url)
    async with connection, OpenAppSide(connection) as side:
        facts = await machine_facts(connection)
        with tempfile.TemporaryDirectory(prefix="pos-adapter-bench-") as tmp:
            work = Path(tmp)
            print(f"(a) {args.locations} idle locations in one process", flush=True)
            idle = await run_idle(args, connection, side, work)
            fleet = None
            if args.fleet_locations:
                print(f"(b) a fleet of 3 over {args.fleet_locations} locations", flush=True)
                fleet = await run_fleet(args, connection, side, work)
    return {"facts": facts, "idle": idle, "fleet": fleet}


def report(result: dict[str, Any]) -> str:
    idle, fleet = result["idle"], result["fleet"]
    lines = [f"`{command_line('bench.locations')}`", "", *facts_lines(result["facts"]), ""]
    rows = [(idle["locations"], idle["mode"], streams, idle["pollInterval"], run_["rssMiB"],
             run_["peakMiB"], round(100 * run_["cpuShare"], 2),
             run_["posCallsPerLocationAndInterval"], idle["secondsToServeAll"])
            for streams, run_ in ((0, idle["withoutStreams"]),
                                  (idle["streamsPerLocation"], idle["withStreams"]))]
    lines.append(markdown_table(
        ["locations", "mode", "streams each", "poll s", "RSS MiB", "peak MiB",
         "CPU % of a core", "POS calls / location / interval", "s to serve all"], rows))
    within = all(run_["rssMiB"] <= RSS_BAR_MIB and run_["cpuShare"] <= CPU_BAR
                 for run_ in (idle["withoutStreams"], idle["withStreams"]))
    lines += ["", f"Bar (idle locations, with and without streams): RSS ≤ {RSS_BAR_MIB} MiB "
              f"and CPU ≤ {100 * CPU_BAR:g} % of a core: " + ("pass" if within else "FAIL"), ""]
    if fleet is not None:
        lines.append(markdown_table(
            ["locations", "processes", "lease TTL s", "spread", "killed locations",
             "back after p50 ms", "max ms", "commands", "lost", "spread after"],
            [(fleet["locations"], fleet["processes"], fleet["leaseTtl"], fleet["spread"],
              fleet["killedLocations"], fleet["backAfterP50Ms"], fleet["backAfterMaxMs"],
              fleet["commandsSent"], fleet["lost"], fleet["spreadAfter"])]))
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.locations", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--amqp-url", default=amqp_url_from_env())
    parser.add_argument("--postgres-url",
                        default=os.environ.get("POSTGRES_URL", DEFAULT_POSTGRES))
    parser.add_argument("--locations", type=int, default=200)
    parser.add_argument("--streams", type=int, default=5)
    parser.add_argument("--poll-interval", type=float, default=2.0)
    parser.add_argument("--change-mode", default="auto",
                        help="POS_ADAPTER_CHANGE_MODE of the idle run (auto: push for the mock)")
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--fleet-locations", type=int, default=60,
                        help="locations of the fleet run (b); 0 skips it")
    parser.add_argument("--fleet-rate", type=float, default=100.0,
                        help="commands per second over the fleet's locations")
    parser.add_argument("--fleet-warmup", type=float, default=5.0)
    parser.add_argument("--fleet-tail", type=float, default=3.0)
    parser.add_argument("--lease-ttl", type=float, default=5.0)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--py-spy", metavar="BIN",
                        help="record the idle adapter with this py-spy binary (raw stacks)")
    parser.add_argument("--profile-dir", type=Path, default=None)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return run_and_report(bench(args), report, lambda result: result, args.json)


if __name__ == "__main__":
    sys.exit(main())
