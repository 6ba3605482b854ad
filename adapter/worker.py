"""The worker process: the locations it serves, and what they share.

A process serves one or many locations (``adapter.locations``: the environment's one, or
those of a locations file). What they share belongs to the process: the store with its
group commit, the broker connection (robust, several cluster nodes), the outbox relay,
the metrics endpoint, pruning and the backlog sampling. Each served location is an
``adapter.location.LocationService`` with its own driver, handlers, watcher, consumer,
watchdog and health reports.

Which locations a process serves: with SQLite, all of them (a SQLite store belongs to one
process). With a shared PostgreSQL store, those the fleet gives it (``adapter.fleet``):
the processes sharing the store spread the locations between them, a standby takes a
location over when its holder dies, and a process joining gets its share handed over.

Start: set tracing up when the environment asks for it (``adapter.tracing``), migrate the
store, connect to the broker, start the relay, then the locations.
Stop (SIGTERM/SIGINT): every location stops consuming and finishes its in-flight commands
within the grace period, the outbox is flushed, leases are released, the process exits.

Every background part runs under one policy (``adapter.supervisor``): a part that fails
is restarted with back-off; one that cannot go on stops the worker through the graceful
shutdown. ``run()`` returns the exit code: 0 after a requested stop,
``EXIT_CONFIGURATION`` (2) when the POS refuses a location's driver configuration for
good (``StartRefused`` from its ``open()``, a single location's process only: in a
fleet the location is left to the others), ``EXIT_CONSUMER_LOST`` (3) when a consumer
could not be registered again, ``EXIT_TASK_FAILED`` (5) when a background part could not
go on.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Sequence
from datetime import timedelta

import structlog
from aio_pika import ExchangeType
from aio_pika.abc import AbstractRobustConnection

from adapter import tracing
from adapter.amqp import OutboxRelay, connect_broker
from adapter.control import ControlServer
from adapter.drivers import ConfiguredDriver
from adapter.fleet import Fleet
from adapter.instrumented import sample_backlog
from adapter.location import LocationService, Shared
from adapter.locations import Location, load_locations
from adapter.metrics import Metrics, MetricsServer
from adapter.settings import Settings
from adapter.store import SqlStore, insert_for, is_sqlite
from adapter.supervisor import Supervisor
from adapter.watchdog import ConsumerWatchdog
from handlers.watcher import Watcher
from pos_drivers import StartRefused
from schemas import utc_now

log = structlog.get_logger("pos_adapter.worker")

PRUNE_INTERVAL = 3600.0
STARTING_AT_ONCE = 8
"""Locations started together: a burst of queue declarations is hard on a broker."""
EXIT_CONFIGURATION = 2
EXIT_CONSUMER_LOST = 3
EXIT_TASK_FAILED = 5


class Worker:
    """One adapter process, serving the locations given or configured."""

    def __init__(
        self,
        settings: Settings,
        driver: ConfiguredDriver | None = None,
        *,
        locations: Sequence[Location] | None = None,
    ) -> None:
        """``locations``: default, the configured ones (``driver``: the one location's
        driver, instead of the environment's). Raises SettingsError when the locations,
        a driver or its settings are wrong."""
        self.settings = settings
        if locations is None:
            locations = ([Location(settings, driver)] if driver is not None
                         else load_locations(settings))
        self.locations = {location.id: location for location in locations}
        self.stop_requested = asyncio.Event()
        self.started = asyncio.Event()
        self.stopped = asyncio.Event()
        """Set when ``run()`` is over (``exit_code`` then says how it ended)."""
        self.metrics = Metrics()
        self.metrics_server = MetricsServer(self.metrics.registry)
        self.supervisor = Supervisor(on_fatal=self._task_failed, metrics=self.metrics)
        self.serving: dict[str, LocationService] = {}
        self.store: SqlStore | None = None
        self.relay: OutboxRelay | None = None
        self.fleet: Fleet | None = None
        self.exit_code = 0
        self._connection: AbstractRobustConnection | None = None
        self._shared: Shared | None = None
        self._starting = asyncio.Semaphore(STARTING_AT_ONCE)

    # -- the one location, for a process that serves one --------------------------------

    @property
    def only(self) -> LocationService:
        [service] = self.serving.values()
        return service

    @property
    def watcher(self) -> Watcher | None:
        return self.only.watcher

    @property
    def consumer(self) -> object:
        return self.only.consumer

    @property
    def watchdog(self) -> ConsumerWatchdog | None:
        return self.only.watchdog

    # -- life ----------------------------------------------------------------------------

    def request_stop(self) -> None:
        self.stop_requested.set()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)

    async def run(self) -> int:
        settings = self.settings
        tracing.setup_from_environment()
        store = self.store = SqlStore(settings.store_url, migrate_apart=True)
        await store.start()
        if store.committer_task is not None:
            self.supervisor.watch("store-committer", store.committer_task)
        if settings.metrics_port:
            self.metrics_server.start(settings.metrics_host, settings.metrics_port)
        try:
            name = f"pos-adapter {','.join(self.locations)}"[:200]
            connection = self._connection = await connect_broker(
                settings.amqp_url, name, self.stop_requested
            )
            if connection is None:
                log.info("stopped before the broker answered")
                return 0
            await self._start_shared(connection, store)
            if not await self._start_locations(store):
                return self.exit_code
            log.info("pos-adapter started", locations=len(self.locations),
                     serving=len(self.serving), driver=settings.driver)
            self.started.set()
            await self.stop_requested.wait()
            await self._shutdown()
        finally:
            await self._stop_everything(store)
        log.info("pos-adapter stopped", exit_code=self.exit_code)
        return self.exit_code

    async def _start_shared(self, connection: AbstractRobustConnection, store: SqlStore) -> None:
        settings = self.settings
        publish = await connection.channel(publisher_confirms=True, on_return_raises=True)
        dead_letters = await connection.channel(publisher_confirms=True, on_return_raises=True)
        dead_letter = await dead_letters.declare_exchange(
            settings.dead_letter_exchange, ExchangeType.DIRECT, durable=True
        )
        relay = self.relay = OutboxRelay(
            store, publish, settings.events_exchange, metrics=self.metrics, locations=()
        )
        control = ControlServer(await connection.channel())
        await control.start()
        self._shared = Shared(store, connection, relay, dead_letter, control, self.metrics,
                              self.supervisor)
        spawn = self.supervisor.spawn
        spawn("outbox-relay", relay.run)
        spawn("pruner", lambda: self._prune_loop(store))
        spawn("backlog-sampler",
              lambda: sample_backlog(store, self.metrics, settings.watchdog_interval))

    async def _start_locations(self, store: SqlStore) -> bool:
        """Serve every location (SQLite), or join the fleet (PostgreSQL); False when the
        one location could not start."""
        if is_sqlite(self.settings.store_url):
            started = await asyncio.gather(*(self._take(location) for location in self.locations))
            if len(self.locations) == 1 and not all(started):
                self.exit_code = EXIT_CONFIGURATION
                return False
            return True
        fleet = self.fleet = Fleet(
            store.run_in_transaction, insert_for(self.settings.store_url), list(self.locations),
            ttl=self.settings.lease_ttl, take=self._take, give=self._give, drop=self._drop,
        )
        await fleet.round()
        self.supervisor.spawn("fleet", fleet.run)
        return True

    async def _take(self, location_id: str) -> bool:
        """Start serving ``location_id``; False when its driver cannot start."""
        assert self._shared is not None, "the shared parts start first"
        service = LocationService(self.locations[location_id], self._shared,
                                  on_consumer_lost=self._consumer_lost)
        try:
            async with self._starting:
                await service.start()
        except StartRefused as exc:
            log.error("the POS refuses this driver's configuration: not serving the location",
                      locationId=location_id, driver=service.settings.driver, error=exc.message)
            await service.stop(0)
            return False
        self.serving[location_id] = service
        return True

    async def _give(self, location_id: str) -> None:
        """Stop serving gracefully (a stop, or the location handed over)."""
        service = self.serving.pop(location_id, None)
        if service is not None:
            await service.stop(self.settings.shutdown_grace)

    async def _drop(self, location_id: str) -> None:
        """Stop serving at once: the lease is gone."""
        self.metrics.leases_lost.labels(location_id).inc()
        service = self.serving.pop(location_id, None)
        if service is not None:
            await service.stop(0)

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
        if self.fleet is not None:
            await self.supervisor.cancel("fleet")
            await self.fleet.leave(grace)
        else:
            await asyncio.gather(*(self._give(location) for location in list(self.serving)))
        if self.relay is not None and not await self.relay.flush(grace):
            log.warning("outbox not flushed within the grace period; it goes out on restart")

    async def _stop_everything(self, store: SqlStore) -> None:
        await asyncio.gather(*(self._drop(location) for location in list(self.serving)))
        await self.supervisor.stop()
        if self._connection is not None:
            await self._connection.close()
        await store.close()
        await self.metrics_server.stop()
        self.stopped.set()

    async def _prune_loop(self, store: SqlStore) -> None:
        while True:
            await store.prune(utc_now() - timedelta(seconds=self.settings.retention))
            await asyncio.sleep(PRUNE_INTERVAL)
