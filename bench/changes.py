"""POS changes: how fast one reaches RabbitMQ, and what idle streams cost.

    .venv/bin/python -m bench.changes [--seconds N] [--idle-seconds N] [--json out.json]

(a) Change latency, for ``POS_ADAPTER_CHANGE_MODE=push`` and ``=poll``: the adapter
    (``pos-adapter run``) and the mock POS (``pos-adapter mock-pos``) in their own
    processes; streams opened on some tables (one snapshot request each, one waiter line
    on each); then, at a steady average pace (gaps jittered ±50 %, so that the changes
    cannot lock onto the poll's phase), a line's quantity is changed through the mock's
    control API, on a table with no change still in flight (so two changes never fold
    into one). Latency is from the control call returning to the
    TableOrderSnapshotChanged reaching our consumer. The broker confirms a message before
    it delivers it, so this is an upper bound of the time to the publisher confirm.
(b) Idle cost, in poll mode: the mock POS runs in this process with 2,000 tables (one
    open check and one line each), behind a middleware that counts the POS API calls;
    2,000 streams are opened, then nothing changes for ``--idle-seconds``: POS calls per
    poll interval, the adapter's CPU share (``/proc/<pid>/stat``) and its resident
    memory (``VmRSS``, and the peak ``VmHWM``, from ``/proc/<pid>/status``).
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import itertools
import math
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
from aio_pika.abc import AbstractConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from bench._support import (
    SNAPSHOT_CHANGED,
    SNAPSHOT_REQUESTED,
    Child,
    CpuMeter,
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
from pos_drivers.mock import MockPosControl, MockPosServer, MockPosState

LATENCY_TABLES = [f"T{n}" for n in range(1, 21)]
CHANGE_TIMEOUT = 10.0
LATENCY_BUDGET = 0.250
"""The bar: p99 ≤ 250 ms for push, ≤ poll interval + 250 ms for poll."""
IDLE_RSS_BAR_MIB = 150


# -- (a) change latency ------------------------------------------------------------------


@dataclass(slots=True)
class ChangeWatch:
    """Matches each TableOrderSnapshotChanged to the change we are waiting for on its
    table, and checks every stream's sequence (starts at 1, no gaps, no repeats)."""

    waiting: dict[str, asyncio.Future[Reply]] = field(default_factory=dict)
    last_sequence: dict[str, int] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    anomalies: list[str] = field(default_factory=list)
    unexpected: int = 0

    def expect(self, table: str) -> asyncio.Future[Reply]:
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self.waiting[table] = future
        return future

    def on_message(self, reply: Reply) -> None:
        if reply.body.get("messageType") != SNAPSHOT_CHANGED:
            return
        message_id = str(reply.body.get("messageId"))
        if message_id in self.seen:
            return  # published again: consumers de-duplicate by messageId
        self.seen.add(message_id)
        payload = reply.payload
        stream, sequence = str(payload.get("streamId")), int(payload.get("sequence", -1))
        expected = self.last_sequence.get(stream, 0) + 1
        if sequence != expected:
            self.anomalies.append(f"stream {stream}: sequence {sequence}, expected {expected}")
        self.last_sequence[stream] = sequence
        if payload.get("changeType") != "LINE_QUANTITY_CHANGED":
            self.anomalies.append(f"unexpected changeType {payload.get('changeType')}")
        future = self.waiting.pop(str(payload.get("posTableId")), None)
        if future is None or future.done():
            self.unexpected += 1
        else:
            future.set_result(reply)


