"""Command throughput and latency: the adapter beside a bare aio-pika echo worker.

    .venv/bin/python -m bench.commands [--seconds N] [--warmup N] [--json out.json]

In one run on the local broker, each in its own process:

(a) ``echo``: a bare aio-pika worker (``bench._echo``) with the adapter's shape of work
    minus the POS and the store: consume (manual ack, prefetch), publish a result with
    publisher confirms, ack;
(b) ``snapshot``: ``pos-adapter run`` (SQLite store in a temporary directory) answering
    TableOrderSnapshotRequested from ``pos-adapter mock-pos``, tables with waiter lines;
(c) ``submission``: the adapter answering OrderSubmissionRequested (one item each,
    distinct submissionIds, spread over every table); skipped with a note when a probe
    submission gets no answer (no handler registered yet).

Each at 1 and at 10 requests in flight: a closed loop in this process keeps exactly N
commands outstanding and measures each from just before its publish to the moment its
result (matched by correlationId) reaches our consumer. A warm-up runs first, and is not
measured. It prints a Markdown table with throughput, p50/p99, and the ratios to echo.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika

from bench._support import (
    SNAPSHOT_REQUESTED,
    SUBMISSION_REQUESTED,
    Child,
    CpuMeter,
    CpuUsage,
    OpenAppSide,
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
    message_count,
    ms,
    percentile,
    run_and_report,
    unique_id,
    wait_until,
)
from pos_drivers.mock import MockPosControl, MockPosControlError

IN_FLIGHT = (1, 10)
SNAPSHOT_TABLES = [f"T{n}" for n in range(1, 11)]
SUBMISSION_TABLES = [f"T{n}" for n in range(1, 21)]
WAITER_LINES = [
    {"productId": "lomo-saltado", "quantity": 1},
    {"productId": "chicha", "quantity": 2},
    {"productId": "causa", "quantity": 1, "notes": "sin ají"},
]
SUBMITTED_ITEM = {"productId": "inca-kola", "quantity": 1, "unitPrice": 700}
REQUEST_TIMEOUT = 10.0
PROBE_TIMEOUT = 5.0

Request = Callable[[int], Awaitable[bool]]
"""Send command number ``i`` and wait for its result; whether the outcome was a success."""


@dataclass(slots=True)
class Cell:
    workload: str
    in_flight: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    cpu: CpuUsage | None = None

    @property
    def completed(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.completed / self.seconds

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 0.50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 0.99)

    def cpu_ms_per_message(self, process: str) -> float:
        if self.cpu is None or process not in self.cpu.seconds or not self.completed:
            return math.nan
        return self.cpu.seconds[process] * 1000 / self.completed

    def cpu_percent(self, process: str) -> float:
        if self.cpu is None or process not in self.cpu.seconds:
            return math.nan
        return self.cpu.share(process) * 100

    def to_json(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "inFlight": self.in_flight,
            "seconds": self.seconds,
            "completed": self.completed,
            "failures": self.failures,
            "throughput": round(self.throughput, 1),
            "p50Ms": ms(self.p50),
            "p99Ms": ms(self.p99),
            "maxMs": ms(max(self.latencies, default=math.nan)),
            "cpuSeconds": self.cpu.seconds if self.cpu else None,
            "machineBusy": round(self.cpu.machine_busy, 3) if self.cpu else None,
        }


async def closed_loop(request: Request, in_flight: int, seconds: float, cell: Cell) -> None:
    """Keep exactly ``in_flight`` requests outstanding for ``seconds``; record in ``cell``
    every request that completes within the window."""
    end = time.perf_counter() + seconds
    numbers = itertools.count()

    async def user() -> None:
        while time.perf_counter() < end:
            started = time.perf_counter()
            try:
                ok = await request(next(numbers))
            except TimeoutError:
                ok = False
            finished = time.perf_counter()
            if finished <= end:
                cell.latencies.append(finished - started)
                cell.failures += not ok

    await asyncio.gather(*(user() for _ in range(in_flight)))


async def measure(
    workload: str,
    request: Request,
    *,
    in_flight: int,
    warmup: float,
    seconds: float,
    meter: CpuMeter,
    profile: Callable[[str, float], Any] | None = None,
) -> Cell:
    print(f"  {workload}, {in_flight} in flight: warm-up {warmup:g} s, measure {seconds:g} s",
          flush=True)
    await closed_loop(request, in_flight, warmup, Cell(workload, in_flight, warmup))
    cell = Cell(workload, in_flight, seconds)
    profiler = profile(f"{workload}-{in_flight}", seconds) if profile else None
    meter.start()
    await closed_loop(request, in_flight, seconds, cell)
    cell.cpu = meter.stop()
    if profiler is not None:
        await profiler
    return cell


# -- the workloads -------------------------------------------------------------------


def snapshot_requests(side: OpenAppSide, location_id: str, sessions: dict[str, str]) -> Request:
    tables = list(sessions)

    async def request(number: int) -> bool:
        table = tables[number % len(tables)]
        payload = {"posTableId": table, "tableSessionId": sessions[table], "reason": "REFRESH"}
        reply = await side.request(location_id, SNAPSHOT_REQUESTED, payload,
                                   timeout=REQUEST_TIMEOUT)
        return reply.payload.get("outcome") == "RESOLVED"

    return request


def submission_payload(table: str, session: str) -> dict[str, Any]:
    return {
        "submissionId": f"bench-sub-{uuid.uuid4().hex}",
        "orderContext": {"type": "TABLE", "posTableId": table, "tableSessionId": session},
        "items": [{"lineId": "oa-line-1", **SUBMITTED_ITEM, "notes": None, "modifiers": []}],
        "payment": None,
    }


def submission_requests(
    side: OpenAppSide, location_id: str, sessions: dict[str, str]
) -> Request:
    tables = list(sessions)

    async def request(number: int) -> bool:
        table = tables[number % len(tables)]
        reply = await side.request(location_id, SUBMISSION_REQUESTED,
                                   submission_payload(table, sessions[table]),
                                   timeout=REQUEST_TIMEOUT)
        return reply.payload.get("outcome") == "ACCEPTED"

    return request


async def open_streams(
    side: OpenAppSide, location_id: str, tables: Sequence[str]
) -> dict[str, str]:
    """One snapshot request per table (a new table session each); the sessions."""
    sessions = {table: str(uuid.uuid4()) for table in tables}
    replies = await asyncio.gather(*(
        side.request(location_id, SNAPSHOT_REQUESTED,
                     {"posTableId": t, "tableSessionId": s, "reason": "SESSION_START"})
        for t, s in sessions.items()
    ))
    refused = [r.payload for r in replies if r.payload.get("outcome") != "RESOLVED"]
    if refused:
        raise RuntimeError(f"snapshot requests refused: {refused[:2]}")
    return sessions


async def fresh_tables(
    control: MockPosControl, side: OpenAppSide, location_id: str, tables: Sequence[str]
) -> dict[str, str]:
    """Close every open check (so submitted lines do not pile up from one cell to the
    next), then open a new stream on each table."""
    for table in tables:
        with contextlib.suppress(MockPosControlError):  # no open check
            await control.close_table(table)
    return await open_streams(side, location_id, tables)


# -- the run ---------------------------------------------------------------------------


def broker_pid() -> int | None:
    """RabbitMQ's Erlang VM, when it runs on this machine (for its CPU share)."""
    for comm in Path("/proc").glob("[0-9]*/comm"):
        with contextlib.suppress(OSError):
            if comm.read_text().strip() == "beam.smp":
                return int(comm.parent.name)
    return None


