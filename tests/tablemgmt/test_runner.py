"""Running the imitation: blocking for a command line, or inside the caller's loop."""

from __future__ import annotations

import asyncio
import re
import signal
import sys

import httpx
import pytest

from pos_drivers.tablemgmt import SEED_OUTLET_ID, TableMgmtServer

_RUN = (
    "from pos_drivers.tablemgmt import run_tablemgmt_server; "
    "run_tablemgmt_server('127.0.0.1', 0)"
)


async def _line_matching(stream: asyncio.StreamReader, pattern: str) -> re.Match[str]:
    async with asyncio.timeout(10):
        while line := (await stream.readline()).decode():
            if found := re.search(pattern, line):
                return found
    raise AssertionError(f"no line matched {pattern!r}")


async def test_the_blocking_runner_prints_what_the_driver_needs_and_stops_on_sigint() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _RUN,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        url = (await _line_matching(process.stdout, r"POS_URL=(\S+)")).group(1)
        outlet = (await _line_matching(process.stdout, r"OUTLET_ID=(\S+)")).group(1)
        token = (await _line_matching(process.stdout, r"TOKEN=(\S+)")).group(1)
        # The socket listens before the banner: a request waits in its backlog.

        async with httpx.AsyncClient(base_url=url) as http:
            answer = await http.get(f"/api/v1/outlets/{outlet}/tables/available",
                                    headers={"Authorization": f"Bearer {token}"})
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(5):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert outlet == SEED_OUTLET_ID
    assert len(answer.json()) == 25


async def test_port_in_use_fails_on_start() -> None:
    async with TableMgmtServer() as running:
        with pytest.raises(OSError, match="in use"):
            await TableMgmtServer(port=running.port).start()


async def test_a_server_starts_once() -> None:
    server = TableMgmtServer()
    await server.start()
    try:
        assert server.url == f"http://127.0.0.1:{server.port}"
        with pytest.raises(RuntimeError, match="starts once"):
            await server.start()
    finally:
        await server.stop()
    await server.stop()