@dataclass(slots=True)
class LatencyRun:
    mode: str
    poll_interval: float
    rate: float
    seconds: float
    latencies: list[float] = field(default_factory=list)
    lost: int = 0
    skipped_ticks: int = 0
    early: int = 0
    """Changes received before the control call had returned (counted as 0 ms)."""
    anomalies: list[str] = field(default_factory=list)

    @property
    def goal(self) -> float:
        return LATENCY_BUDGET + (self.poll_interval if self.mode == "poll" else 0.0)

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 0.50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 0.99)

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode, "pollInterval": self.poll_interval, "rate": self.rate,
            "seconds": self.seconds, "changes": len(self.latencies), "lost": self.lost,
            "skippedTicks": self.skipped_ticks, "early": self.early,
            "p50Ms": ms(self.p50), "p99Ms": ms(self.p99),
            "maxMs": ms(max(self.latencies, default=math.nan)),
            "goalMs": ms(self.goal), "anomalies": self.anomalies[:20],
        }


class ChangeMaker:
    """Changes a waiter line's quantity on one table at a time, at a steady average pace."""

    def __init__(
        self, control: MockPosControl, watch: ChangeWatch, lines: dict[str, str],
        quantity: dict[str, int],
    ) -> None:
        """``lines``: table -> the line to change; ``quantity``: table -> its quantity now
        (shared by the runs, so that every PATCH really changes the line)."""
        self.control = control
        self.watch = watch
        self.lines = lines
        self.quantity = quantity
        self.busy: set[str] = set()
        self._tables = itertools.cycle(list(lines))

    async def run(self, result: LatencyRun, seconds: float, *, record: bool) -> None:
        period = 1.0 / result.rate
        end = time.perf_counter() + seconds
        tick = time.perf_counter()
        waits: set[asyncio.Task[None]] = set()
        while tick < end:
            table = self._free_table()
            if table is None:
                if record:
                    result.skipped_ticks += 1
            else:
                waits.add(asyncio.create_task(self._change(table, result, record=record)))
            # Jitter the gaps (±50 %) so that the changes cannot lock onto the poll's phase.
            tick += period * random.uniform(0.5, 1.5)
            await asyncio.sleep(max(0.0, tick - time.perf_counter()))
        await asyncio.gather(*waits)

    def _free_table(self) -> str | None:
        for _ in range(len(self.lines)):
            table = next(self._tables)
            if table not in self.busy:
                return table
        return None

    async def _change(self, table: str, result: LatencyRun, *, record: bool) -> None:
        self.busy.add(table)
        try:
            self.quantity[table] = 1 + self.quantity[table] % 9
            arrived = self.watch.expect(table)
            await self.control.patch_line(self.lines[table], quantity=self.quantity[table])
            changed = time.perf_counter()
            try:
                reply = await asyncio.wait_for(arrived, CHANGE_TIMEOUT)
            except TimeoutError:
                self.watch.waiting.pop(table, None)
                if record:
                    result.lost += 1
                return
            if record:
                if reply.received < changed:
                    result.early += 1
                result.latencies.append(max(0.0, reply.received - changed))
        finally:
            self.busy.discard(table)


async def open_streams(
    side: OpenAppSide, location_id: str, tables: Sequence[str], *, in_flight: int = 32
) -> None:
    """One snapshot request per table, ``in_flight`` at a time; all must resolve."""
    queue = list(tables)
    refused: list[Any] = []

    async def user() -> None:
        while queue:
            table = queue.pop()
            payload = {"posTableId": table, "tableSessionId": str(uuid.uuid4()),
                       "reason": "SESSION_START"}
            reply = await side.request(location_id, SNAPSHOT_REQUESTED, payload, timeout=30)
            if reply.payload.get("outcome") != "RESOLVED":
                refused.append(reply.payload.get("rejection"))

    await asyncio.gather(*(user() for _ in range(in_flight)))
    if refused:
        raise RuntimeError(f"{len(refused)} snapshot requests refused, e.g. {refused[0]}")


async def start_adapter(
    adapter: Child, connection: AbstractConnection, location_id: str
) -> None:
    await adapter.start()

    async def consuming() -> bool:
        return await consumer_count(connection, f"pos-adapter.{location_id}") >= 1

    await wait_until(consuming, what="the adapter", children=[adapter])


