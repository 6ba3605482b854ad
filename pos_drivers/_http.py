"""The HTTP client drivers share for their request/response calls to the POS.

Over the network it is aiohttp's connection pool, used directly. With 10 requests in
flight against the mock POS (``python -m bench.http_client``, median of 5 rounds), one
request cost this process 0.73 ms of CPU through httpx over the ``httpx-aiohttp``
transport (the drivers' client before), 0.23 ms through this client, 0.22 ms through a
bare ``aiohttp.ClientSession`` and 2.4 ms through httpx on its own transport (httpcore);
``MockDriver.read_check`` went from 0.79 to 0.28 ms. Most of httpx's share is its
request and response objects (URL and header models, cookies), so this client answers
with a small :class:`PosResponse` of its own and raises httpx's errors (see
:mod:`pos_drivers._http_errors`), which the drivers already catch.

Whoever runs the drivers may want to see these requests as httpx clients: the adapter's
tracing instruments them with OpenTelemetry's httpx instrumentation. While any
:func:`on_http_client` hook is registered, clients are built as an ``httpx.AsyncClient``
(still over aiohttp's pool, :mod:`pos_drivers._http_transport`) that the hooks receive;
with none, as when tracing is off, the lean path is taken. A ``transport`` (tests: the
mock POS in process through ``httpx.ASGITransport``) also gets an httpx client.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from pos_drivers._errors import TableNotFound
from pos_drivers._http_aiohttp import AiohttpClient, Params, aiohttp_session
from pos_drivers._http_response import PosResponse
from pos_drivers._http_transport import AiohttpTransport

__all__ = ["PosHttpClient", "PosResponse", "on_http_client", "pos_http_client", "segment"]

ClientHook = Callable[[httpx.AsyncClient], None]
_client_hooks: list[ClientHook] = []


class PosHttpClient(Protocol):
    """What a driver calls: one request, its whole answer; httpx's errors."""

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Params | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> PosResponse: ...

    async def aclose(self) -> None: ...


class HttpxClient:
    """The same calls through an ``httpx.AsyncClient`` (hooked, or over a test's
    transport); its answers copied into :class:`PosResponse`."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Params | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> PosResponse:
        response = await self.client.request(method, url, params=params, json=json,
                                             headers=headers, content=content)
        return PosResponse(response.status_code, response.reason_phrase, response.headers,
                           response.content)

    async def aclose(self) -> None:
        await self.client.aclose()


def on_http_client(hook: ClientHook) -> Callable[[], None]:
    """Call ``hook`` with the httpx client of every client :func:`pos_http_client` builds
    from now on (all go through httpx while a hook is registered); the function returned
    removes the hook."""
    _client_hooks.append(hook)

    def remove() -> None:
        if hook in _client_hooks:
            _client_hooks.remove(hook)

    return remove


def pos_http_client(
    base_url: str,
    *,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    max_connections: int = 100,
) -> PosHttpClient:
    """A long-lived client for one POS, built in the event loop that uses it; ``timeout``
    bounds each request; ``transport`` replaces the network in tests."""
    headers = dict(headers or {})
    if transport is None and not _client_hooks:
        return AiohttpClient(base_url, timeout=timeout, headers=headers,
                             max_connections=max_connections)
    if transport is None:
        transport = AiohttpTransport(aiohttp_session(
            base_url, timeout=timeout, headers={}, max_connections=max_connections))
    # trust_env False: no proxy from the environment would bypass ``transport``.
    client = httpx.AsyncClient(base_url=base_url, timeout=timeout, headers=headers,
                               transport=transport, trust_env=False)
    for hook in _client_hooks:
        hook(client)
    return HttpxClient(client)


def segment(value: str) -> str:
    """``value`` as one URL path segment, slashes escaped. ``.`` and ``..`` cannot be
    sent at all (the HTTP client resolves them, escaped or not): they name no table."""
    if value in (".", ".."):
        raise TableNotFound(f"{value!r} names no table")
    return quote(value, safe="")
