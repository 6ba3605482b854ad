"""The push channels' event-stream reader: the data of each complete event, by the rules
of the format (WHATWG HTML, "Server-sent events") a push channel needs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

from hypothesis import given
from hypothesis import strategies as st

from pos_drivers._sse import sse_data


async def _lines(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def _data(stream: bytes) -> list[str]:
    return [data async for data in sse_data(_lines(stream.splitlines(keepends=True)))]


async def test_each_event_s_data_at_its_blank_line() -> None:
    stream = (b'data: {"tableId":"T1"}\r\n\r\n'
              b': ping - 2026-11-30\r\n\r\n'
              b'event: change\r\nid: 7\r\nretry: 100\r\ndata: two\r\ndata:lines\r\n\r\n'
              b'data\n\n'
              b'data: never ended\r\n')

    assert await _data(stream) == ['{"tableId":"T1"}', "two\nlines", ""]


async def test_an_event_without_data_is_not_dispatched() -> None:
    assert await _data(b"event: change\n\n: comment\n\nid: 3\n\n") == []


async def test_bytes_that_are_not_utf8_are_replaced() -> None:
    assert await _data(b"data: caf\xe9\n\n") == ["caf\ufffd"]


payloads = st.lists(st.text().filter(lambda t: "\r" not in t and "\n" not in t), max_size=5)


@given(st.lists(payloads, max_size=5), st.sampled_from([b"\n", b"\r\n"]))
async def test_what_a_server_sends_is_what_is_read(events: list[list[str]], end: bytes) -> None:
    stream = b"".join(
        b": keep-alive" + end + end
        + b"".join(b"data: " + line.encode() + end for line in lines) + end
        for lines in events
    )

    assert await _data(stream) == ["\n".join(lines) for lines in events if lines]