async def measure_latency(
    args: argparse.Namespace, connection: AbstractConnection, side: OpenAppSide,
    control: MockPosControl, pos_url: str, maker_of: Callable[[ChangeWatch], ChangeMaker],
    work: Path, mode: str, poll_interval: float,
) -> LatencyRun:
    location = unique_id(f"bench-{mode}")
    adapter = Child(
        f"adapter-{mode}", ["adapter.cli", "run"],
        env=adapter_env(amqp_url=args.amqp_url, location_id=location, pos_url=pos_url,
                        store_dir=work, CHANGE_MODE=mode, POLL_INTERVAL=str(poll_interval)),
        log_dir=work,
    )
    watch = ChangeWatch()
    side.on_other = watch.on_message
    result = LatencyRun(mode, poll_interval, args.rate, args.seconds)
    try:
        await side.listen(location)
        await start_adapter(adapter, connection, location)
        maker = maker_of(watch)
        await open_streams(side, location, list(maker.lines))
        print(f"  {mode} (poll interval {poll_interval:g} s): warm-up {args.warmup:g} s, "
              f"measure {args.seconds:g} s at {args.rate:g} changes/s", flush=True)
        await maker.run(result, args.warmup, record=False)
        await maker.run(result, args.seconds, record=True)
        adapter.check_alive()
    finally:
        side.on_other = None
        await adapter.stop()
        await delete_queues(connection, adapter_queues(location))
    result.anomalies = watch.anomalies
    return result


async def run_latency(
    args: argparse.Namespace, connection: AbstractConnection, side: OpenAppSide, work: Path
) -> list[LatencyRun]:
    port = free_port()
    pos_url = f"http://127.0.0.1:{port}"
    mock = Child("mock-pos", ["adapter.cli", "mock-pos", "--port", str(port)],
                 env=child_env(), log_dir=work)
    async with mock, MockPosControl(pos_url) as control:
        await wait_until(lambda: http_ok(f"{pos_url}/health"), what="the mock POS",
                         children=[mock])
        lines = {}
        for table in LATENCY_TABLES:
            order = await control.add_waiter_lines(table, [{"productId": "causa", "quantity": 1}])
            lines[table] = str(order["lines"][-1]["lineId"])
        quantity = dict.fromkeys(lines, 1)

        def maker_of(watch: ChangeWatch) -> ChangeMaker:
            return ChangeMaker(control, watch, lines, quantity)

        return [
            await measure_latency(args, connection, side, control, pos_url, maker_of, work,
                                  "push", args.push_poll_interval),
            await measure_latency(args, connection, side, control, pos_url, maker_of, work,
                                  "poll", args.poll_interval),
        ]


# -- (b) idle cost ------------------------------------------------------------------------


class CountPosCalls:
    """ASGI middleware: counts the requests the mock POS serves, by kind of call."""

    def __init__(self, app: ASGIApp, counts: Counter[str]) -> None:
        self.app = app
        self.counts = counts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.counts[call_kind(scope["path"])] += 1
        await self.app(scope, receive, send)


def call_kind(path: str) -> str:
    if path.startswith("/_control") or path == "/health":
        return "control"
    if path.startswith("/tables/"):
        return "GET /tables/{id}/order" if path.endswith("/order") else "/tables/{id}/order/lines"
    return path  # /orders/changes, /events, /tables, /products


def pos_calls(counts: Counter[str]) -> int:
    return sum(n for kind, n in counts.items() if kind != "control")


def mock_state(tables: int) -> MockPosState:
    """A mock POS state with ``tables`` tables (T1..Tn).

    The mock seeds ``TABLE_COUNT`` (20) tables and, at the time of writing, takes no table
    count: until it does (a ``table_count`` argument is used when present), the module
    constant is raised while the state seeds itself. A ``reset`` would seed 20 again, so
    the benchmark never resets this state.
    """
    if "table_count" in inspect.signature(MockPosState).parameters:
        state = MockPosState(table_count=tables)  # type: ignore[call-arg]
    else:
        from pos_drivers.mock import _state

        seeded = _state.TABLE_COUNT
        _state.TABLE_COUNT = tables  # type: ignore[misc]
        try:
            state = MockPosState()
        finally:
            _state.TABLE_COUNT = seeded  # type: ignore[misc]
    if len(state.tables()) != tables:
        raise RuntimeError(f"could not seed {tables} tables in the mock POS")
    return state


