"""``pos-adapter dlq``, driven as an operator would: the real CLI in a subprocess, against a
running adapter and the real broker. Reading must leave the queue exactly as it was (order
and count) on quorum and classic queues; destructive commands do nothing without
``--execute``."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel
from typer.testing import CliRunner

from adapter import amqp
from adapter.amqp import _consumer
from adapter.ops import dlq
from adapter.ops.dead_letters import json_safe
from adapter.settings import QueueType, Settings
from adapter.testing import OpenAppClient, command
from handlers import Incoming, SnapshotHandler
from schemas import ERROR_HEADER
from tests.integration import conftest as integration
from tests.integration.conftest import StartAdapter, eventually

pytestmark = pytest.mark.rabbitmq

# The integration suite's fixtures (an adapter in the test's loop, the mock POS, OpenApp's
# side), taken by name rather than through tests/ops/conftest.py, which others own.
mock_pos = integration.mock_pos
openapp = integration.openapp
settings = integration.settings
start_adapter = integration.start_adapter

SNAPSHOT = "TableOrderSnapshotRequested"
MANY = 40  # over 32: beyond that, a quorum queue batches nacked messages out of order


async def run_dlq(settings: Settings, *args: str) -> tuple[int, str, str]:
    """``pos-adapter dlq ...`` as a separate process, configured like the adapter."""
    env = {
        **os.environ,
        "COLUMNS": "200",
        "POS_ADAPTER_AMQP_URL": settings.amqp_url,
        "POS_ADAPTER_LOCATION_ID": settings.location_id,
        "POS_ADAPTER_QUEUE_TYPE": settings.queue_type.value,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapter.cli", "dlq", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def dlq_json(settings: Settings, *args: str) -> Any:
    code, out, err = await run_dlq(settings, *args, "--json")
    assert code == 0, err
    return json.loads(out)


async def listed_ids(settings: Settings) -> list[str]:
    listing = await dlq_json(settings, "list", "--limit", "0")
    return [row["messageId"] for row in listing["messages"]]


class DlqProbe:
    """The test's own hands on the location's dead-letter queue (not the CLI's)."""

    def __init__(self, channel: AbstractChannel, settings: Settings) -> None:
        self.channel = channel
        self.settings = settings

    async def put(self, body: bytes, **properties: Any) -> None:
        """Dead-letter a message by hand, as the adapter does (confirmed)."""
        exchange = await self.channel.get_exchange(self.settings.dead_letter_exchange)
        message = aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                                   **properties)
        await exchange.publish(message, routing_key=self.settings.location_id, mandatory=True)

    async def put_command(self, message_id: str, reason: str) -> None:
        body = command(SNAPSHOT, {"posTableId": "T1", "tableSessionId": "s"},
                       location_id=self.settings.location_id, message_id=message_id)
        await self.put(json.dumps(body).encode(), message_id=message_id, type=SNAPSHOT,
                       content_type="application/json",
                       headers={ERROR_HEADER: reason, "schemaVersion": 1})

    async def count(self) -> int:
        queue = await self.channel.declare_queue(self.settings.dead_letter_queue, passive=True)
        assert queue.declaration_result is not None
        return int(queue.declaration_result.message_count or 0)

    async def wait_count(self, count: int) -> None:
        async def reached() -> bool:
            return await self.count() == count

        await eventually(reached)


@pytest.fixture
async def connection(amqp_url: str) -> AsyncIterator[aio_pika.abc.AbstractConnection]:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        yield connection


async def dead_letters(connection: aio_pika.abc.AbstractConnection,
                       settings: Settings) -> DlqProbe:
    return DlqProbe(await connection.channel(), settings)


@pytest.fixture
async def idle_location(
    connection: aio_pika.abc.AbstractConnection, amqp_url: str, location_id: str
) -> AsyncIterator[DlqProbe]:
    """A location's queues as its adapter declares them, with no adapter running."""
    settings = Settings(amqp_url=amqp_url, location_id=location_id)
    channel = await connection.channel()
    await amqp.declare_topology(channel, settings)
    yield DlqProbe(channel, settings)
    await integration.delete_queues(amqp_url, settings)


