"""The exchanges and queues of contract §1, as the adapter declares them."""

from __future__ import annotations

import aio_pika
import pytest

from adapter.amqp import command_queue_arguments
from adapter.settings import QueueType, Settings
from adapter.testing import OpenAppClient
from adapter.worker import Worker
from tests.integration.conftest import StartAdapter

pytestmark = pytest.mark.rabbitmq


@pytest.mark.parametrize("queue_type", [QueueType.QUORUM, QueueType.CLASSIC])
async def test_the_command_queue_is_declared_as_configured(
    start_adapter: StartAdapter, amqp_url: str, queue_type: QueueType
) -> None:
    async with start_adapter(queue_type=queue_type) as worker:
        settings = worker.settings
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            # Declaring again with the same arguments succeeds only if they are equivalent.
            await channel.declare_queue(
                settings.command_queue, durable=True, arguments=command_queue_arguments(settings)
            )
            await channel.declare_queue(
                settings.dead_letter_queue, durable=True,
                arguments={"x-queue-type": settings.dead_letter_queue_type.value},
            )
            await channel.declare_queue(
                settings.openapp_inbox_queue, durable=True,
                arguments={"x-message-ttl": int(settings.inbox_ttl * 1000)},
            )

    arguments = command_queue_arguments(settings)
    assert arguments["x-dead-letter-exchange"] == "openapp.dead-letter"
    assert arguments["x-dead-letter-routing-key"] == settings.location_id
    assert arguments["x-single-active-consumer"] is True
    if queue_type is QueueType.QUORUM:
        assert arguments["x-queue-type"] == "quorum"
        assert arguments["x-delivery-limit"] == settings.max_redeliveries


async def test_results_wait_in_the_inbox_queue_until_openapp_binds(
    adapter: Worker, openapp: OpenAppClient, amqp_url: str, settings: Settings
) -> None:
    message_id = await openapp.send(
        "TableOrderSnapshotRequested", {"posTableId": "T1", "tableSessionId": "s"}
    )
    await openapp.result_for(message_id)

    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        inbox = await channel.get_queue(settings.openapp_inbox_queue)
        kept = await inbox.get(no_ack=True, fail=False)

    assert kept is not None
    assert kept.correlation_id == message_id
    assert kept.routing_key == f"{settings.location_id}.TableOrderSnapshotResolutionResult"


@pytest.mark.parametrize("existing", [QueueType.QUORUM, QueueType.CLASSIC])
async def test_a_dead_letter_queue_of_another_type_is_kept(
    start_adapter: StartAdapter, amqp_url: str, settings: Settings, existing: QueueType
) -> None:
    """An adapter upgraded with another dead-letter queue type keeps the queue it had."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(settings.dead_letter_queue, durable=True,
                                    arguments={"x-queue-type": existing.value})
    wanted = QueueType.CLASSIC if existing is QueueType.QUORUM else QueueType.QUORUM

    async with start_adapter(dead_letter_queue_type=wanted) as worker:
        assert worker.started.is_set()
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            await channel.declare_queue(settings.dead_letter_queue, durable=True,
                                        arguments={"x-queue-type": existing.value})
