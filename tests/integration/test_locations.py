"""One process, many locations (a locations file): each location answers its own commands
and keeps its own streams, and a slow POS of one never holds up another."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapter.locations import load_locations
from adapter.settings import Settings
from adapter.testing import OpenAppClient
from adapter.worker import Worker
from pos_drivers.mock import MockPosControl, MockPosServer
from tests.integration.conftest import delete_queues, free_port
from tests.integration.test_cli import run_cli
from tests.ops.conftest import scrape, value

pytestmark = pytest.mark.rabbitmq

SNAPSHOT = "TableOrderSnapshotRequested"


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Worker]:
    worker = Worker(settings, locations=load_locations(settings))
    running = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(worker.started.wait(), 15)
        yield worker
    finally:
        worker.request_stop()
        await asyncio.wait_for(running, 20)
        for location in worker.locations.values():
            await delete_queues(settings.amqp_url, location.settings)


async def test_each_location_of_the_file_is_served_on_its_own(
    settings: Settings, tmp_path: Path, amqp_url: str
) -> None:
    fast_id, slow_id = (f"t-{uuid.uuid4().hex[:10]}" for _ in range(2))
    async with (
        MockPosServer() as fast, MockPosServer() as slow,
        MockPosControl(fast.url) as fast_pos, MockPosControl(slow.url) as slow_pos,
        OpenAppClient(amqp_url, fast_id) as fast_app, OpenAppClient(amqp_url, slow_id) as slow_app,
    ):
        locations = tmp_path / "locations.toml"
        locations.write_text(
            f'[[location]]\nid = "{fast_id}"\npos_url = "{fast.url}"\ncurrency = "USD"\n\n'
            f'[[location]]\nid = "{slow_id}"\npos_url = "{slow.url}"\npos_deadline = 6\n'
            'pos_request_timeout = 3\n'
        )
        port = free_port()
        configured = settings.model_copy(update={
            "locations_file": locations, "metrics_port": port, "inbox_queue": False})
        await slow_pos.set_faults(latency_ms=1500)
        await fast_pos.add_waiter_lines("T1", [{"productId": "ceviche", "quantity": 1}])
        async with serving(configured) as worker:
            slow_asked = await slow_app.send(SNAPSHOT, {"posTableId": "T1",
                                                        "tableSessionId": "s"})
            fast_asked = await fast_app.send(SNAPSHOT, {"posTableId": "T1",
                                                        "tableSessionId": "s"})
            fast_answer = await fast_app.result_for(fast_asked)
            slow_pending = not [m for m in slow_app.received
                                if m.body["correlationId"] == slow_asked]
            slow_answer = await slow_app.result_for(slow_asked, timeout=15)
            await fast_pos.add_waiter_lines("T1", [{"productId": "chicha", "quantity": 1}])
            [change] = await fast_app.wait_changes(fast_answer.payload["streamId"], 1)
            samples = await scrape(port)
            assert sorted(worker.serving) == sorted([fast_id, slow_id])

    assert slow_pending, "the fast location was answered while the slow one was still reading"
    assert fast_answer.payload["snapshot"]["currency"] == "PEN"  # the POS says it (not the default)
    assert fast_answer.routing_key == f"{fast_id}.TableOrderSnapshotResolutionResult"
    assert slow_answer.payload["outcome"] == "RESOLVED", slow_answer.payload
    assert slow_answer.payload["snapshot"]["lines"] == []  # its own POS: no waiter line
    assert change.payload["changeType"] == "POS_LINE_ADDED"
    assert change.routing_key == f"{fast_id}.TableOrderSnapshotChanged"
    for location in (fast_id, slow_id):
        assert value(samples, "pos_adapter_consumer_up", location=location) == 1
        assert value(samples, "pos_adapter_messages_in_total", location=location,
                     type=SNAPSHOT, outcome="RESOLVED") == 1
    assert value(samples, "pos_adapter_locations_served") == 2


async def test_operator_commands_take_the_location(
    settings: Settings, tmp_path: Path, amqp_url: str
) -> None:
    first, second = (f"t-{uuid.uuid4().hex[:10]}" for _ in range(2))
    async with (
        MockPosServer() as server,
        OpenAppClient(amqp_url, first) as first_app, OpenAppClient(amqp_url, second) as second_app,
    ):
        locations = tmp_path / "locations.toml"
        locations.write_text(f'[[location]]\nid = "{first}"\n\n[[location]]\nid = "{second}"\n')
        configured = settings.model_copy(update={
            "locations_file": locations, "pos_url": server.url, "inbox_queue": False})
        env = {"POS_ADAPTER_AMQP_URL": amqp_url, "POS_ADAPTER_STORE_URL": configured.store_url,
               "POS_ADAPTER_LOCATIONS_FILE": str(locations)}
        async with serving(configured):
            for app, table in ((first_app, "T1"), (second_app, "T2")):
                await app.result_for(await app.send(SNAPSHOT, {"posTableId": table,
                                                               "tableSessionId": "s"}))
            unsaid = await run_cli("streams", "list", env=env)
            listed = await run_cli("streams", "list", "--location", second, "--json", env=env)
            resynced = await run_cli("resync", "T2", "--location", second, env=env)

    code, out, err = unsaid
    assert code == 2
    assert "say which with --location" in err
    code, out, err = listed
    assert code == 0, err
    assert [(s["locationId"], s["posTableId"]) for s in json.loads(out)] == [(second, "T2")]
    code, out, err = resynced
    assert code == 0, err
    assert "T2: 0 change(s) pushed" in out