@pytest.mark.parametrize("queue_type", [QueueType.QUORUM, QueueType.CLASSIC])
async def test_list_and_dump_leave_the_queue_as_it_was(
    start_adapter: StartAdapter,
    openapp: OpenAppClient,
    connection: aio_pika.abc.AbstractConnection,
    settings: Settings,
    tmp_path: Path,
    queue_type: QueueType,
) -> None:
    settings = settings.model_copy(update={"queue_type": queue_type})
    async with start_adapter(queue_type=queue_type):
        queue = await dead_letters(connection, settings)
        poison_id = f"poison-{uuid.uuid4().hex[:8]}"
        await openapp.send_raw(b"{not json", message_id=poison_id)
        await queue.wait_count(1)
        ids = [poison_id] + [f"cmd-{i:02d}" for i in range(MANY)]
        for index, message_id in enumerate(ids[1:]):
            await queue.put_command(message_id, f"handler bug #{index}")
        await queue.put(b"\xff\xfe not utf-8", message_id="binary",
                        headers={ERROR_HEADER: "body is not UTF-8"})
        ids.append("binary")

        dump_file = tmp_path / "dlq.jsonl"
        code, _out, err = await run_dlq(settings, "dump", "--out", str(dump_file))

        assert code == 0, err
        assert f"dumped {len(ids)} messages" in err
        lines = [json.loads(line) for line in dump_file.read_text().splitlines()]
        assert [line["position"] for line in lines] == list(range(1, len(ids) + 1))
        assert [line["properties"]["message_id"] for line in lines] == ids
        assert base64.b64decode(lines[0]["body_base64"]) == b"{not json"
        assert lines[0]["body_text"] == "{not json"
        assert lines[1]["properties"]["headers"][ERROR_HEADER] == "handler bug #0"
        assert lines[1]["properties"]["type"] == SNAPSHOT
        assert lines[1]["properties"]["delivery_mode"] == 2
        assert json.loads(lines[1]["body_text"])["messageId"] == "cmd-00"
        assert base64.b64decode(lines[-1]["body_base64"]) == b"\xff\xfe not utf-8"
        assert "body_text" not in lines[-1]

        code, out, err = await run_dlq(settings, "list", "--limit", "3")

        assert code == 0, err
        assert f"{settings.dead_letter_queue}: {len(ids)} messages" in out
        assert out.index(poison_id) < out.index("cmd-00") < out.index("cmd-01")
        assert "cmd-02" not in out
        assert "handler bug #0" in out
        assert "showing the first 3" in out

        # The same messages, in the same order, after a dump and a partial list.
        listing = await dlq_json(settings, "list", "--limit", "0")
        assert listing["queue"] == settings.dead_letter_queue
        assert listing["total"] == len(ids)
        rows = listing["messages"]
        assert [row["messageId"] for row in rows] == ids
        assert [row["position"] for row in rows] == list(range(1, len(ids) + 1))
        assert "JSON" in rows[0]["reason"]
        assert rows[0]["size"] == len(b"{not json")
        assert rows[1]["type"] == SNAPSHOT
        assert rows[1]["reason"] == "handler bug #0"
        assert await queue.count() == len(ids)


