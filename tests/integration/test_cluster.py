"""A RabbitMQ cluster (``scripts/rabbitmq-cluster start``): the node that leads a
location's quorum queue stops under load; nothing is lost and commands are answered
again within seconds, the adapter having moved to another node."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import pytest

from adapter.settings import Settings
from adapter.testing import OpenAppClient
from tests.integration.conftest import StartAdapter, delete_queues

pytestmark = [pytest.mark.rabbitmq, pytest.mark.cluster]

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "rabbitmq-cluster"
NODES = {"c1": 5681, "c2": 5682, "c3": 5683}
SNAPSHOT = "TableOrderSnapshotRequested"


def node_url(node: str) -> str:
    return f"amqp://guest:guest@127.0.0.1:{NODES[node]}/"


async def run(*args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    return out.decode()


@pytest.fixture
async def cluster(settings: Settings) -> AsyncIterator[str]:
    """The cluster's URLs, every node running before and after the test (and the test
    location's queues deleted from it)."""
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("needs the RabbitMQ cluster of scripts/rabbitmq-cluster")
    try:
        connection = await aio_pika.connect(node_url("c1"), timeout=3)
    except (OSError, aio_pika.exceptions.AMQPError):
        pytest.skip("the cluster is not up: scripts/rabbitmq-cluster start")
    await connection.close()
    yield ",".join(node_url(node) for node in NODES)
    for node in NODES:
        await run(str(SCRIPT), "start-node", node)
    await delete_queues(node_url("c1"), settings)


async def leader(queue: str, *, asking: str = "c1") -> str:
    listing = json.loads(await run("rabbitmqctl", "-q", "-n", f"{asking}@localhost",
                                   "list_queues", "name", "leader", "--formatter", "json"))
    [row] = [row for row in listing if row["name"] == queue]
    return str(row["leader"]).split("@")[0]


async def test_the_queue_leader_stops_under_load_and_nothing_is_lost(
    cluster: str, start_adapter: StartAdapter, settings: Settings
) -> None:
    location = settings.location_id
    async with start_adapter(amqp_url=cluster, inbox_queue=True):
        stopped = await leader(f"pos-adapter.{location}")
        survivor = next(node for node in NODES if node != stopped)
        async with OpenAppClient(node_url(survivor), location) as openapp:
            sent: list[str] = []

            async def load() -> None:
                for n in range(60):
                    sent.append(await openapp.send(
                        SNAPSHOT, {"posTableId": f"T{n % 5 + 1}", "tableSessionId": "s"}))
                    await asyncio.sleep(0.05)

            loading = asyncio.create_task(load())
            await openapp.result_for(await openapp.send(
                SNAPSHOT, {"posTableId": "T1", "tableSessionId": "s"}), timeout=20)
            await run(str(SCRIPT), "stop-node", stopped)
            await loading
            after = await openapp.send(SNAPSHOT, {"posTableId": "T2", "tableSessionId": "s"})
            answered_after = await openapp.result_for(after, timeout=30)
            results = [await openapp.result_for(message_id, timeout=30)
                       for message_id in sent]
            new_leader = await leader(f"pos-adapter.{location}", asking=survivor)

    assert new_leader != stopped
    assert answered_after.payload["outcome"] == "RESOLVED"
    assert all(r.payload["outcome"] == "RESOLVED" for r in results)