def py_spy_recorder(
    binary: str | None, out_dir: Path | None, pid: Callable[[], int]
) -> Callable[[str, float], Any] | None:
    """``--py-spy``: record the adapter during each measured adapter cell (raw stacks)."""
    if binary is None:
        return None
    target = out_dir or Path("bench/results")
    target.mkdir(parents=True, exist_ok=True)

    def record(name: str, seconds: float) -> Any:
        out = target / f"py-spy-{name}.txt"
        process = subprocess.Popen(
            [binary, "record", "--pid", str(pid()), "--duration", str(max(1, int(seconds))),
             "--rate", "200", "--format", "raw", "--gil", "--output", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        return asyncio.to_thread(process.wait)

    return record


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    connection = await aio_pika.connect(args.amqp_url)
    cells: list[Cell] = []
    notes: list[str] = []
    beam = broker_pid()
    async with connection, OpenAppSide(connection) as side:
        facts = await machine_facts(connection)
        with tempfile.TemporaryDirectory(prefix="pos-adapter-bench-") as tmp:
            work = Path(tmp)
            print("(a) echo worker", flush=True)
            cells += await run_echo(args, connection, side, work, beam)
            print("(b, c) adapter against the mock POS", flush=True)
            cells += await run_adapter(args, connection, side, work, beam, notes)
    return {"facts": facts, "cells": cells, "notes": notes}


async def run_echo(
    args: argparse.Namespace, connection: aio_pika.abc.AbstractConnection,
    side: OpenAppSide, work: Path, beam: int | None,
) -> list[Cell]:
    location = unique_id("bench-echo")
    queue = f"bench-echo.{location}"
    echo = Child("echo", ["bench._echo", "--amqp-url", args.amqp_url, "--location", location,
                          "--queue", queue, "--prefetch", str(args.prefetch)],
                 env=child_env(), log_dir=work)
    cells = []
    try:
        async with echo:
            await wait_until(lambda: _has_consumer(connection, queue), what="the echo worker",
                             children=[echo])
            await side.listen(location)
            sessions = {table: str(uuid.uuid4()) for table in SNAPSHOT_TABLES}
            meter = CpuMeter(_pids(worker=echo.pid, broker=beam))
            for in_flight in IN_FLIGHT:
                cells.append(await measure(
                    "echo", snapshot_requests(side, location, sessions), in_flight=in_flight,
                    warmup=args.warmup, seconds=args.seconds, meter=meter,
                ))
    finally:
        await delete_queues(connection, [queue])
    return cells


async def run_adapter(
    args: argparse.Namespace, connection: aio_pika.abc.AbstractConnection,
    side: OpenAppSide, work: Path, beam: int | None, notes: list[str],
) -> list[Cell]:
    port = free_port()
    pos_url = f"http://127.0.0.1:{port}"
    location = unique_id("bench-cmd")
    mock = Child("mock-pos", ["adapter.cli", "mock-pos", "--port", str(port)],
                 env=child_env(), log_dir=work)
    adapter = Child(
        "adapter", ["adapter.cli", "run"],
        env=adapter_env(amqp_url=args.amqp_url, location_id=location, pos_url=pos_url,
                        store_dir=work, PREFETCH=str(args.prefetch)),
        log_dir=work,
    )
    cells: list[Cell] = []
    try:
        async with mock, MockPosControl(pos_url) as control:
            await wait_until(lambda: http_ok(f"{pos_url}/health"), what="the mock POS",
                             children=[mock])
            for table in SNAPSHOT_TABLES:
                await control.add_waiter_lines(table, WAITER_LINES)
            await side.listen(location)
            async with adapter:
                await wait_until(lambda: _has_consumer(connection, f"pos-adapter.{location}"),
                                 what="the adapter", children=[adapter])
                meter = CpuMeter(_pids(worker=adapter.pid, pos=mock.pid, broker=beam))
                profile = py_spy_recorder(args.py_spy, args.profile_dir, lambda: adapter.pid)
                sessions = await open_streams(side, location, SNAPSHOT_TABLES)
                for in_flight in IN_FLIGHT:
                    cells.append(await measure(
                        "snapshot", snapshot_requests(side, location, sessions),
                        in_flight=in_flight, warmup=args.warmup, seconds=args.seconds,
                        meter=meter, profile=profile,
                    ))
                    adapter.check_alive()
                cells += await run_submissions(args, connection, side, control, location,
                                               meter, profile, adapter, notes)
    finally:
        await delete_queues(connection, adapter_queues(location))
    return cells


async def run_submissions(
    args: argparse.Namespace, connection: aio_pika.abc.AbstractConnection, side: OpenAppSide,
    control: MockPosControl, location: str, meter: CpuMeter,
    profile: Callable[[str, float], Any] | None, adapter: Child, notes: list[str],
) -> list[Cell]:
    """(c), unless a probe submission gets no answer or is not accepted."""
    skipped = await probe_submission(connection, side, control, location)
    if skipped is not None:
        notes.append(f"submission: skipped, {skipped}")
        print(f"  submission: skipped ({skipped})", flush=True)
        return []
    cells = []
    for in_flight in IN_FLIGHT:
        sessions = await fresh_tables(control, side, location, SUBMISSION_TABLES)
        cells.append(await measure(
            "submission", submission_requests(side, location, sessions),
            in_flight=in_flight, warmup=args.warmup, seconds=args.seconds,
            meter=meter, profile=profile,
        ))
        adapter.check_alive()
    longest = 0
    for table in SUBMISSION_TABLES:
        check = (await control.table(table))["open"]
        longest = max(longest, len(check["lines"]) if check else 0)
    notes.append("submission: every check is closed before each cell; the longest check "
                 f"had {longest} lines at the end of the last cell")
    return cells


async def probe_submission(
    connection: aio_pika.abc.AbstractConnection, side: OpenAppSide,
    control: MockPosControl, location: str,
) -> str | None:
    """None when a submission is accepted; otherwise why (c) is skipped."""
    sessions = await fresh_tables(control, side, location, SUBMISSION_TABLES[:1])
    table, session = next(iter(sessions.items()))
    try:
        reply = await side.request(location, SUBMISSION_REQUESTED,
                                   submission_payload(table, session), timeout=PROBE_TIMEOUT)
    except TimeoutError:
        dead = await message_count(connection, f"pos-adapter.{location}.dead-letter")
        why = (" (the command was dead-lettered: no handler for OrderSubmissionRequested)"
               if dead else "")
        return f"no result for a probe submission within {PROBE_TIMEOUT:g} s{why}"
    outcome = reply.payload.get("outcome")
    if outcome != "ACCEPTED":
        return f"the probe submission was answered {outcome}: {reply.payload.get('rejection')}"
    return None


async def _has_consumer(connection: aio_pika.abc.AbstractConnection, queue: str) -> bool:
    return await consumer_count(connection, queue) >= 1


def _pids(**pids: int | None) -> dict[str, int]:
    return {name: pid for name, pid in pids.items() if pid is not None}


# -- the report -------------------------------------------------------------------------


def report(result: dict[str, Any], args: argparse.Namespace) -> str:
    cells: list[Cell] = result["cells"]
    echo = {cell.in_flight: cell for cell in cells if cell.workload == "echo"}
    rows = []
    for cell in cells:
        base = echo.get(cell.in_flight)
        rows.append([
            cell.workload, cell.in_flight, round(cell.throughput), cell.p50 * 1000,
            cell.p99 * 1000,
            _ratio(cell.throughput, base.throughput if base else math.nan),
            _ratio(cell.p99, base.p99 if base else math.nan),
            cell.cpu_ms_per_message("worker"), cell.cpu_percent("pos"),
            cell.cpu_percent("broker"),
            cell.cpu.machine_busy * 100 if cell.cpu else math.nan,
            cell.completed, cell.failures,
        ])
    table = markdown_table(
        ["workload", "in flight", "msg/s", "p50 ms", "p99 ms", "msg/s ÷ echo", "p99 ÷ echo",
         "worker CPU ms/msg", "mock POS CPU %", "broker CPU %", "machine busy %",
         "measured", "failed"],
        rows,
    )
    lines = [f"`{command_line('bench.commands')}`", "", table, "", "Bar:"]
    lines += _verdicts(cells, echo)
    lines += ["", "Machine:", *facts_lines(result["facts"])]
    lines += [f"- {args.seconds:g} s measured per cell after {args.warmup:g} s of warm-up; "
              f"prefetch {args.prefetch}; SQLite store; quorum command queues"]
    if result["notes"]:
        lines += ["", "Notes:", *(f"- {note}" for note in result["notes"])]
    return "\n".join(lines)


def _ratio(value: float, base: float) -> float:
    return value / base if base and not math.isnan(base) else math.nan


def _verdicts(cells: list[Cell], echo: dict[int, Cell]) -> list[str]:
    lines = []
    for cell in cells:
        if cell.workload == "echo":
            continue
        if cell.in_flight == 1:
            ok = cell.p99 * 1000 <= 20
            lines.append(f"- {cell.workload}, 1 in flight: p99 {cell.p99 * 1000:.1f} ms "
                         f"(bar ≤ 20 ms): {'pass' if ok else 'FAIL'}")
        base = echo.get(cell.in_flight)
        if cell.in_flight == 10 and base is not None:
            ratio = _ratio(cell.throughput, base.throughput)
            lines.append(f"- {cell.workload}, 10 in flight: {ratio:.2f}x echo throughput "
                         f"(bar ≥ 0.6): {'pass' if ratio >= 0.6 else 'FAIL'}")
    return lines or ["- nothing measured"]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.commands", description=__doc__.split("\n", 1)[0]
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="measured per cell")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up per cell")
    parser.add_argument("--prefetch", type=int, default=32, help="both workers' prefetch")
    parser.add_argument("--amqp-url", default=amqp_url_from_env())
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--runs", type=int, default=1,
                        help="whole runs, one after the other; with several, the medians "
                             "over them are reported too")
    parser.add_argument("--py-spy", metavar="BIN",
                        help="record the adapter with this py-spy during its cells "
                             "(a profiled run is not a measurement)")
    parser.add_argument("--profile-dir", type=Path, help="where py-spy writes (bench/results)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs: at least 1")
    if args.py_spy is not None and shutil.which(args.py_spy) is None:
        parser.error(f"--py-spy: {args.py_spy} is not executable")
    return args


