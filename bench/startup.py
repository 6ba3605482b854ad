"""Memory at start: what importing the CLI and an idle worker keep resident.

    .venv/bin/python -m bench.startup [--idle-seconds N] [--runs N] [--imports] [--json out.json]

(a) Import: ``VmRSS`` of a fresh ``python -c "import adapter.commands"`` (the command
    line: what any ``pos-adapter`` command but a bare ``run`` loads), and of a bare
    ``python -c pass`` (the floor).
(b) Idle worker: ``pos-adapter run`` (SQLite store in a temporary directory, mock driver,
    one location, no streams) against ``pos-adapter mock-pos``, each in its own process:
    first on a fresh store (which it migrates), ``VmRSS`` once it consumes its queue;
    then, stopped and started again on that store (now at the newest revision: the usual
    start), ``VmRSS`` once it consumes and after ``--idle-seconds`` of nothing. The
    queues it declared are deleted afterwards.

With ``--imports`` one more worker runs with ``PYTHONPROFILEIMPORTTIME=1``, and the
top-level packages it loaded are listed with their modules' import time (what is loaded
at start and stays).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
from aio_pika.abc import AbstractConnection

from bench._support import (
    Child,
    ChildFailed,
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
    process_memory_kib,
    run_and_report,
    unique_id,
    wait_until,
)

IDLE_RSS_BAR_MIB = 80
PRINT_RSS = (
    "import sys\n"
    "for line in open('/proc/self/status'):\n"
    "    if line.startswith('VmRSS:'): sys.stdout.write(line.split()[1])\n"
)


@dataclass(slots=True)
class StartupRun:
    bare_kib: int = 0
    import_kib: int = 0
    fresh_kib: int = 0
    """A worker that migrated a fresh store, once it consumes."""
    started_kib: int = 0
    """A worker on a store at the newest revision, once it consumes."""
    idle_kib: int = 0
    """The same worker after the idle seconds."""

    def to_json(self) -> dict[str, float]:
        return {"bareMiB": mib(self.bare_kib), "importCommandsMiB": mib(self.import_kib),
                "workerFreshStoreMiB": mib(self.fresh_kib),
                "workerStartedMiB": mib(self.started_kib), "workerIdleMiB": mib(self.idle_kib)}


@dataclass(slots=True)
class Imports:
    """Per top-level package: modules loaded and their summed own import time."""

    modules: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    micros: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def mib(kib: int) -> float:
    return round(kib / 1024, 1)


async def python_rss_kib(code: str) -> int:
    """``VmRSS`` at the end of ``python -c code`` (followed by the RSS print)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", f"{code}\n{PRINT_RSS}", env=child_env(),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise ChildFailed(f"python -c {code!r} exited with {process.returncode}")
    return int(out)


async def idle_worker(
    args: argparse.Namespace, connection: AbstractConnection, pos_url: str, work: Path,
    location: str, extra_env: Mapping[str, str] | None = None, *, idle: bool = False,
) -> tuple[Child, int, int]:
    """Start a worker, stop it, delete its queues; its ``VmRSS`` once it consumed, and
    after the idle seconds (``idle``, else 0)."""
    env = adapter_env(amqp_url=args.amqp_url, location_id=location, pos_url=pos_url,
                      store_dir=work)
    env.update(extra_env or {})
    adapter = Child(f"adapter-{location}", ["adapter.cli", "run"], env=env, log_dir=work)
    try:
        await adapter.start()

        async def consuming() -> bool:
            return await consumer_count(connection, f"pos-adapter.{location}") >= 1

        await wait_until(consuming, what="the adapter", children=[adapter])
        started = process_memory_kib(adapter.pid)["VmRSS"]
        if idle:
            await asyncio.sleep(args.idle_seconds)
            adapter.check_alive()
        after = process_memory_kib(adapter.pid)["VmRSS"] if idle else 0
    finally:
        await adapter.stop()
        await delete_queues(connection, adapter_queues(location))
    return adapter, started, after


