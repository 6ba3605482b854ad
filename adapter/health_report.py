"""PosHealthReported (contract §4.6): the adapter's heartbeat to OpenApp.

One report every ``health_interval`` seconds, the first one a full interval after the
start, once the worker has settled (and not ahead of the answers to the first commands,
which readers of the events stream such as the demo take in order). It goes through the
outbox like every other message, so a report written while the broker is away is
delivered, in order, once it is back (OpenApp then sees when the adapter was alive).
``healthy`` is the adapter's own verdict: the POS answered and our consumer is
registered on the command queue (the watchdog's last finding). The POS is pinged only
when none of our calls got an answer in the last interval (the watcher's polls usually
did): 200 locations would otherwise cost their POS a ping each every interval, and the
adapter most of its idle CPU.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog

from adapter.metrics import software_version
from handlers import HandlerContext, WriteSet, outgoing
from schemas import PosHealthReported

log = structlog.get_logger("pos_adapter.health")

SOFTWARE_NAME = "pos-adapter"


class HealthReporter:
    def __init__(
        self,
        ctx: HandlerContext,
        *,
        interval: float,
        ping_timeout: float,
        consumer_up: Callable[[], bool],
        active_streams: Callable[[], int],
        last_pos_answer: Callable[[], float | None] = lambda: None,
    ) -> None:
        self._ctx = ctx
        self._interval = interval
        self._ping_timeout = ping_timeout
        self._consumer_up = consumer_up
        self._active_streams = active_streams
        self._last_pos_answer = last_pos_answer
        self._version = software_version()

    async def run(self) -> None:
        """Report every interval; a failure (a store in trouble) goes to the worker's
        supervision, which retries with back-off."""
        while True:
            await asyncio.sleep(self._interval)
            await self.report()

    async def report(self) -> PosHealthReported:
        """Ping the POS and commit one PosHealthReported to the outbox."""
        ctx = self._ctx
        reachable = await self._pos_reachable()
        payload = PosHealthReported(
            healthy=reachable and self._consumer_up(),
            software_name=SOFTWARE_NAME,
            software_version=self._version,
            driver=ctx.driver.name,
            pos_reachable=reachable,
            active_streams=self._active_streams(),
        )
        message = outgoing(payload, location_id=ctx.location_id, correlation_id=None,
                           pos_table_id=None, occurred_at=ctx.clock())
        await ctx.store.commit(WriteSet(outbox=[message]))
        return payload

    async def _pos_reachable(self) -> bool:
        answered = self._last_pos_answer()
        if answered is not None and time.monotonic() - answered < self._interval:
            return True
        try:
            async with asyncio.timeout(self._ping_timeout):
                return await self._ctx.driver.ping()
        except Exception:
            return False
