"""The broker connection: robust (aio-pika restores channels, queues and consumers), on a
single broker or on the nodes of a RabbitMQ cluster, and back within a second of a
broker accepting connections again.

- ``POS_ADAPTER_AMQP_URL`` may name several nodes, comma-separated. The first connection
  goes to the first node that answers; when that node goes away, reconnection attempts go
  round the nodes, so the adapter moves to one that is up (quorum queues keep the
  commands on the others).
- aio-pika's robust connection waits a fixed ``reconnect_interval`` (5 s) between
  attempts. Here the interval is an exponential back-off with jitter from
  ``RECONNECT_INITIAL`` to ``RECONNECT_MAX`` (well under a second: a refused attempt costs
  a broker nothing), reset once connected.

aio-pika has no multi-host connection (its maintainers point to DNS). This uses only its
public surface: the connection class of ``connect_robust``, and the ``url`` and
``reconnect_interval`` attributes, which its reconnection loop reads before each attempt:
reading the interval is where the next node is chosen (at most once per attempt: the loop
reads it twice in a row, to log it and to sleep).

A failed attempt is logged here, throttled and classified: a broker that does not answer,
or TLS that fails (a certificate its CA does not sign, a handshake the broker refuses,
certificate files that cannot be read), which retrying alone will not fix. aiormq's own
line for every failed attempt ("error when creating transport") is dropped for that.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import ssl
import time
from collections.abc import Iterator, Sequence
from contextlib import suppress
from typing import Any

import aio_pika
import structlog
from aio_pika import RobustConnection
from aio_pika.abc import AbstractConnection, AbstractRobustConnection
from yarl import URL

from adapter.settings import verifies_certificate
from handlers import Backoff

log = structlog.get_logger("pos_adapter.broker")

RECONNECT_INITIAL = 0.05
RECONNECT_MAX = 0.8
LOG_EVERY = 10.0
"""Seconds between two "broker unreachable" lines while it stays away."""
SAME_ATTEMPT = 0.01
"""Reads of the interval closer than this belong to one attempt."""


BROKER_UNREACHABLE = "broker unreachable"


class _AttemptLogFilter(logging.Filter):
    """Drops aiormq's unthrottled, unclassified line for each failed connection attempt."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("error when creating transport")


logging.getLogger("aiormq.connection").addFilter(_AttemptLogFilter())


def tls_failure(exc: BaseException) -> ssl.SSLError | None:
    """The ssl module's error behind a failed connection attempt, if TLS is what failed
    (aiormq raises it as the cause of an AMQPConnectionError)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def connect_failure(exc: BaseException, url: str | None = None) -> tuple[str, str]:
    """(what failed, in a few words; the detail) of a failed attempt to connect to ``url``."""
    failure = tls_failure(exc)
    if isinstance(failure, ssl.SSLCertVerificationError):
        return "TLS certificate verification failed", str(failure.verify_message or failure)
    if failure is not None:
        return "TLS failed", str(failure.reason or failure)
    unreadable = _unreadable_tls_files(url) if url else []
    if unreadable:  # the context is made before connecting: nothing else was tried
        return "TLS certificate files unreadable", ", ".join(unreadable)
    return BROKER_UNREACHABLE, str(exc) or repr(exc)


def _unreadable_tls_files(url: str) -> list[str]:
    """The URL's cafile, capath, certfile and keyfile that this process cannot read."""
    query = URL(url).query
    return [f"{key}={query[key]}" for key in ("cafile", "capath", "certfile", "keyfile")
            if key in query and not os.access(query[key], os.R_OK)]


def broker_urls(setting: str) -> list[str]:
    """The nodes of ``POS_ADAPTER_AMQP_URL`` (comma-separated), in order."""
    return [url.strip() for url in setting.split(",") if url.strip()]


