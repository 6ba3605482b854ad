"""The worker as operators run it: a separate process, killed with -9 or stopped with
SIGTERM, and refusing a bad configuration."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
from pathlib import Path

import aio_pika
import pytest

from adapter.settings import Settings
from adapter.testing import OpenAppClient
from pos_drivers.mock import MockPosControl
from tests.integration.conftest import eventually, free_port

pytestmark = pytest.mark.rabbitmq

STARTED = "pos-adapter started"


class AdapterProcess:
    """``pos-adapter run`` in a child process, configured like ``settings``."""

    def __init__(self, settings: Settings, **env: str) -> None:
        self.settings = settings
        self.env = {
            **os.environ,
            "POS_ADAPTER_AMQP_URL": settings.amqp_url,
            "POS_ADAPTER_LOCATION_ID": settings.location_id,
            "POS_ADAPTER_POS_URL": settings.pos_url,
            "POS_ADAPTER_STORE_URL": settings.store_url,
            "POS_ADAPTER_POLL_INTERVAL": "0.2",
            "POS_ADAPTER_POS_DEADLINE": "2",
            "POS_ADAPTER_LOG_FORMAT": "json",
            "POS_ADAPTER_METRICS_PORT": str(settings.metrics_port),
            **env,
        }
        self.process: asyncio.subprocess.Process | None = None
        self.lines: list[dict[str, object]] = []
        self.plain: list[str] = []  # lines that are not JSON

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "adapter.cli", "run",
            env=self.env, stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
        )
        await self.wait_log(STARTED, timeout=30)

    async def wait_log(self, event: str, timeout: float = 10) -> dict[str, object]:
        assert self.process is not None
        assert self.process.stderr is not None
        async with asyncio.timeout(timeout):
            while True:
                raw = await self.process.stderr.readline()
                if not raw:
                    raise AssertionError(f"the adapter exited before logging {event!r}")
                try:
                    line = json.loads(raw)
                except ValueError:
                    self.plain.append(raw.decode(errors="replace"))
                    continue
                self.lines.append(line)
                if line.get("event") == event:
                    return line

    async def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        await self.process.wait()

    async def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), 30)


def owed_rows(store_url: str) -> int:
    path = store_url.split("///", 1)[1]
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0])


async def test_kill_9_after_commit_before_publish_publishes_after_restart(
    process_settings: Settings, amqp_url: str, pos: MockPosControl
) -> None:
    await pos.add_waiter_lines("T5", [{"productId": "ceviche", "quantity": 1}])
    adapter = AdapterProcess(process_settings, POS_ADAPTER_INBOX_QUEUE="false")
    await adapter.start()
    # Nobody is bound to the events yet: the result is committed but cannot be routed.
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        commands = await channel.get_exchange(process_settings.commands_exchange)
        body = {
            "messageId": "kill-9-cmd", "messageType": "TableOrderSnapshotRequested",
            "schemaVersion": 1, "locationId": process_settings.location_id,
            "occurredAt": "2026-11-21T19:00:00Z",
            "payload": {"posTableId": "T5", "tableSessionId": "s-1"},
        }
        await commands.publish(
            aio_pika.Message(json.dumps(body).encode()),
            routing_key=f"{process_settings.location_id}.TableOrderSnapshotRequested",
        )
        queue = await channel.get_queue(process_settings.command_queue)

        async def committed_and_acked() -> bool:
            declared = await channel.declare_queue(queue.name, passive=True)
            return owed_rows(process_settings.store_url) >= 1 and (
                declared.declaration_result.message_count == 0
            )

        await eventually(committed_and_acked)
    await adapter.kill()

    async with OpenAppClient(amqp_url, process_settings.location_id) as openapp:
        restarted = AdapterProcess(process_settings)
        await restarted.start()
        try:
            result = await openapp.result_for("kill-9-cmd", timeout=20)
        finally:
            assert await restarted.terminate() == 0

    assert result.payload["outcome"] == "RESOLVED"
    assert [x["productId"] for x in result.payload["snapshot"]["lines"]] == ["ceviche"]
    assert owed_rows(process_settings.store_url) == 0


async def test_sigterm_stops_gracefully_with_exit_code_0(
    process_settings: Settings, amqp_url: str, openapp: OpenAppClient
) -> None:
    adapter = AdapterProcess(process_settings)
    await adapter.start()
    message_id = await openapp.send(
        "TableOrderSnapshotRequested", {"posTableId": "T2", "tableSessionId": "s-1"}
    )
    await openapp.result_for(message_id)

    assert await adapter.terminate() == 0
    assert owed_rows(process_settings.store_url) == 0


async def test_a_bad_setting_stops_the_start_with_one_line_naming_it(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapter.cli", "run",
        env={**os.environ, "POS_ADAPTER_POLL_INTERVAL": "soon"},
        stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=tmp_path,
    )
    _out, err = await asyncio.wait_for(process.communicate(), 30)

    assert process.returncode == 2
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1
    assert "POS_ADAPTER_POLL_INTERVAL" in lines[0]


async def test_credentials_never_reach_the_log(process_settings: Settings) -> None:
    closed_port = free_port()
    adapter = AdapterProcess(
        process_settings,
        POS_ADAPTER_AMQP_URL=f"amqp://guest:amqp-s3cret@127.0.0.1:{closed_port}/",
        POS_ADAPTER_RESTAI_PASSWORD="restai-s3cret",
        POS_ADAPTER_LOG_LEVEL="debug",
    )
    assert adapter.env["POS_ADAPTER_AMQP_URL"].endswith(f":{closed_port}/")
    adapter.process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapter.cli", "run",
        env=adapter.env, stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
    )
    await adapter.wait_log("broker unreachable", timeout=30)
    await adapter.wait_log("broker unreachable", timeout=30)

    assert await adapter.terminate() == 0
    # The libraries' lines are JSON like ours, so they are read and checked too.
    assert adapter.plain == []
    assert {"aiormq.connection", "aio_pika.robust_connection"} <= {
        line.get("logger") for line in adapter.lines
    }
    logged = json.dumps(adapter.lines)
    assert "amqp-s3cret" not in logged
    assert "restai-s3cret" not in logged
