"""``pos-adapter streams`` beside a running adapter: the stream a snapshot request opened,
with its baseline; a change of it links to that request (``messages show``)."""

from __future__ import annotations

import asyncio

import pytest

from adapter.settings import Settings
from adapter.testing import OpenAppClient
from pos_drivers.mock import MockPosControl
from tests.integration.conftest import StartAdapter
from tests.ops.test_messages import SNAPSHOT, cli, cli_json, request

pytestmark = pytest.mark.rabbitmq


async def test_a_snapshot_request_shows_its_stream_and_baseline(
    start_adapter: StartAdapter, openapp: OpenAppClient, pos: MockPosControl,
    settings: Settings,
) -> None:
    await pos.add_waiter_lines(
        "T3", [{"productId": "ceviche", "quantity": 2}, {"productId": "chicha", "quantity": 1}]
    )
    async with start_adapter():
        payload = request("T3")
        request_id = await openapp.send(SNAPSHOT, payload)
        result = await openapp.result_for(request_id)
        stream_id = result.payload["streamId"]
        await pos.add_waiter_lines("T3", [{"productId": "chicha", "quantity": 1}])
        [change] = await openapp.wait_changes(stream_id, 1)

        listed, shown, (code, text, err), change_shown = await asyncio.gather(
            cli_json(settings, "streams", "list", "--status", "ACTIVE"),
            cli_json(settings, "streams", "show", "T3"),
            cli(settings, "streams", "show", "T3"),
            cli_json(settings, "messages", "show", change.body["messageId"]),
        )

    [stream] = listed
    assert stream["streamId"] == stream_id
    assert stream["posTableId"] == "T3"
    assert stream["status"] == "ACTIVE"
    assert stream["lastSequence"] == 1
    assert stream["sessionIds"] == [payload["tableSessionId"]]
    assert stream["openingMessageId"] == request_id
    assert shown["stream"]["streamId"] == stream_id
    assert shown["stream"]["baseline"] == change.payload["snapshot"]
    assert shown["history"] == []
    assert code == 0, err
    for expected in (stream_id, "ACTIVE", "Ceviche", "70.00", "total 88.00 PEN"):
        assert expected in text
    assert [m["messageId"] for m in change_shown["openedBy"]] == [request_id]
    assert change_shown["records"][0]["body"]["payload"]["sequence"] == 1
