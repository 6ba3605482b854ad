"""``pos-adapter resync <posTableId>``: the serving worker reads the table now."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from adapter.settings import Settings
from adapter.testing import OpenAppClient
from handlers.watcher import ChangeMode
from pos_drivers.mock import MockPosControl
from tests.integration.conftest import StartAdapter

pytestmark = pytest.mark.rabbitmq


async def resync(settings: Settings, table: str) -> tuple[int, str, str]:
    env = {**os.environ, "POS_ADAPTER_AMQP_URL": settings.amqp_url,
           "POS_ADAPTER_LOCATION_ID": settings.location_id}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapter.cli", "resync", table, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_resync_pushes_what_the_watcher_has_not_seen_yet(
    start_adapter: StartAdapter, openapp: OpenAppClient, pos: MockPosControl, settings: Settings
) -> None:
    await pos.add_waiter_lines("T3", [{"productId": "causa", "quantity": 1}])
    # A watcher that looks once a minute: only the resync can see the change in time.
    async with start_adapter(change_mode=ChangeMode.TABLE_POLL, poll_interval=60):
        opened = await openapp.result_for(await openapp.send(
            "TableOrderSnapshotRequested", {"posTableId": "T3", "tableSessionId": "s"}))
        await pos.add_waiter_lines("T3", [{"productId": "chicha", "quantity": 1}])

        code, out, err = await resync(settings, "T3")
        [change] = await openapp.wait_changes(opened.payload["streamId"], 1)
        again = await resync(settings, "T3")
        unknown = await resync(settings, "T4")

    assert (code, out.strip()) == (0, "T3: 1 change(s) pushed"), err
    assert change.payload["changeType"] == "POS_LINE_ADDED"
    assert again[:2] == (0, "T3: 0 change(s) pushed\n")
    assert unknown[0] == 1
    assert "no active stream" in unknown[2]


async def test_resync_without_a_running_adapter_says_so(settings: Settings) -> None:
    code, _out, err = await resync(settings, "T3")

    assert code == 1
    assert "no adapter is serving" in err