async def bench_runs(args: argparse.Namespace) -> list[dict[str, Any]]:
    """``--runs`` whole runs, one after the other (each its own echo and adapter)."""
    runs = []
    for number in range(1, args.runs + 1):
        if args.runs > 1:
            print(f"run {number} of {args.runs}", flush=True)
        runs.append(await bench(args))
    return runs


def report_runs(runs: list[dict[str, Any]], args: argparse.Namespace) -> str:
    """Each run's report; with several, then the medians over the runs of the figures
    that compare the adapter with the echo of its own run."""
    parts = [report(result, args) for result in runs]
    if len(runs) > 1:
        parts.append(summary(runs))
    return "\n\n".join(parts)


def summary(runs: list[dict[str, Any]]) -> str:
    """Per adapter cell, over the runs: the median (and the range) of msg/s ÷ echo, of
    the p99, and of the worker's CPU per message ÷ the echo's in the same run."""
    figures: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
    for result in runs:
        cells: list[Cell] = result["cells"]
        echo = {cell.in_flight: cell for cell in cells if cell.workload == "echo"}
        for cell in cells:
            base = echo.get(cell.in_flight)
            if cell.workload == "echo" or base is None:
                continue
            figures.setdefault((cell.workload, cell.in_flight), []).append((
                _ratio(cell.throughput, base.throughput), cell.p99 * 1000,
                _ratio(cell.cpu_ms_per_message("worker"), base.cpu_ms_per_message("worker")),
            ))
    rows = []
    for (workload, in_flight), values in figures.items():
        ratios, p99s, cpus = (list(column) for column in zip(*values, strict=True))
        rows.append([workload, in_flight, _median_range(ratios, 2), _median_range(p99s, 1),
                     _median_range(cpus, 2)])
    table = markdown_table(
        ["workload", "in flight", "msg/s ÷ echo", "p99 ms", "worker CPU ÷ echo's"], rows)
    return "\n".join([f"Over the {len(runs)} runs: median (lowest to highest)", "", table])


def _median_range(values: list[float], digits: int) -> str:
    return (f"{statistics.median(values):.{digits}f} "
            f"({min(values):.{digits}f} to {max(values):.{digits}f})")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)

    def document(runs: list[dict[str, Any]]) -> dict[str, Any]:
        each = [{"facts": result["facts"], "cells": [cell.to_json() for cell in result["cells"]],
                 "notes": result["notes"]} for result in runs]
        return {"commandLine": command_line("bench.commands"),
                **(each[0] if len(each) == 1 else {"runs": each})}

    return run_and_report(bench_runs(args), lambda runs: report_runs(runs, args), document,
                          args.json)

if __name__ == "__main__":
    sys.exit(main())
