"""Fixtures: the RestAI imitation served by uvicorn on a free port, and a driver on it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn

from pos_drivers import DriverConfig
from pos_drivers.restai import RestaiDriver, RestaiSettings
from tests.restai.fake_restai import FakeRestai

MANAGER = {"email": "gerente@restai.pe", "password": "gerente123"}


@contextlib.asynccontextmanager
async def serve(fake: FakeRestai) -> AsyncIterator[str]:
    """Run ``fake.app`` on 127.0.0.1:<free port> until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle stalls
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        fake.app,
        lifespan="on",
        ws="websockets-sansio",
        log_level="warning",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(5):
            await fake.started.wait()
        fake.base_url = f"http://127.0.0.1:{port}"
        yield fake.base_url
    finally:
        server.should_exit = True
        async with asyncio.timeout(5):
            await task
        sock.close()


def make_driver(fake: FakeRestai, **values: Any) -> RestaiDriver:
    settings = RestaiSettings(**{**MANAGER, **values})
    return RestaiDriver(DriverConfig(pos_url=fake.base_url, request_timeout=2.0), settings)


@pytest.fixture
async def fake() -> AsyncIterator[FakeRestai]:
    restai = FakeRestai()
    async with serve(restai):
        yield restai


@pytest.fixture
async def driver(fake: FakeRestai) -> AsyncIterator[RestaiDriver]:
    async with make_driver(fake) as restai_driver:
        yield restai_driver
