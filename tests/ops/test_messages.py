"""``pos-adapter messages`` beside a running adapter: the journal of what it received (poison
and duplicates included), what it published, and the links between them."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage

from adapter.settings import Settings
from adapter.testing import OpenAppClient
from tests.integration.conftest import StartAdapter
from tests.integration.test_cli import run_cli

pytestmark = pytest.mark.rabbitmq

SNAPSHOT = "TableOrderSnapshotRequested"
RESULT = "TableOrderSnapshotResolutionResult"


def request(table: str) -> dict[str, Any]:
    return {"posTableId": table, "tableSessionId": str(uuid.uuid4()), "reason": "SESSION_START"}


async def cli(settings: Settings, *args: str) -> tuple[int, str, str]:
    """``python -m adapter.cli ARGS`` configured as the running adapter is."""
    return await run_cli(*args, env={
        "POS_ADAPTER_AMQP_URL": settings.amqp_url,
        "POS_ADAPTER_LOCATION_ID": settings.location_id,
        "POS_ADAPTER_STORE_URL": settings.store_url,
        "POS_ADAPTER_COMMANDS_EXCHANGE": settings.commands_exchange,
        "POS_ADAPTER_EVENTS_EXCHANGE": settings.events_exchange,
    })


async def cli_json(settings: Settings, *args: str) -> Any:
    code, out, err = await cli(settings, *args, "--json")
    assert code == 0, err
    return json.loads(out)


async def first_dead_letter(amqp_url: str, queue_name: str) -> AbstractIncomingMessage:
    """Wait for the first copy on the (already declared) dead-letter queue."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        queue = await (await connection.channel()).get_queue(queue_name)
        async with queue.iterator() as messages:
            async for message in messages:
                await message.ack()
                return message
    raise AssertionError("the dead-letter queue was closed")


async def test_poison_and_duplicates_are_in_the_journal_with_their_outcomes(
    start_adapter: StartAdapter, openapp: OpenAppClient, settings: Settings, amqp_url: str
) -> None:
    async with start_adapter():
        dead_letter = asyncio.create_task(
            first_dead_letter(amqp_url, settings.dead_letter_queue)
        )
        await openapp.send_raw(b"{not json", message_id="poison-1")
        await dead_letter  # the journal entry is committed before the copy is published
        request_id = await openapp.send(SNAPSHOT, request("T6"))
        result = await openapp.result_for(request_id)
        await openapp.send(SNAPSHOT, request("T6"), message_id=request_id)
        await openapp.wait_count(lambda m: m.body["messageId"] == result.body["messageId"], 2)

        journal = await cli_json(settings, "messages", "list", "--direction", "in")

    assert [m["outcome"] for m in journal] == [
        "DEAD_LETTERED:body is not JSON", "RESOLVED", "DUPLICATE"]
    poison, handled, duplicate = journal
    # The messageId of a body that is not JSON is known from the AMQP properties only,
    # once the consumer passes them to the dispatcher.
    assert poison["messageId"] in (None, "poison-1")
    assert handled["messageId"] == duplicate["messageId"] == request_id
    assert handled["resultMessageId"] == duplicate["resultMessageId"] == result.body["messageId"]
    assert handled["posTableId"] == "T6"


async def test_show_links_a_command_its_result_and_its_stream(
    start_adapter: StartAdapter, openapp: OpenAppClient, settings: Settings
) -> None:
    async with start_adapter():
        request_id = await openapp.send(SNAPSHOT, request("T7"))
        result = await openapp.result_for(request_id)
        result_id = result.body["messageId"]

        command, answer, (code, text, err) = await asyncio.gather(
            cli_json(settings, "messages", "show", request_id),
            cli_json(settings, "messages", "show", result_id),
            cli(settings, "messages", "show", request_id),
        )

    [received] = command["records"]
    assert received["direction"] == "in"
    assert received["body"]["messageId"] == request_id
    assert received["outcome"] == "RESOLVED"
    assert [m["messageId"] for m in command["result"]] == [result_id]
    assert command["openedStream"]["streamId"] == result.payload["streamId"]
    [published] = answer["records"]
    assert published["body"] == result.body
    assert published["properties"]["message_id"] == result_id
    assert published["properties"]["correlation_id"] == request_id
    assert [m["messageId"] for m in answer["command"]] == [request_id]
    assert code == 0, err
    assert "Its result" in text
    assert result_id in text
    assert result.payload["streamId"] in text
