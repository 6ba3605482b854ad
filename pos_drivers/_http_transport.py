"""An httpx transport over an aiohttp session: what a hooked client (tracing) sends with.

OpenTelemetry's httpx instrumentation wraps an ``httpx.AsyncClient``; with this transport
under it such a client still uses aiohttp's pool, at about a third of the CPU per request
of httpx's own transport (httpcore) with a few requests in flight.
"""

from __future__ import annotations

import aiohttp
import httpx

from pos_drivers._http_errors import ERRORS, as_httpx


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Sends each request of an httpx client through ``session``, which it closes."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        content = await request.aread()
        try:
            # httpx decodes the body by its Content-Encoding: aiohttp must not.
            async with self._session.request(
                request.method, str(request.url), headers=request.headers.multi_items(),
                data=content or None, allow_redirects=False, auto_decompress=False,
            ) as response:
                body = await response.read()
        except ERRORS as exc:
            raise as_httpx(exc, request) from exc
        extensions = {"reason_phrase": response.reason.encode()} if response.reason else {}
        return httpx.Response(response.status, headers=response.raw_headers, content=body,
                              extensions=extensions)

    async def aclose(self) -> None:
        await self._session.close()
