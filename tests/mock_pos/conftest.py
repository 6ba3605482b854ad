"""Fixtures: one real mock POS on a free port for the session, reset before each test.

Starting and stopping uvicorn costs about 0.2 s, so the tests here share one server in a
session-wide event loop, and each starts from ``POST /_control/reset`` (seed data, no
faults, event streams cut). Tests that need their own server start a ``MockPosServer``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from pos_drivers import DriverConfig
from pos_drivers.mock import MockDriver, MockPosControl, MockPosServer

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run this directory's async tests in the session's loop, where the server lives."""
    in_session_loop = pytest.mark.asyncio(loop_scope="session")
    for test in items:
        if pytest_asyncio.is_async_test(test) and _HERE in test.path.parents:
            test.add_marker(in_session_loop, append=False)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def shared_server() -> AsyncIterator[MockPosServer]:
    async with MockPosServer() as running:
        yield running


@pytest_asyncio.fixture(loop_scope="session")
async def server(shared_server: MockPosServer) -> MockPosServer:
    async with MockPosControl(shared_server.url) as control:
        await control.reset()
    return shared_server


@pytest_asyncio.fixture(loop_scope="session")
async def http(server: MockPosServer) -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client of the POS API, to see status codes and bodies as they are."""
    async with httpx.AsyncClient(base_url=server.url, timeout=5.0, verify=False) as client:
        yield client


@pytest_asyncio.fixture(loop_scope="session")
async def control(server: MockPosServer) -> AsyncIterator[MockPosControl]:
    async with MockPosControl(server.url) as client:
        yield client


@pytest_asyncio.fixture(loop_scope="session")
async def driver(server: MockPosServer) -> AsyncIterator[MockDriver]:
    async with MockDriver(DriverConfig(pos_url=server.url, request_timeout=2.0)) as opened:
        yield opened
