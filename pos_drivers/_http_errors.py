"""aiohttp's errors as the httpx errors the drivers catch.

Drivers map ``httpx.ConnectError``, ``httpx.TimeoutException`` and
``httpx.TransportError`` to PosUnavailable whichever library carried the request; this
keeps them so when aiohttp does.
"""

from __future__ import annotations

import aiohttp
import httpx

# Most specific first: the first class the error is an instance of decides.
_AS_HTTPX: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    # A total timeout that fires while connecting arrives as ConnectionTimeoutError,
    # one while waiting for the answer as a bare TimeoutError.
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (TimeoutError, httpx.ReadTimeout),
    # Refused, unknown host, TLS handshake or certificate refused.
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),  # an answer aiohttp cannot parse
    (aiohttp.ClientPayloadError, httpx.ReadError),
    (aiohttp.ClientConnectionError, httpx.ReadError),
    (aiohttp.NonHttpUrlClientError, httpx.UnsupportedProtocol),
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
)

ERRORS = (aiohttp.ClientError, TimeoutError)
"""What :func:`as_httpx` converts: catch these around an aiohttp request."""


def as_httpx(exc: BaseException, request: httpx.Request | None = None) -> httpx.TransportError:
    """The httpx error standing for aiohttp's ``exc`` (raise it ``from exc``)."""
    for aiohttp_error, httpx_error in _AS_HTTPX:
        if isinstance(exc, aiohttp_error):
            return httpx_error(str(exc) or type(exc).__name__, request=request)
    return httpx.TransportError(str(exc) or type(exc).__name__, request=request)
