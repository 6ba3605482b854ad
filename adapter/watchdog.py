"""The consumer watchdog: a worker that silently stopped consuming is worse than a dead one.

A robust aio-pika connection can come back without our consumer (a restore that missed
it, a broker-side cancel), and the broker cannot tell us: on a quorum queue with single
active consumer the declare's consumer count is 1 whoever consumes. So every
``interval`` the watchdog asks our own channel whether it still has our consumer tag:

- the connection or channel is being restored: aio-pika's business, wait (the consumer
  counts as down meanwhile). If the connection is up but the channel stays unrestored
  for ``STUCK_CHECKS`` checks, the consumer counts as missing;
- the tag is missing: look again after a short settle pause (a restore may be finishing),
  then register the consumer again (:meth:`CommandConsumer.restart`);
- that fails: ``on_lost`` is called and the watchdog ends; the worker then stops with
  a non-zero exit code so that its supervisor starts a fresh process.

Each check sets ``pos_adapter_consumer_up`` and stamps the check time, which is what
``pos-adapter health`` reads from the metrics endpoint.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog
from aio_pika.abc import AbstractRobustConnection

from adapter.amqp import CommandConsumer
from adapter.metrics import LocationMetrics

log = structlog.get_logger("pos_adapter.watchdog")

SETTLE_PAUSE = 1.0
STUCK_CHECKS = 3
RESTART_TIMEOUT = 10.0


class ConsumerWatchdog:
    def __init__(
        self,
        consumer: CommandConsumer,
        connection: AbstractRobustConnection,
        *,
        interval: float,
        metrics: LocationMetrics,
        on_lost: Callable[[], None],
    ) -> None:
        self._consumer = consumer
        self._connection = connection
        self._interval = interval
        self._metrics = metrics
        self._on_lost = on_lost
        self._stuck = 0
        self.consumer_up = False

    async def run(self) -> None:
        """Check every ``interval`` until the consumer is lost for good."""
        while True:
            await asyncio.sleep(self._interval)
            if self._consumer.stopped:
                return
            if not await self.check():
                self._on_lost()
                return

    async def check(self) -> bool:
        """One check; False when the consumer is gone and could not be registered again."""
        state = await self._consumer.registered(self._interval)
        if state is None and not self._channel_stuck():
            self.record(False)
            return True
        if state:
            self.record(True)
            return True
        await asyncio.sleep(min(SETTLE_PAUSE, self._interval))
        if await self._consumer.registered(self._interval):
            self.record(True)
            return True
        return await self._register_again()

    def _channel_stuck(self) -> bool:
        """The connection is up but the channel has not been restored for a while."""
        if self._connection.is_closed or not self._connection.connected.is_set():
            self._stuck = 0
            return False
        self._stuck += 1
        return self._stuck >= STUCK_CHECKS

    async def _register_again(self) -> bool:
        self.record(False)
        log.warning("our consumer is missing from its channel; registering it again",
                    consumer_tag=self._consumer.tag)
        try:
            async with asyncio.timeout(RESTART_TIMEOUT):
                await self._consumer.restart()
        except Exception as exc:
            log.error("could not register the consumer again; stopping so that a supervisor "
                      "restarts the worker", error=repr(exc))
            return False
        self._metrics.consumer_restarts.inc()
        log.warning("consumer registered again", consumer_tag=self._consumer.tag)
        self.record(True)
        return True

    def record(self, up: bool) -> None:
        """Publish a finding (the worker records the first one, right after consuming)."""
        if up:
            self._stuck = 0
        self.consumer_up = up
        self._metrics.watchdog_checked(up, time.time())
