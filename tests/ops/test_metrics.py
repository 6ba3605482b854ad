"""The worker's Prometheus endpoint counts what it did: commands in by type and outcome,
messages out once confirmed, POS calls, streams, the backlog, dead letters."""

from __future__ import annotations

import pytest

from adapter.metrics import Metrics
from adapter.settings import Settings
from adapter.testing import OpenAppClient
from pos_drivers.mock import MockPosControl
from tests.integration.conftest import StartAdapter, eventually, free_port
from tests.ops.conftest import Samples, scrape, value

pytestmark = pytest.mark.rabbitmq

SNAPSHOT = "TableOrderSnapshotRequested"
RESULT = "TableOrderSnapshotResolutionResult"


def _in(samples: Samples, outcome: str, message_type: str = SNAPSHOT) -> float:
    return value(samples, "pos_adapter_messages_in_total", type=message_type, outcome=outcome)


async def test_the_endpoint_shows_the_counts_of_a_scripted_run(
    start_adapter: StartAdapter, openapp: OpenAppClient, location_id: str
) -> None:
    port = free_port()
    async with start_adapter(metrics_port=port, watchdog_interval=0.2):
        resolved = [await openapp.send(SNAPSHOT, {"posTableId": f"T{n}", "tableSessionId": "s"})
                    for n in (1, 2, 3)]
        rejected = await openapp.send(SNAPSHOT, {"posTableId": "T404", "tableSessionId": "s"})
        for message_id in [*resolved, rejected]:
            await openapp.result_for(message_id)
        await openapp.send(SNAPSHOT, {"posTableId": "T1", "tableSessionId": "s"},
                           message_id=resolved[0])
        await openapp.send_raw(b"{not json", message_id="poison-1")
        await openapp.wait_count(lambda m: m.body["correlationId"] == resolved[0], 2)

        samples: Samples = {}

        async def settled() -> bool:
            nonlocal samples
            samples = await scrape(port)
            return (value(samples, "pos_adapter_dead_lettered_total") == 1
                    and _in(samples, "DUPLICATE") == 1
                    and value(samples, "pos_adapter_messages_out_total", type=RESULT) == 5
                    and value(samples, "pos_adapter_outbox_backlog") == 0)

        await eventually(settled)

    assert _in(samples, "RESOLVED") == 3
    assert _in(samples, "REJECTED:TABLE_NOT_FOUND") == 1
    assert _in(samples, "DEAD_LETTERED", message_type="unknown") == 1
    assert value(samples, "pos_adapter_handling_seconds_count", type=SNAPSHOT) == 5
    assert value(samples, "pos_adapter_pos_call_seconds_count",
                 driver="mock", operation="read_check") >= 4
    assert value(samples, "pos_adapter_pos_errors_total",
                 driver="mock", operation="read_check") == 0
    assert value(samples, "pos_adapter_active_streams") == 3
    assert value(samples, "pos_adapter_consumer_up", location=location_id) == 1
    assert value(samples, "pos_adapter_info", version="0.1.0") == 1
    assert value(samples, "pos_adapter_location_info", location=location_id, driver="mock") == 1
    assert value(samples, "pos_adapter_locations_served") == 1


async def test_pos_failures_are_counted_by_driver_and_operation(
    start_adapter: StartAdapter, openapp: OpenAppClient, pos: MockPosControl
) -> None:
    port = free_port()
    async with start_adapter(metrics_port=port):
        await pos.set_faults(down=True)
        result = await openapp.result_for(
            await openapp.send(SNAPSHOT, {"posTableId": "T1", "tableSessionId": "s"}))
        samples = await scrape(port)

    assert result.payload["rejection"]["reason"] == "POS_UNAVAILABLE"
    assert value(samples, "pos_adapter_pos_errors_total",
                 driver="mock", operation="read_check") >= 1
    assert _in(samples, "REJECTED:POS_UNAVAILABLE") == 1


async def test_port_0_serves_nothing(start_adapter: StartAdapter) -> None:
    async with start_adapter(metrics_port=0) as worker:
        assert worker.metrics_server.port is None


async def test_a_test_worker_serves_on_a_free_port_of_its_own(
    start_adapter: StartAdapter, settings: Settings
) -> None:
    elsewhere = f"{settings.location_id}-2"
    async with start_adapter() as first, start_adapter(location_id=elsewhere) as second:
        ports = {first.metrics_server.port, second.metrics_server.port}

    assert ports == {first.settings.metrics_port, second.settings.metrics_port}
    assert len(ports) == 2
    assert Settings.model_fields["metrics_port"].default not in ports  # not 9464


def test_each_worker_has_a_registry_of_its_own() -> None:
    first, second = Metrics(), Metrics()
    first.location("a", "mock").dead_lettered.inc()
    second.location("a", "mock")

    labels = {"location": "a"}
    assert first.registry.get_sample_value("pos_adapter_dead_lettered_total", labels) == 1
    assert second.registry.get_sample_value("pos_adapter_dead_lettered_total", labels) == 0


def test_a_location_given_up_leaves_the_gauges() -> None:
    metrics = Metrics()
    metrics.location("a", "mock").watchdog_checked(True, 1.0)
    metrics.location("b", "restai")

    metrics.forget("a")

    registry = metrics.registry
    assert registry.get_sample_value("pos_adapter_consumer_up", {"location": "a"}) is None
    assert registry.get_sample_value("pos_adapter_locations_served") == 1
    assert registry.get_sample_value("pos_adapter_location_info",
                                     {"location": "b", "driver": "restai"}) == 1
