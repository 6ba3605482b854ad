"""Server-sent events read from aiohttp's answer: the ``data`` of each event.

The drivers' push channels follow ``text/event-stream`` answers. httpx-sse reads them
through httpx's streaming layers (four async generators per chunk, a measurable share of
a worker's CPU when every submission is announced); aiohttp's stream reader hands whole
lines, and the few rules of the format (WHATWG HTML, "Server-sent events") a push channel
needs are applied here: ``data`` lines joined with a newline, an event dispatched at the
blank line that ends it, comments and the ``event``, ``id`` and ``retry`` fields ignored.
Lines end with LF or CRLF; a lone CR is not taken as a line end. The aiohttp clients for
SSE on PyPI are unmaintained forks, hence these twenty lines.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator


async def sse_data(lines: AsyncIterable[bytes]) -> AsyncIterator[str]:
    """The data of each complete event in ``lines`` (raw lines, line ends included)."""
    data: list[str] = []
    async for raw in lines:
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
