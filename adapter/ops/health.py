"""``pos-adapter health``: is the adapter of this configuration doing its job right now?

The checks, run side by side, each within ``--timeout`` seconds:

- broker: an AMQP connection to ``POS_ADAPTER_AMQP_URL`` opens;
- consumer: the running worker's consumer is registered on the command queue (below);
- store: the store answers a write (a transaction that deletes nothing, rolled back; on
  SQLite it takes the write lock, with a short busy timeout); the store is not kept open
  and a missing SQLite file is not created;
- outbox backlog: unsent outbox rows of the location, at most ``--max-backlog``;
- POS: the driver's ``ping()``.

How the consumer is seen: a separate process cannot see it from AMQP alone (on a quorum
queue with single active consumer the declare's consumer count is 1 whoever consumes, a
standby included). So the worker publishes what its consumer watchdog found on its
metrics endpoint: ``pos_adapter_consumer_up{location=...}``, with the time of the last
check, and this command reads it over HTTP. The finding counts only for this location
and only while the last check is recent (a hung worker keeps serving its last values).
With the metrics endpoint off (``POS_ADAPTER_METRICS_PORT=0``) it falls back to the
queue's consumer count from a passive declare, and says so: any consumer counts then.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Coroutine
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import aio_pika
import httpx
import typer
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from adapter.amqp import broker_urls, connect_failure, connect_once
from adapter.commandline import LocationOption, driver_or_exit, run_async, settings_or_exit
from adapter.drivers import configured_driver
from adapter.logging import configure_logging
from adapter.metrics import CONSUMER_UP, LAST_CHECK
from adapter.settings import LogLevel, Settings
from adapter.store import create_async_engine
from pos_drivers import PosError

SQLITE_BUSY_TIMEOUT = 2.0
UNSENT_OF_LOCATION = text(
    "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND location_id = :location"
)
# A write that changes nothing: enough for the database to take its write lock and to
# refuse if the store is read-only.
WRITE_PROBE = text("DELETE FROM outbox WHERE id < 0")


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class HealthReport:
    location_id: str
    checks: tuple[Check, ...]

    @property
    def healthy(self) -> bool:
        return all(check.ok for check in self.checks)

    def as_json(self) -> dict[str, Any]:
        return {"healthy": self.healthy, "locationId": self.location_id,
                "checks": [asdict(check) for check in self.checks]}


async def check_health(
    settings: Settings, *, max_backlog: int = 1000, timeout: float = 5.0
) -> HealthReport:
    """Run every check; never raises for a failed check."""
    broker, consumer, (store, backlog), pos = await asyncio.gather(
        _guarded("broker", check_broker(settings, timeout), timeout),
        _guarded("consumer", check_consumer(settings, timeout), timeout),
        check_store(settings, max_backlog, timeout),
        _guarded("POS", check_pos(settings, timeout), timeout),
    )
    return HealthReport(settings.location_id, (broker, consumer, store, backlog, pos))


async def _guarded(name: str, check: Coroutine[Any, Any, Check], timeout: float) -> Check:
    """A check that hangs or raises is a failed check, with the reason."""
    try:
        async with asyncio.timeout(timeout):
            return await check
    except TimeoutError:
        return Check(name, False, f"no answer within {timeout:g} s")
    except Exception as exc:
        return Check(name, False, _describe(exc))


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _broker_address(settings: Settings) -> str:
    """host:port/vhost of the broker URL, never its credentials."""
    url = urlsplit(settings.amqp_url)
    port = url.port or (5671 if url.scheme == "amqps" else 5672)
    return f"{url.hostname}:{port}{url.path or '/'}"


async def check_broker(settings: Settings, timeout: float) -> Check:
    try:
        connection = await connect_once(settings.amqp_url, timeout=timeout)
    except (ConnectionError, OSError, aio_pika.exceptions.AMQPError) as exc:
        what, detail = connect_failure(exc, broker_urls(settings.amqp_url)[-1])
        return Check("broker", False, f"{what}: {detail}")
    await connection.close()
    return Check("broker", True, f"connected to {_broker_address(settings)}")


async def check_consumer(settings: Settings, timeout: float) -> Check:
    if settings.metrics_port:
        return await consumer_from_metrics(settings, timeout)
    return await consumer_from_queue(settings, timeout)


def _metrics_url(settings: Settings) -> str:
    host = settings.metrics_host
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.metrics_port}/metrics"


async def consumer_from_metrics(settings: Settings, timeout: float) -> Check:
    url = _metrics_url(settings)
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.get(url)
            response.raise_for_status()
    except httpx.HTTPError as exc:
        return Check("consumer", False,
                     f"metrics endpoint {url} unreachable ({_describe(exc)}): is the worker "
                     "running?")
    up, checked_at, locations = _consumer_state(response.text, settings.location_id)
    if up is None:
        served = ", ".join(sorted(locations)) or "none"
        return Check("consumer", False,
                     f"{url} does not report location {settings.location_id!r} "
                     f"(it reports: {served})")
    age = time.time() - checked_at if checked_at else None
    limit = 3 * settings.watchdog_interval + 5
    if age is None or age > limit:
        seen = "never" if age is None else f"{age:.0f} s ago"
        return Check("consumer", False,
                     f"the worker's watchdog last checked {seen} (limit {limit:g} s): hung?")
    if up < 1:
        return Check("consumer", False,
                     "the worker reports its consumer is not registered on the command "
                     "queue (reconnecting, or lost)")
    return Check("consumer", True,
                 f"registered on {settings.command_queue} (watchdog, {age:.0f} s ago)")


def _consumer_state(
    exposition: str, location_id: str
) -> tuple[float | None, float | None, set[str]]:
    """(consumer_up for the location, last check time, every location reported)."""
    up: float | None = None
    checked_at: float | None = None
    locations: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == CONSUMER_UP:
                location = sample.labels.get("location", "")
                locations.add(location)
                if location == location_id:
                    up = sample.value
            elif sample.name == LAST_CHECK:
                checked_at = sample.value or None
    return up, checked_at, locations


async def consumer_from_queue(settings: Settings, timeout: float) -> Check:
    connection = await connect_once(settings.amqp_url, timeout=timeout)
    async with connection:
        channel = await connection.channel()
        try:
            queue = await channel.declare_queue(settings.command_queue, passive=True)
        except aio_pika.exceptions.ChannelClosed as exc:
            return Check("consumer", False,
                         f"{settings.command_queue} cannot be seen ({_describe(exc)})")
        count = queue.declaration_result.consumer_count or 0
    note = ("metrics endpoint off (POS_ADAPTER_METRICS_PORT=0): from the queue's consumer "
            "count, which any consumer satisfies")
    if count < 1:
        return Check("consumer", False, f"{settings.command_queue} has no consumer; {note}")
    return Check("consumer", True, f"{settings.command_queue} has {count} consumer(s); {note}")


async def check_store(
    settings: Settings, max_backlog: int, timeout: float
) -> tuple[Check, Check]:
    """(store writable, outbox backlog): one short connection for both."""
    try:
        async with asyncio.timeout(timeout):
            backlog = await _probe_store(settings, timeout)
    except TimeoutError:
        failure = f"no answer within {timeout:g} s"
    except Exception as exc:
        failure = _describe(exc)
    else:
        store = Check("store", True, "writable (a write transaction, rolled back)")
        if backlog > max_backlog:
            return store, Check("outbox backlog", False,
                                f"{backlog} unsent messages (limit {max_backlog})")
        return store, Check("outbox backlog", True,
                            f"{backlog} unsent messages (limit {max_backlog})")
    return Check("store", False, failure), Check("outbox backlog", False, "store not readable")


async def _probe_store(settings: Settings, timeout: float) -> int:
    """Take the write lock, count the location's unsent rows, roll back, close."""
    engine = create_async_engine(
        settings.store_url, poolclass=NullPool, connect_args=_connect_args(settings, timeout)
    )
    try:
        async with engine.connect() as conn:
            transaction = await conn.begin()
            try:
                await conn.execute(WRITE_PROBE)
                result = await conn.execute(UNSENT_OF_LOCATION,
                                            {"location": settings.location_id})
                return int(result.scalar_one())
            finally:
                await transaction.rollback()
    finally:
        await engine.dispose()


