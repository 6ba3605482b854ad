"""HTTP to RestAI: the envelope, rate limits, transient failures, and the auth headers.

Two layers:

- :class:`Transport` sends one request with no credentials of its own. It waits out a
  short ``429 Retry-After`` and sends the request once more (the rate limiter answers
  before any route runs, so nothing was applied); a longer one, and every later request
  until the delay has passed, raises ``PosUnavailable(retry_after=...)`` without
  reaching RestAI. Timeouts, connection errors and 5xx raise ``PosUnavailable``.
- :class:`RestaiClient` adds ``Authorization`` and ``x-branch-id`` to every call and, on a
  401, renews the token once and repeats the call.

Business refusals come back as :class:`RestaiApiError`; the driver maps them to the
errors of ``pos_drivers._errors`` (see ``_mapping.api_error``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import httpx

from pos_drivers._errors import PosUnavailable

if TYPE_CHECKING:
    from pos_drivers.restai._auth import TokenManager

logger = logging.getLogger("pos_drivers.restai")

Sleep = Callable[[float], Awaitable[None]]
JsonBody = Mapping[str, Any]
Params = Mapping[str, str | int]


class RestaiApiError(Exception):
    """RestAI answered and refused (4xx): its status, error code and message."""

    def __init__(self, status: int, code: str | None, message: str, details: Any = None) -> None:
        super().__init__(f"{status} {code or '-'}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    @property
    def detail(self) -> str:
        """The text passed on as ``posDetail``: RestAI's own code and message."""
        return f"{self.status} {self.code or 'ERROR'}: {self.message}"


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` in seconds (delta or HTTP date), None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def data_of(response: httpx.Response) -> Any:
    """The ``data`` of a 2xx envelope; RestaiApiError for a 4xx; PosUnavailable otherwise."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    status = response.status_code
    if 200 <= status < 300:
        if isinstance(body, dict) and body.get("success") is True:
            return body.get("data")
        raise PosUnavailable("RestAI answered without its usual envelope", pos_detail=str(status))
    if 400 <= status < 500:
        raise _api_error(status, body, response.text)
    raise PosUnavailable(
        f"RestAI answered {status}", pos_detail=_api_error(status, body, response.text).detail
    )


def _api_error(status: int, body: Any, text: str) -> RestaiApiError:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return RestaiApiError(status, None, text[:300] or f"HTTP {status}")
    if error.get("name") == "ZodError":
        issues = error.get("issues") or []
        summary = "; ".join(
            f"{'.'.join(str(p) for p in issue.get('path', []))}: {issue.get('message', '')}"
            for issue in issues
            if isinstance(issue, dict)
        )
        return RestaiApiError(status, "ZodError", summary or "invalid body", issues)
    code = error.get("code")
    message = error.get("message")
    return RestaiApiError(
        status,
        code if isinstance(code, str) else None,
        message if isinstance(message, str) else f"HTTP {status}",
        error.get("details"),
    )


class Transport:
    """One request at a time to RestAI, with the rate-limit gate shared by every call."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        max_inline_wait: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._http = http
        self._max_inline_wait = max_inline_wait
        self._clock = clock
        self._sleep = sleep
        self._blocked_until = 0.0

    async def send(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: JsonBody | None = None,
        params: Params | None = None,
    ) -> httpx.Response:
        """Send once (twice after a short 429); PosUnavailable when RestAI is not usable."""
        for attempt in range(2):
            await self._wait_for_gate()
            response = await self._send_once(method, path, headers, json, params)
            if response.status_code != 429:
                return response
            delay = retry_after_seconds(response.headers.get("retry-after"))
            wait = 1.0 if delay is None else delay
            self._blocked_until = max(self._blocked_until, self._clock() + wait)
            if attempt == 1 or wait > self._max_inline_wait:
                raise PosUnavailable(
                    "RestAI is rate limiting the integration",
                    pos_detail=_api_error(429, _json_or_none(response), response.text).detail,
                    retry_after=delay,
                )
        raise AssertionError("unreachable")  # pragma: no cover

    async def _wait_for_gate(self) -> None:
        remaining = self._blocked_until - self._clock()
        if remaining <= 0:
            return
        if remaining > self._max_inline_wait:
            raise PosUnavailable(
                "RestAI asked to wait before the next request",
                pos_detail="429 RATE_LIMITED",
                retry_after=remaining,
            )
        await self._sleep(remaining)

    async def _send_once(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None,
        json: JsonBody | None,
        params: Params | None,
    ) -> httpx.Response:
        try:
            return await self._http.request(method, path, headers=headers, json=json, params=params)
        except httpx.TimeoutException as exc:
            raise PosUnavailable(
                "RestAI did not answer in time", pos_detail=type(exc).__name__
            ) from None
        except httpx.TransportError as exc:
            raise PosUnavailable(
                "RestAI could not be reached", pos_detail=type(exc).__name__
            ) from None


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class RestaiClient:
    """Authenticated staff calls for one branch; returns the envelope's ``data``."""

    def __init__(self, transport: Transport, auth: TokenManager) -> None:
        self._transport = transport
        self._auth = auth
        self.branch_id: str | None = None

    async def get(self, path: str, params: Params | None = None) -> Any:
        return await self.request("GET", path, params=params)

    async def post(self, path: str, json: JsonBody | None = None) -> Any:
        return await self.request("POST", path, json=json)

    async def patch(self, path: str, json: JsonBody | None = None) -> Any:
        return await self.request("PATCH", path, json=json)

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: JsonBody | None = None,
        params: Params | None = None,
    ) -> Any:
        """One call; a 401 renews the token and repeats it once."""
        for attempt in range(2):
            token = await self._auth.access_token()
            headers = {"Authorization": f"Bearer {token}"}
            if self.branch_id:
                headers["x-branch-id"] = self.branch_id
            response = await self._transport.send(
                method, path, headers=headers, json=json, params=params
            )
            if response.status_code == 401 and attempt == 0:
                logger.info("RestAI refused the access token; renewing it")
                await self._auth.invalidate(token)
                continue
            if response.status_code == 401:
                raise PosUnavailable(
                    "RestAI refuses the integration's fresh access token",
                    pos_detail=_api_error(401, _json_or_none(response), response.text).detail,
                )
            return data_of(response)
        raise AssertionError("unreachable")  # pragma: no cover
