"""The ``pos-adapter`` commands a person types: demo, schema, mock-pos."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import aio_pika
import httpx
import pytest

from adapter.settings import Settings
from adapter.worker import Worker
from tests.integration.conftest import delete_queues, free_port

MESSAGE_TYPES = {
    "TableOrderSnapshotRequested", "TableOrderSnapshotResolutionResult",
    "OrderSubmissionRequested", "OrderSubmissionResult", "TableOrderSnapshotChanged",
    "PosHealthReported",
}


async def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
                  timeout: float = 60) -> tuple[int, str, str]:
    """``pos-adapter *args``; what ``env`` does not set is the default (the session has no
    ``POS_ADAPTER_*`` variable: tests/conftest.py)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapter.cli", *args,
        env={**os.environ, "COLUMNS": "120", **(env or {})}, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def queue_exists(amqp_url: str, name: str) -> bool:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        try:
            await channel.declare_queue(name, passive=True)
        except aio_pika.exceptions.ChannelNotFoundEntity:
            return False
        return True


@pytest.mark.rabbitmq
async def test_demo_plays_a_table_through_and_removes_its_queues(
    amqp_url: str, location_id: str, tmp_path: Path
) -> None:
    env = {"POS_ADAPTER_AMQP_URL": amqp_url, "POS_ADAPTER_LOCATION_ID": location_id,
           "POS_ADAPTER_METRICS_PORT": "0"}
    settings = Settings(amqp_url=amqp_url, location_id=location_id)
    try:
        code, out, err = await run_cli("demo", env=env, cwd=tmp_path)
        left = [name for name in (settings.command_queue, settings.dead_letter_queue,
                                  settings.openapp_inbox_queue)
                if await queue_exists(amqp_url, name)]
    finally:
        await delete_queues(amqp_url, settings)

    assert code == 0, err
    for expected in ("TableOrderSnapshotResolutionResult", "PARTIALLY_ACCEPTED",
                     "POS_LINE_ADDED", "LINE_STATUS_CHANGED", "ORDER_CLOSED"):
        assert expected in out
    assert list(tmp_path.iterdir()) == []  # the demo's store lives in a temporary directory
    assert left == []


@pytest.mark.rabbitmq
async def test_demo_says_so_when_a_worker_already_serves_its_location(
    adapter: Worker, amqp_url: str, location_id: str, tmp_path: Path
) -> None:
    env = {"POS_ADAPTER_AMQP_URL": amqp_url, "POS_ADAPTER_LOCATION_ID": location_id}

    code, out, err = await run_cli("demo", env=env, cwd=tmp_path)

    assert code == 1
    assert err == ""
    [line] = [line for line in out.splitlines() if line.strip()]
    assert f"A worker already serves location {location_id!r}" in line
    assert f"1 consumer(s) on pos-adapter.{location_id}" in line
    assert await queue_exists(amqp_url, f"pos-adapter.{location_id}")  # the worker's, kept


async def test_demo_without_a_broker_says_so_in_one_line(tmp_path: Path) -> None:
    closed_port = free_port()
    env = {"POS_ADAPTER_AMQP_URL": f"amqp://guest:guest@127.0.0.1:{closed_port}/"}

    code, out, err = await run_cli("demo", env=env, cwd=tmp_path)

    assert code == 1
    assert err == ""
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "No RabbitMQ answers" in lines[0]
    assert "rabbitmq-server" in lines[0]


async def test_schema_writes_one_json_schema_per_message_type(tmp_path: Path) -> None:
    code, _out, err = await run_cli("schema", "--out", str(tmp_path / "schemas"))

    assert code == 0, err
    files = {p.stem: json.loads(p.read_text()) for p in (tmp_path / "schemas").glob("*.json")}
    assert set(files) == MESSAGE_TYPES
    snapshot = files["TableOrderSnapshotRequested"]
    assert "payload" in snapshot["properties"]


async def test_mock_pos_serves_its_seed_data(tmp_path: Path) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapter.cli", "mock-pos", "--port", str(port),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            async with asyncio.timeout(20):
                while True:
                    try:
                        response = await client.get("/health")
                        break
                    except httpx.TransportError:
                        await asyncio.sleep(0.1)
            tables = (await client.get("/tables")).json()
    finally:
        process.terminate()
        await process.wait()

    assert response.json() == {"status": "ok"}
    assert len(tables) == 20


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"POS_ADAPTER_DRIVER": "nope"}, "POS_ADAPTER_DRIVER: unknown driver 'nope'; known: "),
        ({"POS_ADAPTER_DRIVER": "restai", "POS_ADAPTER_RESTAI_PASSWORD": "s3cret-pw"},
         "POS_ADAPTER_RESTAI_EMAIL"),
        ({"POS_ADAPTER_MOCK_CURRENCY": "soles"}, "POS_ADAPTER_MOCK_CURRENCY"),
    ],
    ids=["unknown-driver", "missing-driver-setting", "bad-driver-setting"],
)
async def test_a_wrong_driver_setting_stops_the_start_in_one_line(
    env: dict[str, str], named: str, tmp_path: Path
) -> None:
    code, out, err = await run_cli("run", env=env, cwd=tmp_path)

    assert code == 2
    assert out == ""
    [line] = err.strip().splitlines()
    assert named in line
    assert "mock" in line or "unknown" not in line  # the known drivers are listed
    assert "s3cret-pw" not in line


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"POS_ADAPTER_STORE_URL": "mysql://x"},
         "POS_ADAPTER_STORE_URL: unsupported scheme 'mysql'"),
        ({"POS_ADAPTER_AMQP_URL": "amqps://guest:guest@127.0.0.1/?no_verify_ssl=1"},
         "POS_ADAPTER_AMQP_ALLOW_INSECURE_TLS=true"),
    ],
    ids=["store-scheme", "tls-unverified"],
)
async def test_a_wrong_setting_stops_the_start_in_one_line(
    env: dict[str, str], named: str, tmp_path: Path
) -> None:
    code, out, err = await run_cli("run", env=env, cwd=tmp_path)

    assert code == 2
    assert out == ""
    [line] = err.strip().splitlines()
    assert line.startswith("pos-adapter: invalid configuration: ")
    assert named in line
    assert list(tmp_path.iterdir()) == []  # refused before anything was opened


@pytest.mark.parametrize("port", ["99999", "0", "-1"])
async def test_mock_pos_refuses_a_port_that_is_no_port(port: str) -> None:
    code, out, err = await run_cli("mock-pos", "--port", port, timeout=20)

    assert code == 2
    assert out == ""
    [line] = err.strip().splitlines()
    assert line == f"pos-adapter: --port {port} is no TCP port: give one from 1 to 65535"
