"""An adapter running in the test's event loop, against the real broker and mock POS."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import aio_pika
import pytest

from adapter import drivers
from adapter.drivers import ConfiguredDriver, driver_class
from adapter.settings import LogFormat, LogLevel, Settings
from adapter.testing import OpenAppClient
from adapter.worker import Worker
from pos_drivers.mock import MockPosControl, MockPosServer

pytestmark = pytest.mark.rabbitmq

StartAdapter = Callable[..., AbstractAsyncContextManager[Worker]]


def free_port() -> int:
    """A port nobody listens on right now (for one worker's metrics endpoint)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def mock_pos() -> AsyncIterator[MockPosServer]:
    async with MockPosServer() as server:
        yield server


@pytest.fixture
async def pos(mock_pos: MockPosServer) -> AsyncIterator[MockPosControl]:
    async with MockPosControl(mock_pos.url) as control:
        yield control


@pytest.fixture
def settings(amqp_url: str, location_id: str, mock_pos: MockPosServer, tmp_path: Path) -> Settings:
    return Settings(
        amqp_url=amqp_url,
        location_id=location_id,
        pos_url=mock_pos.url,
        store_url=f"sqlite+aiosqlite:///{tmp_path / 'adapter.db'}",
        poll_interval=0.2,
        pos_deadline=1.5,
        pos_request_timeout=0.5,
        shutdown_grace=3.0,
        log_level=LogLevel.WARNING,
        log_format=LogFormat.CONSOLE,
        metrics_port=free_port(),  # not 9464: a running adapter's, or another test's
    )


async def delete_queues(amqp_url: str, settings: Settings) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        for name in (settings.command_queue, settings.dead_letter_queue,
                     settings.openapp_inbox_queue):
            channel = await connection.channel()
            with contextlib.suppress(aio_pika.exceptions.AMQPError):
                await channel.queue_delete(name)


@pytest.fixture
async def start_adapter(settings: Settings, amqp_url: str) -> AsyncIterator[StartAdapter]:
    """Start a worker (``async with start_adapter(**overrides) as worker``)."""
    used: list[Settings] = []

    @asynccontextmanager
    async def start(
        *, driver_settings: Mapping[str, Any] | None = None, **overrides: Any
    ) -> AsyncIterator[Worker]:
        """``driver_settings``: the driver's own settings by field name (not from the
        environment). Each worker gets a metrics port of its own unless one is given (two
        workers of a test would contend for the fixture's)."""
        overrides.setdefault("metrics_port", free_port())
        configured = settings.model_copy(update=overrides)
        used.append(configured)
        cls = driver_class(configured.driver)
        driver = ConfiguredDriver(cls, drivers.driver_settings(cls, driver_settings))
        worker = Worker(configured, driver)
        running = asyncio.create_task(worker.run())
        started = asyncio.create_task(worker.started.wait())
        done, _ = await asyncio.wait({running, started}, timeout=15,
                                     return_when=asyncio.FIRST_COMPLETED)
        if running in done:
            started.cancel()
            running.result()
        assert started in done, "the adapter did not start"
        try:
            yield worker
        finally:
            worker.request_stop()
            await asyncio.wait_for(running, 20)

    yield start
    for configured in used:
        await delete_queues(amqp_url, configured)


@pytest.fixture
async def process_settings(settings: Settings, amqp_url: str) -> AsyncIterator[Settings]:
    """Settings for an adapter run as a separate process; its queues are deleted after."""
    configured = settings.model_copy(update={"inbox_queue": False})
    yield configured
    await delete_queues(amqp_url, configured)


@pytest.fixture
async def openapp(amqp_url: str, location_id: str) -> AsyncIterator[OpenAppClient]:
    async with OpenAppClient(amqp_url, location_id) as client:
        yield client


@pytest.fixture
async def adapter(start_adapter: StartAdapter) -> AsyncIterator[Worker]:
    async with start_adapter() as worker:
        yield worker


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Wait until ``check`` holds, re-checking on a short period (for state with no event)."""
    async with asyncio.timeout(timeout):
        while not await check():  # noqa: ASYNC110 - store state has no event to wait on
            await asyncio.sleep(0.05)
