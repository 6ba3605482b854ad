"""The drivers' HTTP client on the network: aiohttp's connection pool, nothing around it.

See :mod:`pos_drivers._http` for why aiohttp is used directly rather than through httpx.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
import httpx

from pos_drivers._http_errors import ERRORS, as_httpx
from pos_drivers._http_response import PosResponse

KEEPALIVE_SECONDS = 5.0
"""How long an idle connection is kept: httpx's default, which the drivers had before."""

Params = Mapping[str, str | int]


def aiohttp_session(
    base_url: str, *, timeout: float, headers: Mapping[str, str], max_connections: int
) -> aiohttp.ClientSession:
    """A keep-alive pool for one POS; ``timeout`` bounds each request as a whole. Build
    it inside the event loop that uses it."""
    # Loading the CA bundle costs ~25 ms per client: only for https. httpx's context
    # (certifi's CAs), as the drivers verified with before.
    https = base_url.lower().startswith("https:")
    connector = aiohttp.TCPConnector(
        limit=max_connections,
        keepalive_timeout=KEEPALIVE_SECONDS,
        ssl=httpx.create_ssl_context(trust_env=False) if https else True,
    )
    return aiohttp.ClientSession(
        connector=connector,
        headers=dict(headers),
        timeout=aiohttp.ClientTimeout(total=timeout),
        # No proxy from the environment; cookies kept as httpx kept them (IP hosts too).
        trust_env=False,
        cookie_jar=aiohttp.CookieJar(unsafe=True),
    )


class AiohttpClient:
    """Requests to one POS over an aiohttp session; relative URLs are joined to the POS's
    base URL (its path kept, as httpx does); aiohttp's errors raised as httpx's."""

    def __init__(
        self, base_url: str, *, timeout: float, headers: Mapping[str, str],
        max_connections: int,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._session = aiohttp_session(base_url, timeout=timeout, headers=headers,
                                        max_connections=max_connections)

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
        if "://" not in url:
            url = f"{self._base}/{url.lstrip('/')}"
        try:
            async with self._session.request(
                method, url, params=params, json=json, headers=headers, data=content,
                allow_redirects=False,
            ) as response:
                body = await response.read()
        except ERRORS as exc:
            raise as_httpx(exc) from exc
        return PosResponse(response.status, response.reason or "", response.headers, body)

    async def aclose(self) -> None:
        await self._session.close()