def _connect_args(settings: Settings, timeout: float) -> dict[str, Any]:
    """Short waits; and no SQLite file created where the worker has none."""
    url = make_url(settings.store_url)
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:") or not Path(database).is_file():
            raise FileNotFoundError(f"no SQLite store at {database or '(memory)'!r}")
        # The worker's write transactions are short: waiting longer means trouble.
        return {"timeout": min(timeout, SQLITE_BUSY_TIMEOUT)}
    if url.get_driver_name() == "asyncpg":
        return {"timeout": timeout, "command_timeout": timeout}
    return {}


async def check_pos(settings: Settings, timeout: float) -> Check:
    driver = configured_driver(settings).build(settings)
    try:
        await driver.open()
        reachable = await driver.ping()
    except PosError as exc:
        return Check("POS", False, f"the {settings.driver} POS at {settings.pos_url}: "
                                   f"{exc.message}")
    finally:
        await driver.aclose()
    if not reachable:
        return Check("POS", False, f"the {settings.driver} POS at {settings.pos_url} "
                                   "does not answer")
    return Check("POS", True, f"the {settings.driver} POS at {settings.pos_url} answers")


def render(report: HealthReport, console: Console) -> None:
    verdict = "[green]healthy[/]" if report.healthy else "[red]UNHEALTHY[/]"
    table = Table(title=f"pos-adapter {report.location_id}: {verdict}")
    table.add_column("check")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    for check in report.checks:
        status = "[green]ok[/]" if check.ok else "[red]FAIL[/]"
        table.add_row(check.name, status, check.detail)
    console.print(table)


def health(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    max_backlog: Annotated[
        int, typer.Option(metavar="N",
                          help="Most unsent outbox messages still considered healthy.")
    ] = 1000,
    timeout: Annotated[float, typer.Option(metavar="SECONDS",
                                           help="Seconds each check may take.")] = 5.0,
    location: LocationOption = None,
) -> None:
    """Check the broker, our consumer, the store, the outbox backlog and the POS
    (configuration from the same POS_ADAPTER_* variables as run). Exit code 0 when all
    hold, 1 otherwise.

    Our consumer is read from the running worker's metrics endpoint
    (pos_adapter_consumer_up, kept by its watchdog): the queue's consumer count cannot
    tell our consumer from a standby's. With POS_ADAPTER_METRICS_PORT=0, the queue's
    consumer count is used instead, and the output says so.
    """
    settings = settings_or_exit(location)
    driver_or_exit(settings)
    configure_logging(LogLevel.ERROR, settings.log_format)
    report = run_async(check_health(settings, max_backlog=max_backlog, timeout=timeout))
    if as_json:
        typer.echo(json.dumps(report.as_json(), indent=2))
    else:
        render(report, Console())
    raise typer.Exit(0 if report.healthy else 1)
