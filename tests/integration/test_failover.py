"""Two adapters for one location on a shared PostgreSQL store: the lease holder serves,
the other stands by, and takes over when the holder is killed, the change stream going on
without a lost or repeated sequence number (contract §1)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine

from adapter.settings import Settings
from adapter.store import leases
from adapter.testing import OpenAppClient
from pos_drivers.mock import MockPosControl
from tests.conftest import _create_database, _drop_database
from tests.integration.test_process import AdapterProcess

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]

STANDBY = "standby: another adapter holds this location's lease"
SERVING = "serving location"


@pytest.fixture
async def shared_store(postgres_url: str) -> AsyncIterator[str]:
    name, url = await _create_database(postgres_url)
    try:
        yield url
    finally:
        await _drop_database(postgres_url, name)


async def spawn(adapter: AdapterProcess, event: str) -> None:
    adapter.process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapter.cli", "run",
        env=adapter.env, stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
    )
    await adapter.wait_log(event, timeout=30)


async def test_the_standby_takes_over_the_stream_when_the_holder_dies(
    process_settings: Settings, shared_store: str, openapp: OpenAppClient, pos: MockPosControl
) -> None:
    settings = process_settings.model_copy(update={"store_url": shared_store})
    env = {"POS_ADAPTER_LEASE_TTL": "1.5", "POS_ADAPTER_METRICS_PORT": "0"}
    holder, standby = AdapterProcess(settings, **env), AdapterProcess(settings, **env)
    await spawn(holder, SERVING)
    await spawn(standby, STANDBY)
    try:
        await pos.add_waiter_lines("T3", [{"productId": "causa", "quantity": 1}])
        opened = await openapp.result_for(await openapp.send(
            "TableOrderSnapshotRequested", {"posTableId": "T3", "tableSessionId": "s-1"}))
        stream_id = opened.payload["streamId"]
        await pos.add_waiter_lines("T3", [{"productId": "chicha", "quantity": 1}])
        await openapp.wait_changes(stream_id, 1)

        await holder.kill()
        # While nobody serves the location: a POS change and a command wait for the standby.
        await pos.add_waiter_lines("T3", [{"productId": "pisco-sour", "quantity": 1}])
        during = await openapp.send(
            "TableOrderSnapshotRequested", {"posTableId": "T3", "tableSessionId": "s-1"})
        await standby.wait_log(SERVING, timeout=30)
        answered = await openapp.result_for(during, timeout=20)
        await pos.add_waiter_lines("T3", [{"productId": "inca-kola", "quantity": 1}])
        changes = await openapp.wait_changes(stream_id, 3, timeout=20)
    finally:
        if standby.process is not None and standby.process.returncode is None:
            assert await standby.terminate() == 0

    by_sequence: dict[int, set[str]] = {}
    for change in openapp.changes(stream_id):
        by_sequence.setdefault(change.payload["sequence"], set()).add(change.body["messageId"])
    assert sorted(by_sequence) == [1, 2, 3]  # no gap
    assert all(len(ids) == 1 for ids in by_sequence.values())  # no sequence number reused
    added = [[x["productId"] for x in c.payload["lines"]] for c in changes]
    assert added == [["chicha"], ["pisco-sour"], ["inca-kola"]]
    assert answered.payload["streamId"] == stream_id
    assert answered.payload["snapshot"]["version"] == 2


async def test_a_lease_taken_away_is_dropped_and_counted(
    process_settings: Settings, shared_store: str
) -> None:
    settings = process_settings.model_copy(update={"store_url": shared_store})
    holder = AdapterProcess(settings, POS_ADAPTER_LEASE_TTL="1.5")
    await spawn(holder, SERVING)
    try:
        engine = create_async_engine(shared_store)
        try:
            async with engine.begin() as conn:  # another member's lease now, for long
                await conn.execute(update(leases).values(
                    holder="someone-else", expires_at=datetime.now(UTC) + timedelta(hours=1)))
        finally:
            await engine.dispose()
        lost = await holder.wait_log("lease lost: no longer serving the location", timeout=10)
        async with httpx.AsyncClient() as client:
            scrape = await client.get(f"http://127.0.0.1:{settings.metrics_port}/metrics")
    finally:
        assert await holder.terminate() == 0

    assert lost["locationId"] == settings.location_id
    counted = f'pos_adapter_leases_lost_total{{location="{settings.location_id}"}} 1.0'
    assert counted in scrape.text
