"""The broker drops the adapter's connection: it reconnects, consumes again, and what was
owed meanwhile goes out (contract §5, "broker connection lost")."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from adapter.testing import OpenAppClient, TcpProxy
from pos_drivers.mock import MockPosControl
from tests.integration.conftest import StartAdapter

pytestmark = pytest.mark.rabbitmq

SNAPSHOT = "TableOrderSnapshotRequested"


async def rabbitmqctl(*args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        "rabbitmqctl", "-q", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    if process.returncode != 0:
        pytest.skip(f"rabbitmqctl failed: {err.decode().strip()}")
    return out.decode()


async def close_connections_of(location_id: str) -> int:
    """Close, from the broker's side, every connection the adapter of ``location_id`` opened."""
    listing = await rabbitmqctl("list_connections", "pid", "client_properties")
    closed = 0
    for line in listing.splitlines():
        if f"pos-adapter {location_id}" in line:
            pid = line.split("\t", 1)[0]
            await rabbitmqctl("close_connection", pid, "test: broker dropped the connection")
            closed += 1
    return closed


@pytest.fixture
def needs_rabbitmqctl() -> None:
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("needs rabbitmqctl on this machine (the broker is local)")


@pytest.mark.usefixtures("needs_rabbitmqctl")
async def test_the_adapter_reconnects_and_delivers_what_was_owed(
    start_adapter: StartAdapter, openapp: OpenAppClient, pos: MockPosControl, location_id: str
) -> None:
    await pos.add_waiter_lines("T1", [{"productId": "ceviche", "quantity": 1}])
    async with start_adapter():
        opened = await openapp.result_for(
            await openapp.send(SNAPSHOT, {"posTableId": "T1", "tableSessionId": "s-1"}))
        stream_id = opened.payload["streamId"]

        assert await close_connections_of(location_id) == 1
        # A POS change while the adapter is cut off from the broker...
        await pos.add_waiter_lines("T1", [{"productId": "chicha", "quantity": 1}])
        [change] = await openapp.wait_changes(stream_id, 1, timeout=30)
        # ...and commands are consumed again on the restored channel.
        again = await openapp.result_for(
            await openapp.send(SNAPSHOT, {"posTableId": "T1", "tableSessionId": "s-1"}),
            timeout=30)

    assert change.payload["changeType"] == "POS_LINE_ADDED"
    assert change.payload["sequence"] == 1
    assert again.payload["snapshot"]["version"] == 1


async def test_results_flow_again_once_the_broker_is_back(
    start_adapter: StartAdapter, openapp: OpenAppClient, pos: MockPosControl, amqp_url: str
) -> None:
    """The broker goes away (connections cut, new ones refused) and comes back: what was
    asked and what changed meanwhile is answered and pushed, in order, once it is back."""
    async with TcpProxy.for_url(amqp_url) as proxy, start_adapter(
        amqp_url=proxy.url(amqp_url)
    ):
        opened = await openapp.result_for(
            await openapp.send(SNAPSHOT, {"posTableId": "T1", "tableSessionId": "s-1"}))
        stream_id = opened.payload["streamId"]

        await proxy.down()
        await pos.add_waiter_lines("T1", [{"productId": "chicha", "quantity": 1}])
        asked = await openapp.send(SNAPSHOT, {"posTableId": "T2", "tableSessionId": "s-2"})
        await proxy.up()

        changes = await openapp.wait_changes(stream_id, 2, timeout=15)
        answered = await openapp.result_for(asked, timeout=15)

    assert proxy.accepted >= 2  # it reconnected through the proxy
    assert [c.payload["changeType"] for c in changes] == ["ORDER_OPENED", "POS_LINE_ADDED"]
    assert [c.payload["sequence"] for c in changes] == [1, 2]
    assert answered.payload["outcome"] == "RESOLVED"
