"""What both benchmarks share: child processes, the broker side of OpenApp, statistics,
process accounting from ``/proc``, machine facts and Markdown tables.

Everything here is loopback-only and cleans up after itself: children are terminated
(SIGTERM, then SIGKILL), and the queues a benchmark made are deleted by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import platform
import signal
import socket
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self, TypeVar

import aio_pika
import httpx
from aio_pika import DeliveryMode, ExchangeType, Message
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
)

from adapter.run import run_async
from adapter.testing import command

T = TypeVar("T")

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
COMMANDS_EXCHANGE = "openapp.commands"
EVENTS_EXCHANGE = "openapp.events"
SNAPSHOT_REQUESTED = "TableOrderSnapshotRequested"
SUBMISSION_REQUESTED = "OrderSubmissionRequested"
SNAPSHOT_CHANGED = "TableOrderSnapshotChanged"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
ROOT = Path(__file__).resolve().parent.parent


def amqp_url_from_env() -> str:
    return os.environ.get("POS_ADAPTER_AMQP_URL", DEFAULT_AMQP_URL)


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop, as ``pos-adapter run`` does, so the load generator is not the
    slowest process on the machine."""
    return run_async(main)


def run_and_report(
    main: Coroutine[Any, Any, T],
    report: Callable[[T], str],
    document: Callable[[T], Mapping[str, Any]],
    json_path: Path | None,
) -> int:
    """A benchmark's run: its report printed, its ``document`` written as JSON when
    asked; the exit code (1 when a child process failed, said on stderr)."""
    try:
        result = run(main)
    except ChildFailed as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    print()
    print(report(result))
    write_json(json_path, document(result))
    return 0


def unique_id(prefix: str) -> str:
    """A location id no other run (or other person's test) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- statistics ------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..1) of ``values``; NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


# -- /proc accounting -------------------------------------------------------------------


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far (fields 14 and 15 of /proc/<pid>/stat)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLOCK_TICKS


def process_memory_kib(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` (peak resident) of ``pid``, in KiB."""
    memory: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            memory[key] = int(value.split()[0])
    return memory


def machine_cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of all cores together, from the first line of /proc/stat."""
    values = [float(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    return total - idle, total


@dataclass(slots=True)
class CpuMeter:
    """CPU used by some processes, and by the whole machine, between start and stop."""

    pids: Mapping[str, int]
    _process: dict[str, float] = field(default_factory=dict)
    _machine: tuple[float, float] = (0.0, 0.0)
    _started: float = 0.0

    def start(self) -> None:
        self._process = {name: process_cpu_seconds(pid) for name, pid in self.pids.items()}
        self._machine = machine_cpu_times()
        self._started = time.perf_counter()

    def stop(self) -> CpuUsage:
        wall = time.perf_counter() - self._started
        used = {
            name: process_cpu_seconds(pid) - self._process[name] for name, pid in self.pids.items()
        }
        busy, total = machine_cpu_times()
        machine = (busy - self._machine[0]) / max(total - self._machine[1], 1.0)
        return CpuUsage(wall, used, machine)


@dataclass(frozen=True, slots=True)
class CpuUsage:
    wall: float
    seconds: dict[str, float]
    """CPU seconds per measured process."""
    machine_busy: float
    """Share (0..1) of all the machine's cores that was busy."""

    def share(self, name: str) -> float:
        """CPU seconds per wall second: 1.0 is one core fully used."""
        return self.seconds[name] / self.wall if self.wall else math.nan


# -- child processes ---------------------------------------------------------------------


class ChildFailed(Exception):
    pass


class Child:
    """``python -m <module> ...`` in a child process, output kept in a log file."""

    def __init__(
        self, name: str, args: Sequence[str], *, env: Mapping[str, str], log_dir: Path
    ) -> None:
        self.name = name
        self.args = list(args)
        self.env = dict(env)
        self.log_path = log_dir / f"{name}.log"
        self.process: asyncio.subprocess.Process | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def start(self) -> None:
        self._log = self.log_path.open("wb")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", *self.args,
            env=self.env, cwd=ROOT, stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log, stderr=asyncio.subprocess.STDOUT,
        )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def check_alive(self) -> None:
        if self.process is not None and self.process.returncode is not None:
            raise ChildFailed(
                f"{self.name} exited with {self.process.returncode}; its output ends with:\n"
                + self.log_tail()
            )

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:]) or "(no output)"

    async def stop(self, timeout: float = 20.0) -> None:
        process = self.process
        if process is not None and process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout)
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