@dataclass(slots=True)
class IdleRun:
    streams: int
    poll_interval: float
    seconds: float = 0.0
    calls: Counter[str] = field(default_factory=Counter)
    cpu_share: float = math.nan
    rss_before_kib: int = 0
    rss_kib: int = 0
    peak_kib: int = 0
    open_seconds: float = 0.0

    @property
    def calls_per_interval(self) -> float:
        intervals = self.seconds / self.poll_interval
        return pos_calls(self.calls) / intervals if intervals else math.nan

    def to_json(self) -> dict[str, Any]:
        return {
            "streams": self.streams, "pollInterval": self.poll_interval,
            "seconds": round(self.seconds, 2), "posCalls": dict(self.calls),
            "posCallsPerInterval": round(self.calls_per_interval, 3),
            "cpuShare": round(self.cpu_share, 4),
            "rssMiBBeforeStreams": round(self.rss_before_kib / 1024, 1),
            "rssMiB": round(self.rss_kib / 1024, 1), "peakRssMiB": round(self.peak_kib / 1024, 1),
            "secondsToOpenStreams": round(self.open_seconds, 1),
        }


async def seed_checks(control: MockPosControl, tables: Sequence[str]) -> None:
    queue = list(tables)

    async def user() -> None:
        while queue:
            await control.add_waiter_lines(queue.pop(), [{"productId": "chicha", "quantity": 1}])

    await asyncio.gather(*(user() for _ in range(16)))


async def run_idle(
    args: argparse.Namespace, connection: AbstractConnection, side: OpenAppSide, work: Path
) -> IdleRun:
    result = IdleRun(args.streams, args.idle_poll_interval)
    counts: Counter[str] = Counter()
    server = MockPosServer(state=mock_state(args.streams))
    server.app.add_middleware(CountPosCalls, counts=counts)
    location = unique_id("bench-idle")
    tables = [f"T{n}" for n in range(1, args.streams + 1)]
    async with server, MockPosControl(server.url) as control:
        print(f"  seeding {args.streams} open checks", flush=True)
        await seed_checks(control, tables)
        adapter = Child(
            "adapter-idle", ["adapter.cli", "run"],
            env=adapter_env(amqp_url=args.amqp_url, location_id=location, pos_url=server.url,
                            store_dir=work, CHANGE_MODE="poll",
                            POLL_INTERVAL=str(args.idle_poll_interval)),
            log_dir=work,
        )
        try:
            await side.listen(location)
            await start_adapter(adapter, connection, location)
            result.rss_before_kib = process_memory_kib(adapter.pid)["VmRSS"]
            print(f"  opening {args.streams} streams", flush=True)
            started = time.perf_counter()
            await open_streams(side, location, tables)
            result.open_seconds = time.perf_counter() - started
            await asyncio.sleep(2 * args.idle_poll_interval)  # let the last reads settle
            print(f"  idle for {args.idle_seconds:g} s", flush=True)
            before = counts.copy()
            meter = CpuMeter({"adapter": adapter.pid})
            meter.start()
            await asyncio.sleep(args.idle_seconds)
            usage = meter.stop()
            result.calls = counts - before
            result.seconds = usage.wall
            result.cpu_share = usage.share("adapter")
            memory = process_memory_kib(adapter.pid)
            result.rss_kib, result.peak_kib = memory["VmRSS"], memory["VmHWM"]
            adapter.check_alive()
        finally:
            await adapter.stop()
            await delete_queues(connection, adapter_queues(location))
    return result