def parse_imports(text: str) -> Imports:
    """``-X importtime`` lines (``import time: self | cumulative | name``) by package."""
    imports = Imports()
    for line in text.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, _, name = line[len("import time:"):].split("|")
        package = name.strip().split(".")[0]
        imports.modules[package] += 1
        imports.micros[package] += int(own)
    return imports


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    connection = await aio_pika.connect(args.amqp_url)
    async with connection:
        facts = await machine_facts(connection)
        runs: list[StartupRun] = []
        imports: Imports | None = None
        with tempfile.TemporaryDirectory(prefix="pos-adapter-bench-") as tmp:
            work = Path(tmp)
            port = free_port()
            pos_url = f"http://127.0.0.1:{port}"
            mock = Child("mock-pos", ["adapter.cli", "mock-pos", "--port", str(port)],
                         env=child_env(), log_dir=work)
            async with mock:
                await wait_until(lambda: http_ok(f"{pos_url}/health"), what="the mock POS",
                                 children=[mock])
                for n in range(args.runs):
                    print(f"  run {n + 1}: import, then a worker idle {args.idle_seconds:g} s",
                          flush=True)
                    run_ = StartupRun(await python_rss_kib("pass"),
                                      await python_rss_kib("import adapter.commands"))
                    location = unique_id("bench-startup")
                    _, run_.fresh_kib, _ = await idle_worker(
                        args, connection, pos_url, work, location)
                    _, run_.started_kib, run_.idle_kib = await idle_worker(
                        args, connection, pos_url, work, location, idle=True)
                    runs.append(run_)
                if args.imports:
                    print("  a worker with PYTHONPROFILEIMPORTTIME=1", flush=True)
                    location = unique_id("bench-startup")
                    await idle_worker(args, connection, pos_url, work, location)
                    profiled, _, _ = await idle_worker(args, connection, pos_url, work, location,
                                                       {"PYTHONPROFILEIMPORTTIME": "1"})
                    imports = parse_imports(profiled.log_path.read_text(errors="replace"))
    return {"facts": facts, "runs": runs, "imports": imports}


def report(result: dict[str, Any], args: argparse.Namespace) -> str:
    runs: list[StartupRun] = result["runs"]
    lines = [f"`{command_line('bench.startup')}`", ""]
    keys = ("bare_kib", "import_kib", "fresh_kib", "started_kib", "idle_kib")
    rows: list[Sequence[object]] = [
        (n + 1, *(mib(getattr(r, key)) for key in keys)) for n, r in enumerate(runs)]
    if len(runs) > 1:
        rows.append(("median", *(
            mib(int(statistics.median(getattr(r, key) for r in runs))) for key in keys)))
    lines.append(markdown_table(
        ["run", "bare python MiB", "import adapter.commands MiB", "worker, fresh store MiB",
         "worker started MiB", f"worker idle {args.idle_seconds:g} s MiB"], rows))
    idle = statistics.median(r.idle_kib for r in runs) / 1024
    lines += ["", f"- bar: an idle worker ≤ {IDLE_RSS_BAR_MIB} MiB resident: "
              + ("pass" if idle <= IDLE_RSS_BAR_MIB else "FAIL"), ""]
    imports: Imports | None = result["imports"]
    if imports is not None:
        ranked = sorted(imports.micros, key=lambda p: -imports.micros[p])
        lines += ["Packages a worker (store at the newest revision) loaded by the time it "
                  "consumed (own import time):", ""]
        lines.append(markdown_table(
            ["package", "modules", "import ms"],
            [(p, imports.modules[p], imports.micros[p] / 1000) for p in ranked[:args.top]]))
        lines += [f"- {len(ranked)} top-level packages in all", ""]
    lines += ["Machine:", *facts_lines(result["facts"])]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.startup", description=__doc__.split("\n", 1)[0]
    )
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--imports", action="store_true",
                        help="also list the packages a worker loads (one more worker)")
    parser.add_argument("--top", type=int, default=30, help="packages listed by --imports")
    parser.add_argument("--amqp-url", default=amqp_url_from_env())
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)

    def document(result: dict[str, Any]) -> dict[str, Any]:
        imports: Imports | None = result["imports"]
        return {
            "commandLine": command_line("bench.startup"),
            "facts": result["facts"],
            "runs": [r.to_json() for r in result["runs"]],
            "imports": None if imports is None else {
                p: {"modules": imports.modules[p], "ms": imports.micros[p] / 1000}
                for p in imports.micros},
        }

    return run_and_report(bench(args), lambda result: report(result, args), document,
                          args.json)

if __name__ == "__main__":
    sys.exit(main())
