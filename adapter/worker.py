"""The worker's life: start every part, run until told to stop, stop gracefully.

Start: configure logging, migrate the store, open the POS driver, connect to the broker
(robust: it reconnects by itself), take the location's lease (``adapter.lease``: a
standby waits here), declare the topology, then start the outbox relay, the watcher and
the consumer. Stop (SIGTERM/SIGINT): stop consuming, let in-flight
commands finish within the grace period, stop the watcher, flush the outbox, close.

Every background part (the outbox relay, the watcher's loops, pruning, the health
reports, the watchdog, the lease) runs under one policy (``adapter.supervisor``): a
part that fails is restarted with back-off; one that cannot go on stops the worker
through the graceful shutdown.

Operations: the worker serves its Prometheus metrics (``adapter.metrics``) on
``metrics_host:metrics_port`` (port 0: off), sends PosHealthReported every
``health_interval`` (``adapter.health_report``), and its consumer watchdog
(``adapter.watchdog``) registers a lost consumer again. ``run()`` returns the exit code:
0 after a requested stop, ``EXIT_CONFIGURATION`` (2) when the POS refuses the driver's
configuration for good (``StartRefused`` from its ``open()``), ``EXIT_CONSUMER_LOST``
(3) when the consumer could not be registered again, ``EXIT_LEASE_LOST`` (4) when the
lease could not be renewed in time,
``EXIT_TASK_FAILED`` (5) when a background part could not go on (the worker stops
gracefully first, so that a supervisor restarts a fresh process).
"""

from __future__ import annotations

import asyncio
import signal
from datetime import timedelta

import structlog
from aio_pika.abc import AbstractRobustConnection

from adapter.amqp import CommandConsumer, OutboxRelay, connect_broker, declare_topology
from adapter.control import ControlServer
from adapter.drivers import ConfiguredDriver, configured_driver
from adapter.health_report import HealthReporter
from adapter.instrumented import MeteredDriver, sample_backlog
from adapter.lease import LocationLease
from adapter.metrics import Metrics, MetricsServer
from adapter.settings import QueueType, Settings, SubmissionPolicy
from adapter.store import SqlStore, insert_for, is_sqlite, now
from adapter.supervisor import Supervisor
from adapter.watchdog import ConsumerWatchdog
from handlers import (
    Dispatcher,
    HandlerContext,
    SnapshotHandler,
    TableLocks,
)
from handlers.submission import SubmissionHandler
from handlers.watcher import Watcher
from pos_drivers import PosDriver, StartRefused
from schemas import MessageType

log = structlog.get_logger("pos_adapter.worker")

PRUNE_INTERVAL = 3600.0
EXIT_CONFIGURATION = 2
EXIT_CONSUMER_LOST = 3
EXIT_LEASE_LOST = 4
EXIT_TASK_FAILED = 5


