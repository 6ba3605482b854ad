"""The consumer watchdog: a consumer lost behind the worker's back is registered again;
when that fails, the worker stops with a non-zero exit code for its supervisor."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from adapter.amqp import CommandConsumer
from adapter.settings import Settings
from adapter.testing import OpenAppClient
from adapter.worker import EXIT_CONSUMER_LOST, Worker
from tests.integration.conftest import StartAdapter, delete_queues, eventually, free_port
from tests.integration.test_broker_faults import close_connections_of
from tests.ops.conftest import scrape, value

pytestmark = pytest.mark.rabbitmq

SNAPSHOT = "TableOrderSnapshotRequested"


async def lose_consumer(worker: Worker) -> str:
    """Cancel the worker's consumer through its own channel, as a lost consumer looks."""
    consumer = worker.consumer
    assert consumer is not None
    tag = consumer.tag
    assert tag is not None
    await consumer.queue.cancel(tag)
    return tag


async def test_a_lost_consumer_is_registered_again(
    start_adapter: StartAdapter, openapp: OpenAppClient
) -> None:
    port = free_port()
    async with start_adapter(watchdog_interval=0.2, metrics_port=port) as worker:
        consumer = worker.consumer
        assert consumer is not None
        lost = await lose_consumer(worker)

        async def registered_again() -> bool:
            return consumer.tag not in (None, lost) and await consumer.registered(1.0) is True

        await eventually(registered_again)
        result = await openapp.result_for(
            await openapp.send(SNAPSHOT, {"posTableId": "T1", "tableSessionId": "s"}))
        samples = await scrape(port)

    assert result.payload["outcome"] == "RESOLVED"
    assert value(samples, "pos_adapter_consumer_restarts_total") == 1
    assert value(samples, "pos_adapter_consumer_up", location=worker.settings.location_id) == 1


async def test_the_worker_exits_non_zero_when_the_consumer_cannot_be_registered_again(
    settings: Settings, amqp_url: str, openapp: OpenAppClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    configured = settings.model_copy(update={"watchdog_interval": 0.2, "metrics_port": 0})
    worker = Worker(configured)
    running = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(worker.started.wait(), 15)
        answered = await openapp.result_for(
            await openapp.send(SNAPSHOT, {"posTableId": "T1", "tableSessionId": "s"}))

        async def refuse(self: CommandConsumer) -> None:
            raise RuntimeError("the broker refuses the consumer")

        monkeypatch.setattr(CommandConsumer, "start", refuse)
        await lose_consumer(worker)

        code = await asyncio.wait_for(running, 20)
    finally:
        if not running.done():
            worker.request_stop()
            await asyncio.wait_for(running, 20)
        await delete_queues(amqp_url, configured)

    assert answered.payload["outcome"] == "RESOLVED"
    assert code == EXIT_CONSUMER_LOST != 0


@pytest.mark.skipif(shutil.which("rabbitmqctl") is None, reason="needs a local rabbitmqctl")
async def test_a_reconnect_is_left_to_the_robust_connection(
    start_adapter: StartAdapter, openapp: OpenAppClient, location_id: str
) -> None:
    port = free_port()
    async with start_adapter(watchdog_interval=0.2, metrics_port=port) as worker:
        consumer = worker.consumer
        assert consumer is not None
        tag = consumer.tag

        assert await close_connections_of(location_id) == 1
        result = await openapp.result_for(
            await openapp.send(SNAPSHOT, {"posTableId": "T1", "tableSessionId": "s"}),
            timeout=30)
        samples = await scrape(port)
        restored = consumer.tag

    assert result.payload["outcome"] == "RESOLVED"
    # aio-pika restored the same consumer; the watchdog did not add a second one.
    assert restored == tag
    assert value(samples, "pos_adapter_consumer_restarts_total") == 0