def child_env(**settings: str) -> dict[str, str]:
    """The environment for a child: ours without any ``POS_ADAPTER_*``, plus ``settings``
    (keys without the prefix, e.g. ``LOCATION_ID``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POS_ADAPTER_")}
    env.update({f"POS_ADAPTER_{key}": value for key, value in settings.items()})
    env["PYTHONUNBUFFERED"] = "1"
    return env


def adapter_env(
    *, amqp_url: str, location_id: str, pos_url: str, store_dir: Path, **settings: str
) -> dict[str, str]:
    """``pos-adapter run`` settings for a benchmark: SQLite in ``store_dir``, quiet logs,
    no OpenApp inbox queue (the benchmark binds its own queue to the events exchange)."""
    return child_env(
        AMQP_URL=amqp_url,
        LOCATION_ID=location_id,
        DRIVER="mock",
        POS_URL=pos_url,
        STORE_URL=f"sqlite+aiosqlite:///{store_dir / (location_id + '.db')}",
        LOG_LEVEL="warning",
        INBOX_QUEUE="false",
        **settings,
    )


async def wait_until(
    check: Callable[[], Awaitable[bool]],
    *,
    what: str,
    children: Iterable[Child] = (),
    timeout: float = 30.0,
) -> None:
    """Re-check every 50 ms until ``check`` holds; a child that died fails at once."""
    deadline = time.monotonic() + timeout
    while True:
        for child in children:
            child.check_alive()
        if await check():
            return
        if time.monotonic() > deadline:
            raise ChildFailed(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.05)


async def http_ok(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=1.0) as client:
            return (await client.get(url)).is_success
    except httpx.HTTPError:
        return False


async def consumer_count(connection: AbstractConnection, queue_name: str) -> int:
    """Consumers of ``queue_name`` (0 when it does not exist yet)."""
    channel = await connection.channel()
    try:
        queue = await channel.declare_queue(queue_name, passive=True)
        return int(queue.declaration_result.consumer_count or 0)
    except aio_pika.exceptions.AMQPError:
        return 0
    finally:
        with contextlib.suppress(Exception):
            await channel.close()


async def message_count(connection: AbstractConnection, queue_name: str) -> int:
    channel = await connection.channel()
    try:
        queue = await channel.declare_queue(queue_name, passive=True)
        return int(queue.declaration_result.message_count or 0)
    except aio_pika.exceptions.AMQPError:
        return 0
    finally:
        with contextlib.suppress(Exception):
            await channel.close()


async def delete_queues(connection: AbstractConnection, names: Iterable[str]) -> None:
    """Delete queues by name (stop whoever consumes them first: a robust channel would
    declare them again)."""
    for name in names:
        channel = await connection.channel()
        with contextlib.suppress(Exception):
            await channel.queue_delete(name)
        with contextlib.suppress(Exception):
            await channel.close()


def adapter_queues(location_id: str) -> list[str]:
    return [f"pos-adapter.{location_id}", f"pos-adapter.{location_id}.dead-letter",
            f"openapp.inbox.{location_id}"]


# -- OpenApp's side of the broker ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    """A message published by the worker, with the moment it reached us."""

    received: float
    """``time.perf_counter()`` when the delivery reached our callback."""
    body: dict[str, Any]

    @property
    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = self.body.get("payload") or {}
        return payload


OnOther = Callable[[Reply], None]


class OpenAppSide:
    """Publishes commands (publisher confirms on) and receives what the workers publish.

    Unlike ``adapter.testing.OpenAppClient`` (made for tests; it keeps every message and
    scans them), results are matched to waiting futures by correlationId in O(1), so the
    load generator stays cheap. Messages nobody waits for go to ``on_other``.
    """

    def __init__(self, connection: AbstractConnection) -> None:
        self._connection = connection
        self._waiting: dict[str, asyncio.Future[Reply]] = {}
        self._bound: set[str] = set()
        self._publish: AbstractChannel | None = None
        self._consume: AbstractChannel | None = None
        self._commands: AbstractExchange | None = None
        self._events: AbstractExchange | None = None
        self._queue: aio_pika.abc.AbstractQueue | None = None
        self.on_other: OnOther | None = None
        self.unmatched = 0

    async def __aenter__(self) -> Self:
        self._publish = await self._connection.channel(publisher_confirms=True)
        self._commands = await self._publish.declare_exchange(
            COMMANDS_EXCHANGE, ExchangeType.TOPIC, durable=True
        )
        self._consume = await self._connection.channel()
        self._events = await self._consume.declare_exchange(
            EVENTS_EXCHANGE, ExchangeType.TOPIC, durable=True
        )
        self._queue = await self._consume.declare_queue(exclusive=True, auto_delete=True)
        await self._queue.consume(self._on_message, no_ack=True)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for channel in (self._consume, self._publish):
            if channel is not None:
                with contextlib.suppress(Exception):
                    await channel.close()  # the exclusive queue goes with it

    async def listen(self, location_id: str) -> None:
        """Receive what is published for ``location_id`` (before sending it anything)."""
        assert self._queue is not None
        assert self._events is not None
        if location_id not in self._bound:
            await self._queue.bind(self._events, routing_key=f"{location_id}.#")
            self._bound.add(location_id)

    def expect(self, message_id: str) -> asyncio.Future[Reply]:
        """A future for the result of ``message_id``; call it before sending."""
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._waiting[message_id] = future
        return future

    def forget(self, message_id: str) -> None:
        self._waiting.pop(message_id, None)

    async def send(
        self, location_id: str, message_type: str, payload: dict[str, Any],
        *, message_id: str | None = None,
    ) -> str:
        """Publish a command (waits for the broker's confirm); its messageId."""
        assert self._commands is not None
        body = command(message_type, payload, location_id=location_id, message_id=message_id)
        await self._commands.publish(
            Message(
                json.dumps(body).encode(),
                content_type="application/json",
                delivery_mode=DeliveryMode.PERSISTENT,
                message_id=body["messageId"],
                type=message_type,
            ),
            routing_key=f"{location_id}.{message_type}",
        )
        return str(body["messageId"])

    async def request(
        self, location_id: str, message_type: str, payload: dict[str, Any],
        *, timeout: float = 10.0,
    ) -> Reply:
        """Send a command and wait for its result."""
        message_id = str(uuid.uuid4())
        future = self.expect(message_id)
        try:
            await self.send(location_id, message_type, payload, message_id=message_id)
            return await asyncio.wait_for(future, timeout)
        finally:
            self.forget(message_id)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        received = time.perf_counter()
        future = self._waiting.pop(message.correlation_id or "", None)
        if future is not None and not future.done():
            future.set_result(Reply(received, json.loads(message.body)))
        elif self.on_other is not None:
            self.on_other(Reply(received, json.loads(message.body)))
        else:
            self.unmatched += 1


# -- machine facts and output ------------------------------------------------------------


async def machine_facts(connection: AbstractConnection | None) -> dict[str, str]:
    """The machine, and the broker's version when ``connection`` is one to it."""
    facts = {
        "cores": str(os.cpu_count()),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "aio-pika": version("aio-pika"),
        "uvloop": _version_or("uvloop", "absent"),
        "load average at start": _load_average(),
    }
    if connection is None:
        return facts
    with contextlib.suppress(Exception):
        underlay = connection.transport.connection  # type: ignore[union-attr]
        props = underlay.server_properties
        product, release, runtime = (_text(props[key]) for key in ("product", "version",
                                                                    "platform"))
        facts["rabbitmq"] = f"{product} {release} ({runtime})"
    return facts


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _version_or(package: str, default: str) -> str:
    try:
        return version(package)
    except Exception:
        return default


def _load_average() -> str:
    """Other work on the machine skews a run; the 1, 5 and 15 minute load averages."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def command_line(module: str) -> str:
    """How this run was started, as one would type it from the repository root."""
    return " ".join([".venv/bin/python", "-m", module, *sys.argv[1:]])


def facts_lines(facts: Mapping[str, str]) -> list[str]:
    return [f"- {key}: {value}" for key, value in facts.items()]


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    def cell(value: object) -> str:
        if isinstance(value, float):
            if math.isnan(value):
                return "n/a"
            return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
        return str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_json(path: Path | None, report: Mapping[str, Any]) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"\nwrote {path}")
