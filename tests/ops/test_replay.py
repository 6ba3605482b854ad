"""``pos-adapter replay`` beside a running adapter: a result OpenApp lost is found with
``messages`` and published again with its messageId; commands go back to the adapter,
answered from its inbox, or afresh with ``--reprocess``."""

from __future__ import annotations

import asyncio
import json

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage

from adapter.settings import Settings
from adapter.testing import OpenAppClient
from schemas import REPLAY_HEADER
from tests.integration.conftest import StartAdapter
from tests.ops.test_messages import RESULT, SNAPSHOT, cli_json, request

pytestmark = pytest.mark.rabbitmq


async def all_before_now(openapp: OpenAppClient, settings: Settings) -> None:
    """Wait until everything published to the client's queue so far has been received:
    a marker published now is queued behind it, so its arrival means theirs."""
    marker = f"marker-{id(openapp)}"
    events = await openapp.channel.get_exchange(settings.events_exchange)
    body = json.dumps({"messageId": marker, "messageType": "Marker"}).encode()
    await events.publish(aio_pika.Message(body), routing_key=f"{settings.location_id}.Marker")
    await openapp.wait_for(lambda m: m.body["messageId"] == marker)


async def test_a_result_lost_on_the_openapp_side_is_found_and_published_again(
    start_adapter: StartAdapter, settings: Settings, amqp_url: str, location_id: str
) -> None:
    async with start_adapter():
        async with OpenAppClient(amqp_url, location_id) as lost:  # a throwaway queue
            request_id = await lost.send(SNAPSHOT, request("T2"))
            original = await lost.result_for(request_id)
        result_id = original.body["messageId"]

        listed = await cli_json(settings, "messages", "list", "--type", RESULT)
        [found] = [m for m in listed if m["correlationId"] == request_id]
        assert found["messageId"] == result_id
        assert found["direction"] == "out"

        async with OpenAppClient(amqp_url, location_id) as openapp:
            planned = await cli_json(settings, "replay", "--message-id", result_id)
            done = await cli_json(settings, "replay", "--message-id", result_id, "--execute")
            await all_before_now(openapp, settings)

    step = {
        "direction": "out", "messageId": result_id, "replayOf": None, "messageType": RESULT,
        "posTableId": "T2", "exchange": "openapp.events",
        "routingKey": f"{location_id}.{RESULT}",
    }
    assert planned == {"executed": False, "messages": [{**step, "result": "planned"}],
                       "skipped": []}
    assert done == {"executed": True, "messages": [{**step, "result": "published"}],
                    "skipped": []}
    # One copy: the one --execute published (the plan published nothing).
    [again] = [m for m in openapp.received if m.body["messageId"] == result_id]
    assert again.body == original.body
    assert again.properties == original.properties  # as the outbox relay sent it
    assert again.routing_key == original.routing_key


class CommandTap:
    """Sees what reaches the command exchange for the location."""

    def __init__(self) -> None:
        self.messages: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()

    async def attach(self, openapp: OpenAppClient, settings: Settings) -> None:
        commands = await openapp.channel.get_exchange(settings.commands_exchange)
        queue = await openapp.channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(commands, routing_key=f"{settings.location_id}.#")
        await queue.consume(self._on_message, no_ack=True)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        await self.messages.put(message)

    async def take(self, count: int) -> list[AbstractIncomingMessage]:
        async with asyncio.timeout(10):
            return [await self.messages.get() for _ in range(count)]


async def test_a_replayed_command_is_answered_from_the_inbox_or_afresh_with_reprocess(
    start_adapter: StartAdapter, openapp: OpenAppClient, settings: Settings
) -> None:
    tap = CommandTap()
    await tap.attach(openapp, settings)
    async with start_adapter():
        request_id = await openapp.send(SNAPSHOT, request("T4"))
        first = await openapp.result_for(request_id)
        result_id = first.body["messageId"]

        replayed = await cli_json(settings, "replay", "--message-id", request_id, "--execute")
        await openapp.wait_count(lambda m: m.body["messageId"] == result_id, 2)
        reprocessed = await cli_json(
            settings, "replay", "--message-id", request_id, "--execute", "--reprocess"
        )
        [step] = reprocessed["messages"]
        fresh = await openapp.result_for(step["messageId"])
        journal = await cli_json(settings, "messages", "list", "--direction", "in")

    assert replayed["messages"] == [{
        "direction": "in", "messageId": request_id, "replayOf": None, "messageType": SNAPSHOT,
        "posTableId": "T4", "exchange": "openapp.commands",
        "routingKey": f"{settings.location_id}.{SNAPSHOT}", "result": "published",
    }]
    assert step["replayOf"] == request_id
    assert step["messageId"] != request_id
    assert step["result"] == "published"
    # Handled afresh: a new result, for the same stream (an idempotent read).
    assert fresh.body["messageId"] != result_id
    assert fresh.payload["outcome"] == "RESOLVED"
    assert fresh.payload["streamId"] == first.payload["streamId"]
    assert [(m["messageId"], m["outcome"]) for m in journal] == [
        (request_id, "RESOLVED"), (request_id, "DUPLICATE"), (step["messageId"], "RESOLVED")]

    original, again, new = await tap.take(3)
    assert again.body == original.body
    assert again.message_id == request_id
    assert again.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert new.message_id == step["messageId"]
    assert json.loads(new.body) == {**json.loads(original.body), "messageId": step["messageId"]}
    assert (new.headers or {})[REPLAY_HEADER] == request_id
