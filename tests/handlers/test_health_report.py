"""The health report pings the POS only when none of our calls got an answer lately."""

from __future__ import annotations

import json

import pytest

from adapter.health_report import HealthReporter
from adapter.instrumented import meter
from adapter.metrics import Metrics
from pos_drivers import PosUnavailable
from tests.handlers.conftest import Harness

INTERVAL = 60.0


def reporter(harness: Harness) -> HealthReporter:
    metrics = Metrics().location(harness.ctx.location_id, harness.ctx.driver.name)
    meter(harness.ctx.driver, metrics)
    return HealthReporter(harness.ctx, interval=INTERVAL, ping_timeout=2.0,
                          consumer_up=lambda: True, active_streams=lambda: 0,
                          last_pos_answer=lambda: metrics.last_pos_answer)


def reported(harness: Harness) -> list[bool]:
    bodies = [json.loads(row.message.body) for row in harness.published]
    return [b["payload"]["posReachable"] for b in bodies
            if b["messageType"] == "PosHealthReported"]


async def test_a_recent_answer_stands_for_the_ping(harness: Harness) -> None:
    health = reporter(harness)
    await health.report()  # nothing answered yet: pinged
    pinged = len(harness.pos_api_requests())
    await harness.ctx.driver.read_check("T1")
    await health.report()

    assert len(harness.pos_api_requests()) == pinged + 1  # the read, no second ping
    assert pinged == 1
    assert reported(harness) == [True, True]


async def test_a_failed_call_makes_the_next_report_ping(harness: Harness) -> None:
    health = reporter(harness)
    await harness.ctx.driver.read_check("T1")
    await harness.pos.set_faults(down=True)
    with pytest.raises(PosUnavailable):
        await harness.ctx.driver.read_check("T1")
    await health.report()

    assert reported(harness) == [False]
