"""PosHealthReported (contract §4.6): sent through the outbox every ``health_interval``."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from adapter.testing import OpenAppClient, Received
from pos_drivers.mock import MockPosControl
from tests.integration.conftest import StartAdapter

pytestmark = pytest.mark.rabbitmq

HEALTH = "PosHealthReported"


def is_report(message: Received) -> bool:
    return message.message_type == HEALTH


async def test_reports_arrive_periodically(
    start_adapter: StartAdapter, openapp: OpenAppClient, location_id: str
) -> None:
    async with start_adapter(health_interval=0.2):
        first, second = (await openapp.wait_count(is_report, 2))[:2]

    assert first.payload == {
        "healthy": True, "softwareName": "pos-adapter", "softwareVersion": version("pos-adapter"),
        "driver": "mock", "posReachable": True, "activeStreams": 0,
    }
    assert first.body["messageId"] != second.body["messageId"]
    assert first.body["correlationId"] is None
    assert first.routing_key == f"{location_id}.{HEALTH}"
    assert first.properties["type"] == HEALTH
    assert first.properties["delivery_mode"] == 2


async def test_reports_follow_the_streams_and_the_pos(
    start_adapter: StartAdapter, openapp: OpenAppClient, pos: MockPosControl
) -> None:
    async with start_adapter(health_interval=0.2):
        await openapp.result_for(await openapp.send(
            "TableOrderSnapshotRequested", {"posTableId": "T1", "tableSessionId": "s"}))
        streaming = await openapp.wait_for(
            lambda m: is_report(m) and m.payload["activeStreams"] == 1)
        await pos.set_faults(down=True)
        down = await openapp.wait_for(lambda m: is_report(m) and not m.payload["posReachable"])

    assert streaming.payload["healthy"] is True
    assert down.payload["healthy"] is False
