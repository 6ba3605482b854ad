"""Running the mock POS: the blocking ``serve`` (the CLI's) and the in-loop server."""

from __future__ import annotations

import asyncio
import re
import signal
import sys

import httpx
import pytest
from httpx_sse import aconnect_sse

from pos_drivers.mock import MockPosServer

_SERVE = "from pos_drivers.mock import serve; serve('127.0.0.1', 0)"


async def _url_from_log(stream: asyncio.StreamReader) -> str:
    """uvicorn logs where it listens once it does: wait for that line."""
    async with asyncio.timeout(10):
        while line := (await stream.readline()).decode():
            if found := re.search(r"running on (http://\S+)", line):
                return found.group(1)
    raise AssertionError("serve() never said where it listens")


async def test_serve_runs_until_interrupted_and_cuts_streams() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _SERVE, stderr=asyncio.subprocess.PIPE
    )
    try:
        assert process.stderr is not None
        url = await _url_from_log(process.stderr)
        async with (
            httpx.AsyncClient(base_url=url, verify=False) as http,
            aconnect_sse(http, "GET", "/events") as source,
        ):
            assert (await http.get("/health")).json() == {"status": "ok"}
            process.send_signal(signal.SIGINT)
            async with asyncio.timeout(3):
                assert [event async for event in source.aiter_sse()] == []
                assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_port_in_use_fails_on_start() -> None:
    async with MockPosServer() as running:
        with pytest.raises(OSError, match="in use"):
            await MockPosServer(port=running.port).start()


async def test_url_and_stop_are_idempotent() -> None:
    server = MockPosServer()
    await server.start()
    assert server.url == f"http://127.0.0.1:{server.port}"
    await server.stop()
    await server.stop()
    async with httpx.AsyncClient(verify=False) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"{server.url}/health")