# -- the run and the report ------------------------------------------------------------


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    connection = await aio_pika.connect(args.amqp_url)
    async with connection, OpenAppSide(connection) as side:
        facts = await machine_facts(connection)
        with tempfile.TemporaryDirectory(prefix="pos-adapter-bench-") as tmp:
            work = Path(tmp)
            latency: list[LatencyRun] = []
            if not args.skip_latency:
                print("(a) change latency", flush=True)
                latency = await run_latency(args, connection, side, work)
            idle = None
            if not args.skip_idle:
                print("(b) idle streams", flush=True)
                idle = await run_idle(args, connection, side, work)
    return {"facts": facts, "latency": latency, "idle": idle}


def report(result: dict[str, Any], args: argparse.Namespace) -> str:
    lines = [f"`{command_line('bench.changes')}`", ""]
    latency: list[LatencyRun] = result["latency"]
    if latency:
        lines += ["Change latency (control call returned -> TableOrderSnapshotChanged received):",
                  ""]
        lines.append(markdown_table(
            ["mode", "poll interval s", "changes", "p50 ms", "p99 ms", "max ms", "goal p99 ms",
             "verdict", "lost"],
            [[r.mode, r.poll_interval, len(r.latencies), r.p50 * 1000, r.p99 * 1000,
              max(r.latencies, default=math.nan) * 1000, r.goal * 1000,
              "pass" if r.p99 <= r.goal and not r.lost else "FAIL", r.lost]
             for r in latency],
        ))
        for r in latency:
            if r.anomalies or r.skipped_ticks or r.early:
                lines.append(f"- {r.mode}: {len(r.anomalies)} sequence/type anomalies "
                             f"{r.anomalies[:3]}, {r.skipped_ticks} ticks skipped (every table "
                             f"busy), {r.early} changes arrived before the control call returned")
        lines.append("")
    idle: IdleRun | None = result["idle"]
    if idle is not None:
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(idle.calls.items())) or "none"
        lines += [f"Idle streams, poll mode ({idle.seconds:.0f} s, nothing changing):", ""]
        lines.append(markdown_table(
            ["streams", "poll interval s", "POS calls", "POS calls / interval",
             "adapter CPU % of a core", "RSS MiB before streams", "RSS MiB", "peak RSS MiB",
             "verdict"],
            [[idle.streams, idle.poll_interval, pos_calls(idle.calls),
              idle.calls_per_interval, idle.cpu_share * 100, idle.rss_before_kib / 1024,
              idle.rss_kib / 1024, idle.peak_kib / 1024,
              "pass" if idle.calls_per_interval <= 1.05 and idle.rss_kib / 1024 < IDLE_RSS_BAR_MIB
              else "FAIL"]],
        ))
        lines += [f"- POS calls by kind: {kinds}",
                  f"- opening the {idle.streams} streams took {idle.open_seconds:.1f} s",
                  f"- bar: one POS call per interval, RSS under {IDLE_RSS_BAR_MIB} MiB", ""]
    lines += ["Machine:", *facts_lines(result["facts"])]
    lines += ["- receipt by our consumer comes after the broker's publisher confirm: the "
              "latencies are upper bounds of the time to the confirm"]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.changes", description=__doc__.split("\n", 1)[0]
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="measured per mode")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up per mode")
    parser.add_argument("--rate", type=float, default=20.0, help="POS changes per second")
    parser.add_argument("--poll-interval", type=float, default=0.5, help="for mode poll")
    parser.add_argument("--push-poll-interval", type=float, default=2.0,
                        help="mode push: the backup batch poll's interval")
    parser.add_argument("--streams", type=int, default=2000, help="idle streams")
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--idle-poll-interval", type=float, default=1.0)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-idle", action="store_true")
    parser.add_argument("--amqp-url", default=amqp_url_from_env())
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)

    def document(result: dict[str, Any]) -> dict[str, Any]:
        idle: IdleRun | None = result["idle"]
        return {
            "commandLine": command_line("bench.changes"),
            "facts": result["facts"],
            "latency": [r.to_json() for r in result["latency"]],
            "idle": idle.to_json() if idle else None,
        }

    return run_and_report(bench(args), lambda result: report(result, args), document,
                          args.json)

if __name__ == "__main__":
    sys.exit(main())
