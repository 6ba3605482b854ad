"""One location served by this process: its driver, handlers, watcher, consumer, reports.

A process may serve many locations (``adapter.locations``); each served one is a
:class:`LocationService`, started when the process takes the location (at start, or
when another process hands it over) and stopped when it gives it up. Everything of a
location is its own: the driver, the handlers' context and table locks, the watcher
with its loops, the command queue's channel, consumer and watchdog, the control queue,
the health reports. So a slow or dead POS of one location never holds up another's
commands. The store, the broker connection, the outbox relay and the supervision policy
belong to the process and are shared.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection

from adapter import tracing
from adapter.amqp import CommandConsumer, OutboxRelay, declare_topology
from adapter.control import ControlServer
from adapter.health_report import HealthReporter
from adapter.instrumented import meter
from adapter.locations import Location
from adapter.metrics import Metrics
from adapter.settings import QueueType, SubmissionPolicy
from adapter.store import SqlStore
from adapter.supervisor import Supervisor, TaskFactory
from adapter.watchdog import ConsumerWatchdog
from handlers import Dispatcher, HandlerContext, SnapshotHandler, TableLocks
from handlers.submission import SubmissionHandler
from handlers.watcher import Watcher
from pos_drivers import PosDriver
from schemas import MessageType

log = structlog.get_logger("pos_adapter.location")


@dataclass(frozen=True, slots=True)
class Shared:
    """What the locations of a process share."""

    store: SqlStore
    connection: AbstractRobustConnection
    relay: OutboxRelay
    dead_letter: AbstractExchange
    control: ControlServer
    metrics: Metrics
    supervisor: Supervisor


class LocationService:
    def __init__(
        self, location: Location, shared: Shared, *, on_consumer_lost: Callable[[], None]
    ) -> None:
        self.location = location
        self.settings = location.settings
        self._store = shared.store
        self._connection = shared.connection
        self._relay = shared.relay
        self._dead_letter = shared.dead_letter
        self._control = shared.control
        self._all_metrics = shared.metrics
        self.metrics = shared.metrics.location(location.id, location.settings.driver)
        self._supervisor = shared.supervisor
        self._on_consumer_lost = on_consumer_lost
        self.driver: PosDriver = meter(location.driver.build(location.settings), self.metrics)
        self._channel: AbstractChannel | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.ctx: HandlerContext | None = None
        self.watcher: Watcher | None = None
        self.consumer: CommandConsumer | None = None
        self.watchdog: ConsumerWatchdog | None = None
        self._watchdog: asyncio.Task[None] | None = None

    @property
    def id(self) -> str:
        return self.location.id

    async def start(self) -> None:
        """Serve the location: its driver opened (StartRefused propagates), its streams
        loaded, its loops, consumer and reports running."""
        with structlog.contextvars.bound_contextvars(locationId=self.id):
            with tracing.untraced_calls():
                await self.driver.open()
            await self._store.load_location(self.id)
            self._relay.serve(self.id)
            await self._start_handling()
            log.info("serving location", driver=self.settings.driver,
                     queue=self.settings.command_queue)

    async def _start_handling(self) -> None:
        settings = self.settings
        channel = self._channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=settings.prefetch)
        topology = await declare_topology(channel, settings)
        ctx = self.ctx = HandlerContext(
            location_id=self.id, store=self._store, driver=self.driver, locks=TableLocks(),
            pos_deadline=settings.pos_deadline, stream_max_age=settings.stream_max_age,
        )
        watcher = self.watcher = Watcher(
            ctx, poll_interval=settings.poll_interval, mode=settings.change_mode,
            expiry_check_interval=min(60.0, settings.stream_max_age / 4),
        )
        ctx.listener = watcher
        self.metrics.watch_streams(lambda: len(watcher.watched))
        await watcher.recover()
        for name, loop in watcher.loops():
            self._spawn(name, loop)
        self.consumer = CommandConsumer(
            topology.command_queue, self._dead_letter, self.id, self._dispatcher(ctx),
            metrics=self.metrics, counted_by_queue=settings.queue_type is QueueType.QUORUM,
            location_id=self.id,
        )
        await self.consumer.start()
        await self._control.serve(self.id, watcher.sync_table)
        self._start_reports(ctx, self.consumer, watcher)

    def _dispatcher(self, ctx: HandlerContext) -> Dispatcher:
        settings = self.settings
        return Dispatcher(
            ctx,
            {
                MessageType.TABLE_ORDER_SNAPSHOT_REQUESTED: SnapshotHandler(ctx),
                MessageType.ORDER_SUBMISSION_REQUESTED: SubmissionHandler(
                    ctx,
                    atomic=settings.submission_policy is SubmissionPolicy.ATOMIC,
                    product_cache_ttl=settings.product_cache_ttl,
                ),
            },
            max_bytes=settings.max_message_bytes,
            count_redeliveries=settings.queue_type is QueueType.CLASSIC,
            max_redeliveries=settings.max_redeliveries,
        )

    def _start_reports(
        self, ctx: HandlerContext, consumer: CommandConsumer, watcher: Watcher
    ) -> None:
        """The consumer's watchdog and the health reports, once consuming."""
        settings = self.settings
        watchdog = self.watchdog = ConsumerWatchdog(
            consumer, self._connection, interval=settings.watchdog_interval,
            metrics=self.metrics, on_lost=self._on_consumer_lost,
        )
        watchdog.record(True)
        reporter = HealthReporter(
            ctx, interval=settings.health_interval, ping_timeout=settings.pos_deadline,
            consumer_up=lambda: watchdog.consumer_up,
            active_streams=lambda: len(watcher.watched),
            last_pos_answer=lambda: self.metrics.last_pos_answer,
        )
        self._watchdog = self._spawn("watchdog", watchdog.run)
        self._spawn("health-report", reporter.run)

    def _spawn(self, name: str, factory: TaskFactory) -> asyncio.Task[None]:
        """Run a background loop of the location: not a command's work, so not traced."""
        task = self._supervisor.spawn(f"{name}:{self.id}", tracing.untraced(factory))
        self._tasks.append(task)
        return task

    async def stop(self, grace: float) -> None:
        """Stop serving: no new commands, in-flight ones finished within ``grace``
        (``0``: at once, the lease is gone), the loops stopped, what the relay was
        publishing for the location settled, the driver closed."""
        with structlog.contextvars.bound_contextvars(locationId=self.id):
            if self._watchdog is not None:
                self._watchdog.cancel()  # a consumer stopped on purpose is not lost
            with contextlib.suppress(Exception):
                await self._control.unserve(self.id)
            if self.consumer is not None:
                await self.consumer.stop(grace)
            tasks, self._tasks = self._tasks, []
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if not await self._relay.unserve(self.id, grace):
                log.warning("messages of the location still in flight; the next holder "
                            "publishes them again")
            if self._channel is not None:
                with contextlib.suppress(Exception):
                    await self._channel.close()
            await self.driver.aclose()
            self._store.forget_location(self.id)
            self._all_metrics.forget(self.id)
            log.info("location no longer served here")