class QuickReconnect(RobustConnection):
    def __init__(
        self, url: URL, loop: asyncio.AbstractEventLoop | None = None, **kwargs: Any
    ) -> None:
        self._backoff = Backoff(initial=RECONNECT_INITIAL, maximum=RECONNECT_MAX)
        self._nodes: Iterator[URL] | None = None
        self._last_pick = -1.0
        super().__init__(url, loop, **kwargs)
        self.reconnect_callbacks.add(self._connected_again)

    def go_round(self, urls: Sequence[str], connected_to: int) -> None:
        """Reconnect to the next of ``urls`` (``connected_to``: the one we are on)."""
        if len(urls) < 2:
            return
        ordered = [*urls[connected_to + 1:], *urls[:connected_to + 1]]
        self._nodes = itertools.cycle([URL(url) for url in ordered])

    @property
    def reconnect_interval(self) -> float:
        """The next pause between two attempts (read by aio-pika before each one)."""
        now = time.monotonic()
        if self._nodes is not None and now - self._last_pick > SAME_ATTEMPT:
            self.url = next(self._nodes)
        self._last_pick = now
        return self._backoff.next_delay()

    @reconnect_interval.setter
    def reconnect_interval(self, _fixed: float) -> None:
        """aio-pika sets its fixed interval here; the back-off stands in for it."""

    def _connected_again(self, *_args: Any) -> None:
        self._backoff.reset()
        log.info("broker connection restored", node=_safe(self.url))


async def connect_broker(
    setting: str, connection_name: str, stop: asyncio.Event
) -> AbstractRobustConnection | None:
    """Connect to the first node that answers, going round the nodes with back-off until
    one does; None if told to stop first."""
    urls = broker_urls(setting)
    backoff = Backoff(initial=RECONNECT_INITIAL * 4, maximum=RECONNECT_MAX * 2)
    last_logged = -LOG_EVERY
    failures: list[tuple[str, str]] = []
    if not all(verifies_certificate(url) for url in urls):
        log.warning("TLS certificate verification is off (no_verify_ssl in the broker URL, "
                    "allowed by POS_ADAPTER_AMQP_ALLOW_INSECURE_TLS)")
    for index in itertools.cycle(range(len(urls))):
        try:
            connection = await aio_pika.connect_robust(
                urls[index], connection_class=QuickReconnect,
                client_properties={"connection_name": connection_name},
            )
        except (ConnectionError, OSError, aio_pika.exceptions.AMQPError) as exc:
            failures.append(connect_failure(exc, urls[index]))
            if index < len(urls) - 1:
                continue  # the next node, at once
            delay = backoff.next_delay()
            if time.monotonic() - last_logged >= LOG_EVERY:
                last_logged = time.monotonic()
                # A TLS failure on any node is the news; else the last node's error.
                what, detail = next((f for f in failures if f[0] != BROKER_UNREACHABLE),
                                    failures[-1])
                report = log.warning if what == BROKER_UNREACHABLE else log.error
                report(what, error=detail, nodes=len(urls), retry_in=round(delay, 2))
            failures.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                return None
            continue
        assert isinstance(connection, QuickReconnect)
        connection.go_round(urls, index)
        return connection
    raise AssertionError("unreachable")  # pragma: no cover


class ClosedOnFailure(aio_pika.Connection):
    """aio-pika's plain connection, closed when it fails to connect. Left to the garbage
    collector, a failed one schedules its ``close()`` from ``__del__``, and with no loop
    running at that moment the coroutine is dropped unawaited (a RuntimeWarning)."""

    async def connect(self, timeout: aio_pika.abc.TimeoutType = None) -> None:
        try:
            await super().connect(timeout=timeout)
        except BaseException:
            with suppress(Exception):
                await self.close()
            raise


async def connect_once(setting: str, *, timeout: float | None = None) -> AbstractConnection:
    """A plain connection (operator commands) to the first node of ``setting`` that
    answers; the last node's error when none does."""
    urls = broker_urls(setting)
    for url in urls[:-1]:
        with suppress(ConnectionError, OSError, aio_pika.exceptions.AMQPError):
            return await aio_pika.connect(url, timeout=timeout, connection_class=ClosedOnFailure)
    return await aio_pika.connect(urls[-1], timeout=timeout, connection_class=ClosedOnFailure)


def without_credentials(setting: str) -> str:
    """The broker URL without its credentials, for what people read."""
    scheme, _, rest = setting.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"


def _safe(url: URL) -> str:
    return str(url.with_password("******") if url.password else url)
