"""The branch WebSocket (``/ws?token=<access JWT>``) as an endless PushEvent iterator.

RestAI's socket is plain WebSocket (not Socket.IO). Rooms come from the token: a staff
socket hears ``branch:<id>`` for every branch of the account. There is no replay and no
cursor, so:

- after every (re)connection, once RestAI has said ``auth:success`` (the rooms are
  joined by then), the iterator yields ``PushEvent(None)``: whatever happened while the
  socket was down is unknown and the adapter re-reads every watched table;
- RestAI closes a socket whose token expired with code 4001 (checked every 30 s), so
  the driver reconnects with a fresh token *before* expiry (when the token manager would
  renew it anyway), and again at once after a 4001;
- any other failure (refused upgrade, connection lost, RestAI down) is retried with
  exponential back-off and jitter, up to ``ws_backoff_max``; a refused upgrade (401/403)
  also discards the token.

The token travels in the query string: the URL is never logged, and the ``websockets``
library logs through a logger that masks it. The iterator ends when its consumer closes
or cancels it, closing the socket.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from pos_drivers._errors import PosError
from pos_drivers._models import PushEvent
from pos_drivers.restai._auth import TokenManager
from pos_drivers.restai._events import EventMapper

logger = logging.getLogger("pos_drivers.restai")

TOKEN_EXPIRED_CLOSE = 4001
"""RestAI's close code for a socket whose token expired."""

_TOKEN = re.compile(r"(token=)[^&\s'\"]+")


def redact(text: str) -> str:
    """``text`` with any ``token=...`` query value masked."""
    return _TOKEN.sub(r"\1***", text)


class _RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg = masked
            record.args = None
        return True


_ws_logger = logging.getLogger("pos_drivers.restai.websocket")
_ws_logger.addFilter(_RedactTokens())


def ws_url(base_url: str) -> str:
    """``http(s)://host[/prefix]`` -> ``ws(s)://host[/prefix]/ws``."""
    parts = urlsplit(base_url)
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/ws", "", ""))


class PushStream:
    """Connects, maps events, and reconnects forever."""

    def __init__(
        self,
        url: str,
        auth: TokenManager,
        mapper: EventMapper,
        *,
        prepare: Callable[[], Awaitable[None]],
        open_timeout: float,
        backoff_initial: float,
        backoff_max: float,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._url = url
        self._auth = auth
        self._mapper = mapper
        self._prepare = prepare
        self._open_timeout = open_timeout
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._clock = clock
        self._sleep = sleep
        self.connections = 0
        """Sockets that reached ``auth:success`` (for health checks and tests)."""
        self.expired_closes = 0
        """Sockets RestAI closed with 4001."""

    def _backoff(self, failures: int) -> float:
        ceiling = min(self._backoff_max, self._backoff_initial * 2 ** max(0, failures - 1))
        jitter: float = random.random()
        return float(ceiling) * (0.5 + jitter / 2)

    async def events(self) -> AsyncIterator[PushEvent]:
        failures = 0
        while True:
            if failures:
                await self._sleep(self._backoff(failures))
            try:
                await self._prepare()
                token = await self._auth.access_token()
            except PosError as exc:
                failures += 1
                logger.warning("RestAI WebSocket: no access token (%s); retrying", exc.message)
                continue
            renew_at = (self._auth.expires_at or self._clock()) - self._auth.renew_margin()
            try:
                async with connect(
                    f"{self._url}?token={quote(token, safe='')}",
                    open_timeout=self._open_timeout,
                    logger=_ws_logger,
                    max_size=2**22,
                ) as socket:
                    await self._await_auth(socket)
                    failures = 0
                    self.connections += 1
                    logger.info("RestAI WebSocket connected")
                    yield PushEvent(None)
                    async for event in self._session(socket, renew_at):
                        yield event
                    logger.info("RestAI WebSocket: renewing the token before it expires")
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd is not None else None
                if code == TOKEN_EXPIRED_CLOSE:
                    self.expired_closes += 1
                    logger.info("RestAI WebSocket closed: token expired (4001); reconnecting")
                    await self._auth.invalidate(token)
                    continue
                failures += 1
                logger.warning("RestAI WebSocket closed (code %s); reconnecting", code)
            except InvalidStatus as exc:
                failures += 1
                status = exc.response.status_code
                logger.warning("RestAI WebSocket upgrade refused (HTTP %s)", status)
                if status in (401, 403):
                    await self._auth.invalidate(token)
            except (OSError, TimeoutError, InvalidHandshake) as exc:
                failures += 1
                logger.warning(
                    "RestAI WebSocket unavailable (%s: %s)", type(exc).__name__, redact(str(exc))
                )

    async def _await_auth(self, socket: ClientConnection) -> None:
        """Wait for ``auth:success``: from then on the branch rooms are joined."""
        async with asyncio.timeout(self._open_timeout):
            while True:
                message = _decode(await socket.recv())
                if message is not None and message.get("type") == "auth:success":
                    return

    async def _session(self, socket: ClientConnection, renew_at: float) -> AsyncIterator[PushEvent]:
        """Events until the token is due for renewal (then return, closing the socket)."""
        while True:
            remaining = renew_at - self._clock()
            if remaining <= 0:
                return
            try:
                raw = await asyncio.wait_for(socket.recv(), timeout=remaining)
            except TimeoutError:
                return
            message = _decode(raw)
            if message is None:
                continue
            for event in await self._mapper.map(message):
                yield event


def _decode(raw: str | bytes) -> dict[str, Any] | None:
    try:
        message = json.loads(raw)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None