class Worker:
    """One adapter process serving one location."""

    def __init__(self, settings: Settings, driver: ConfiguredDriver | None = None) -> None:
        """``driver``: the driver and its settings (default: as ``settings`` and the
        environment say). Raises SettingsError when the driver or its settings are wrong."""
        self.settings = settings
        self.driver = driver or configured_driver(settings)
        self.stop_requested = asyncio.Event()
        self.started = asyncio.Event()
        self.stopped = asyncio.Event()
        """Set when ``run()`` is over (``exit_code`` then says how it ended)."""
        self.store: SqlStore | None = None
        self.watcher: Watcher | None = None
        self.relay: OutboxRelay | None = None
        self.consumer: CommandConsumer | None = None
        self.watchdog: ConsumerWatchdog | None = None
        self.metrics = Metrics(settings.location_id, settings.driver)
        self.metrics_server = MetricsServer(self.metrics.registry)
        self.supervisor = Supervisor(on_fatal=self._task_failed, metrics=self.metrics)
        self.exit_code = 0
        self.lease: LocationLease | None = None
        self._watchdog_task: asyncio.Task[None] | None = None

    def request_stop(self) -> None:
        self.stop_requested.set()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)

    async def run(self) -> int:
        settings = self.settings
        structlog.contextvars.bind_contextvars(locationId=settings.location_id)
        store = self.store = SqlStore(settings.store_url)
        await store.start()
        if store.committer_task is not None:
            self.supervisor.watch("store-committer", store.committer_task)
        driver = MeteredDriver(self.driver.build(settings), self.metrics)
        connection: AbstractRobustConnection | None = None
        if settings.metrics_port:
            self.metrics_server.start(settings.metrics_host, settings.metrics_port)
        try:
            try:
                await driver.open()
            except StartRefused as exc:
                log.error("the POS refuses this driver's configuration: not starting",
                          driver=settings.driver, error=exc.message)
                self.exit_code = EXIT_CONFIGURATION
                return self.exit_code
            connection = await connect_broker(
                settings.amqp_url, f"pos-adapter {settings.location_id}", self.stop_requested
            )
            if connection is None:
                log.info("stopped before the broker answered")
                return 0
            if not await self._take_lease(store):
                log.info("stopped while standing by")
                return 0
            await self._start(connection, store, driver)
            if self.lease is not None:
                lease = self.lease
                self.supervisor.spawn("lease", lambda: self._keep_lease(lease))
            log.info("pos-adapter started", driver=settings.driver,
                     queue=settings.command_queue, queue_type=settings.queue_type.value)
            self.started.set()
            await self.stop_requested.wait()
            await self._shutdown()
        finally:
            await self.supervisor.stop()
            if connection is not None:
                await connection.close()
            await driver.aclose()
            if self.lease is not None and not self.lease.lost.is_set():
                await self.lease.release()
            await store.close()
            await self.metrics_server.stop()
            self.stopped.set()
        log.info("pos-adapter stopped", exit_code=self.exit_code)
        return self.exit_code

    async def _start(
        self, connection: AbstractRobustConnection, store: SqlStore, driver: PosDriver
    ) -> None:
        settings = self.settings
        consume_channel = await connection.channel()
        await consume_channel.set_qos(prefetch_count=settings.prefetch)
        topology = await declare_topology(consume_channel, settings)
        publish_channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        dead_letter_channel = await connection.channel(
            publisher_confirms=True, on_return_raises=True
        )
        dead_letter = await dead_letter_channel.get_exchange(settings.dead_letter_exchange)
        self.relay = OutboxRelay(
            store, publish_channel, settings.events_exchange, metrics=self.metrics
        )
        ctx = HandlerContext(
            location_id=settings.location_id,
            store=store,
            driver=driver,
            locks=TableLocks(),
            pos_deadline=settings.pos_deadline,
            stream_max_age=settings.stream_max_age,
        )
        self.watcher = Watcher(
            ctx,
            poll_interval=settings.poll_interval,
            mode=settings.change_mode,
            expiry_check_interval=min(60.0, settings.stream_max_age / 4),
        )
        ctx.listener = watcher = self.watcher
        self.metrics.watch_streams(lambda: len(watcher.watched))
        dispatcher = Dispatcher(
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
        self.consumer = CommandConsumer(
            topology.command_queue, dead_letter, settings.location_id, dispatcher,
            metrics=self.metrics, counted_by_queue=settings.queue_type is QueueType.QUORUM,
        )
        spawn = self.supervisor.spawn
        spawn("outbox-relay", self.relay.run)
        await watcher.recover()
        for name, loop in watcher.loops():
            spawn(name, loop)
        spawn("pruner", lambda: self._prune_loop(store))
        await self.consumer.start()
        await ControlServer(consume_channel, settings.location_id, watcher).start()
        self._start_operations(connection, store, ctx, self.consumer, watcher)

    def _start_operations(
        self,
        connection: AbstractRobustConnection,
        store: SqlStore,
        ctx: HandlerContext,
        consumer: CommandConsumer,
        watcher: Watcher,
    ) -> None:
        """The watchdog, the health reports and the backlog sampling, once consuming."""
        settings = self.settings
        watchdog = self.watchdog = ConsumerWatchdog(
            consumer, connection, interval=settings.watchdog_interval,
            metrics=self.metrics, on_lost=self._consumer_lost,
        )
        watchdog.record(True)
        reporter = HealthReporter(
            ctx, interval=settings.health_interval, ping_timeout=settings.pos_deadline,
            consumer_up=lambda: watchdog.consumer_up,
            active_streams=lambda: len(watcher.watched),
        )
        spawn = self.supervisor.spawn
        self._watchdog_task = spawn("watchdog", watchdog.run)
        spawn("health-report", reporter.run)
        spawn("backlog-sampler",
              lambda: sample_backlog(store, self.metrics, settings.watchdog_interval))

    async def _take_lease(self, store: SqlStore) -> bool:
        """Wait for the location's lease; False if told to stop first.

        A SQLite store belongs to one process: there is nobody to share the location with,
        and a lease left by a killed predecessor would only delay the restart.
        """
        settings = self.settings
        if is_sqlite(settings.store_url):
            return True
        lease = self.lease = LocationLease(
            store.run_in_transaction, insert_for(settings.store_url), settings.location_id,
            ttl=settings.lease_ttl, clock=now,
        )
        if not await lease.acquire(self.stop_requested):
            return False
        if lease.waited:
            await store.reload()  # another adapter served the location meanwhile
        return True

    async def _keep_lease(self, lease: LocationLease) -> None:
        await lease.keep()
        self.exit_code = EXIT_LEASE_LOST
        self.request_stop()

    def _consumer_lost(self) -> None:
        self.exit_code = EXIT_CONSUMER_LOST
        self.request_stop()

    def _task_failed(self, name: str, _error: BaseException) -> None:
        self.exit_code = EXIT_TASK_FAILED
        log.error("stopping: a background part cannot go on", task=name)
        self.request_stop()

    async def _shutdown(self) -> None:
        grace = self.settings.shutdown_grace
        log.info("stopping: no new commands, finishing in-flight work", grace_s=grace)
        if self._watchdog_task is not None:
            # A consumer stopped on purpose is not one to register again.
            self._watchdog_task.cancel()
        if self.consumer is not None:
            await self.consumer.stop(grace)
        if self.relay is not None and not await self.relay.flush(grace):
            log.warning("outbox not flushed within the grace period; it goes out on restart")

    async def _prune_loop(self, store: SqlStore) -> None:
        while True:
            await store.prune(now() - timedelta(seconds=self.settings.retention))
            await asyncio.sleep(PRUNE_INTERVAL)