async def test_a_fixed_command_is_replayed_after_a_plan_that_changes_nothing(
    start_adapter: StartAdapter,
    openapp: OpenAppClient,
    connection: aio_pika.abc.AbstractConnection,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = True
    original = SnapshotHandler.handle

    async def crash_on_t13(self: SnapshotHandler, incoming: Incoming) -> str:
        if broken and incoming.command.pos_table_id == "T13":
            raise RuntimeError("bug triggered by T13")
        return await original(self, incoming)

    monkeypatch.setattr(SnapshotHandler, "handle", crash_on_t13)
    monkeypatch.setattr(_consumer, "CRASH_PAUSE", 0.01)
    async with start_adapter(max_redeliveries=1):
        queue = await dead_letters(connection, settings)
        message_id = await openapp.send(SNAPSHOT, {"posTableId": "T13", "tableSessionId": "s"})
        await queue.wait_count(1)  # dead-lettered on its last allowed delivery
        await queue.put(b"{not json", message_id="poison", type="raw",
                        headers={ERROR_HEADER: "body is not JSON"})

        code, out, err = await run_dlq(settings, "show", "poison")
        assert code == 0, err
        assert "b'{not json'" in out
        assert ERROR_HEADER in out
        shown = await dlq_json(settings, "show", "1")
        assert shown["body_json"]["messageId"] == message_id
        why = shown["properties"]["headers"][ERROR_HEADER]
        assert "the handler failed on each of 2 deliveries" in why
        assert "bug triggered by T13" in why

        plan = await dlq_json(settings, "replay", "--all")

        assert plan["execute"] is False
        first, second = plan["messages"]
        assert first["messageId"] == message_id
        assert "bug triggered by T13" in first["reason"]
        assert first["action"] == "replay"
        assert first["routingKey"] == f"{settings.location_id}.{SNAPSHOT}"
        assert first["outcome"] == "planned"
        assert second["action"] == "skip"
        assert "raw" in second["skipReason"]
        code, out, err = await run_dlq(settings, "replay", "--message-id", message_id,
                                       "--message-id", "nope")
        assert code == 1, err  # one of them is not there
        assert "Nothing was changed" in out
        assert f"{settings.location_id}.{SNAPSHOT}" in out
        assert "not in the queue: nope" in out
        assert await queue.count() == 2
        assert not [m for m in openapp.received if m.body.get("correlationId") == message_id]

        broken = False
        code, out, err = await run_dlq(
            settings, "replay", "--message-id", message_id, "--execute", "--rate", "50"
        )

        assert code == 0, err
        assert "Replayed 1 of 1" in out
        result = await openapp.result_for(message_id)
        assert result.payload["outcome"] == "RESOLVED"
        assert await listed_ids(settings) == ["poison"]


async def test_replay_of_a_classic_queue_letter_keeps_its_message_id(
    start_adapter: StartAdapter,
    openapp: OpenAppClient,
    connection: aio_pika.abc.AbstractConnection,
    settings: Settings,
) -> None:
    settings = settings.model_copy(update={"queue_type": QueueType.CLASSIC})
    async with start_adapter(queue_type=QueueType.CLASSIC):
        queue = await dead_letters(connection, settings)
        message_id = str(uuid.uuid4())
        await queue.put_command(message_id, "the store was down")

        report = await dlq_json(settings, "replay", "--all", "--execute")

        assert report["replayed"] == 1
        assert report["messages"][0]["outcome"] == "replayed"
        result = await openapp.result_for(message_id)
        assert result.payload["outcome"] == "RESOLVED"
        assert await queue.count() == 0


async def test_a_replay_that_cannot_be_routed_stops_and_removes_nothing(
    idle_location: DlqProbe,
) -> None:
    queue, settings = idle_location, idle_location.settings
    await queue.channel.queue_delete(settings.command_queue)  # no queue for the commands
    for index in range(2):
        await queue.put_command(f"cmd-{index}", "bug")

    code, out, err = await run_dlq(settings, "replay", "--all", "--execute", "--json")

    assert code == 1, err
    report = json.loads(out)
    assert [m["outcome"] for m in report["messages"]] == ["failed", "not-tried"]
    assert "unroutable" in report["messages"][0]["error"]
    assert report["replayed"] == 0
    assert await listed_ids(settings) == ["cmd-0", "cmd-1"]


async def test_purge_prints_its_plan_and_purges_only_with_execute(
    idle_location: DlqProbe,
) -> None:
    queue, settings = idle_location, idle_location.settings
    for index in range(3):
        await queue.put_command(f"cmd-{index}", "bug")

    code, out, err = await run_dlq(settings, "purge")
    assert code == 0, err
    assert "delete the 3 messages" in out
    assert "--execute" in out
    assert await queue.count() == 3

    report = await dlq_json(settings, "purge", "--execute")

    assert report == {"queue": settings.dead_letter_queue, "execute": True, "deleted": 3}
    assert await queue.count() == 0


async def test_a_missing_queue_is_one_line_on_stderr(amqp_url: str, location_id: str) -> None:
    settings = Settings(amqp_url=amqp_url, location_id=location_id)

    code, out, err = await run_dlq(settings, "list")

    assert code == 1
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert settings.dead_letter_queue in err


@pytest.mark.parametrize("args", [[], ["--all", "--message-id", "x"], ["--all", "--rate", "0"]])
def test_replay_wants_to_be_told_which_messages_and_how(args: list[str]) -> None:
    result = CliRunner().invoke(dlq.app, ["replay", *args])

    assert result.exit_code == 2
    assert "--message-id" in result.stderr or "--rate" in result.stderr


def test_header_values_become_json() -> None:
    moment = datetime(2026, 11, 21, 19, 0, tzinfo=UTC)
    headers = {"x-death": [{"time": moment, "count": 1, "routing-keys": ["a.b"]}],
               "raw": b"\xff", "array": bytearray(b"ok"), "price": Decimal("1.50")}

    assert json_safe(headers) == {
        "x-death": [{"time": "2026-11-21T19:00:00+00:00", "count": 1, "routing-keys": ["a.b"]}],
        "raw": "/w==", "array": "b2s=", "price": "1.50",
    }
