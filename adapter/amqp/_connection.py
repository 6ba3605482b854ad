"""The broker connection: robust (aio-pika restores channels, queues and consumers), and
back within a second of the broker accepting connections again.

aio-pika's robust connection waits a fixed ``reconnect_interval`` (5 s) between attempts,
so results could flow again seconds after the broker was back. Here the interval is an
exponential back-off with jitter from ``RECONNECT_INITIAL`` to ``RECONNECT_MAX`` (well
under a second: a refused attempt costs the broker nothing), reset once connected. The
connection class and its ``reconnect_interval`` attribute are aio-pika's public surface.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import suppress
from typing import Any

import aio_pika
import structlog
from aio_pika import RobustConnection
from aio_pika.abc import AbstractRobustConnection
from yarl import URL

from handlers import Backoff

log = structlog.get_logger("pos_adapter.broker")

RECONNECT_INITIAL = 0.05
RECONNECT_MAX = 0.8
LOG_EVERY = 10.0
"""Seconds between two "broker unreachable" lines while it stays away."""


class QuickReconnect(RobustConnection):
    def __init__(
        self, url: URL, loop: asyncio.AbstractEventLoop | None = None, **kwargs: Any
    ) -> None:
        self._backoff = Backoff(initial=RECONNECT_INITIAL, maximum=RECONNECT_MAX)
        super().__init__(url, loop, **kwargs)
        self.reconnect_callbacks.add(self._connected_again)

    @property
    def reconnect_interval(self) -> float:
        """The next pause between two attempts (read by aio-pika before each one)."""
        return self._backoff.next_delay()

    @reconnect_interval.setter
    def reconnect_interval(self, _fixed: float) -> None:
        """aio-pika sets its fixed interval here; the back-off stands in for it."""

    def _connected_again(self, *_args: Any) -> None:
        self._backoff.reset()
        log.info("broker connection restored")


async def connect_broker(
    url: str, connection_name: str, stop: asyncio.Event
) -> AbstractRobustConnection | None:
    """Connect, retrying with back-off until the broker answers; None if told to stop."""
    backoff = Backoff(initial=RECONNECT_INITIAL * 4, maximum=RECONNECT_MAX * 2)
    last_logged = -LOG_EVERY
    while True:
        try:
            return await aio_pika.connect_robust(
                url, connection_class=QuickReconnect,
                client_properties={"connection_name": connection_name},
            )
        except (ConnectionError, OSError, aio_pika.exceptions.AMQPError) as exc:
            delay = backoff.next_delay()
            if time.monotonic() - last_logged >= LOG_EVERY:
                last_logged = time.monotonic()
                log.warning("broker unreachable", error=str(exc) or repr(exc),
                            retry_in=round(delay, 2))
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                return None
