"""``pos-adapter health``: exit code 0 against a running adapter, 1 when its consumer is
gone or the POS is down; the table and the JSON say which check failed."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import pytest

from adapter.amqp import CommandConsumer
from adapter.ops.health import HealthReport, check_health
from adapter.settings import Settings
from pos_drivers.mock import MockPosControl
from tests.integration.conftest import StartAdapter, eventually, free_port
from tests.ops.conftest import scrape, value

pytestmark = pytest.mark.rabbitmq


def failed(report: HealthReport) -> dict[str, str]:
    return {check.name: check.detail for check in report.checks if not check.ok}


async def health_cli(settings: Settings, *args: str) -> tuple[int, str]:
    """``pos-adapter health`` in a child process configured like ``settings``."""
    env = {
        **os.environ,
        "COLUMNS": "160",
        "POS_ADAPTER_AMQP_URL": settings.amqp_url,
        "POS_ADAPTER_LOCATION_ID": settings.location_id,
        "POS_ADAPTER_POS_URL": settings.pos_url,
        "POS_ADAPTER_STORE_URL": settings.store_url,
        "POS_ADAPTER_METRICS_PORT": str(settings.metrics_port),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapter.cli", "health", *args,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, _err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_healthy_against_a_running_adapter(start_adapter: StartAdapter) -> None:
    async with start_adapter(metrics_port=free_port()) as worker:
        report = await check_health(worker.settings)
        code, out = await health_cli(worker.settings, "--json")

    assert failed(report) == {}
    assert [check.name for check in report.checks] == [
        "broker", "consumer", "store", "outbox backlog", "POS"]
    assert code == 0, out
    assert json.loads(out)["healthy"] is True


async def test_unhealthy_when_the_worker_is_gone(start_adapter: StartAdapter) -> None:
    async with start_adapter(metrics_port=free_port()) as worker:
        pass
    code, out = await health_cli(worker.settings)

    assert code == 1
    assert "unreachable" in out
    report = await check_health(worker.settings)
    assert list(failed(report)) == ["consumer"]


async def test_unhealthy_while_the_consumer_is_lost(
    start_adapter: StartAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    may_register = asyncio.Event()
    restart = CommandConsumer.restart

    async def held_back(self: CommandConsumer) -> None:
        await may_register.wait()
        await restart(self)

    monkeypatch.setattr(CommandConsumer, "restart", held_back)
    port = free_port()
    async with start_adapter(metrics_port=port, watchdog_interval=0.2) as worker:
        location = worker.settings.location_id
        assert worker.consumer is not None
        tag = worker.consumer.tag
        assert tag is not None
        await worker.consumer.queue.cancel(tag)

        async def reported(up: float) -> bool:
            return value(await scrape(port), "pos_adapter_consumer_up", location=location) == up

        await eventually(lambda: reported(0))
        lost = await check_health(worker.settings)
        may_register.set()
        await eventually(lambda: reported(1))
        back = await check_health(worker.settings)

    assert list(failed(lost)) == ["consumer"]
    assert "not registered" in failed(lost)["consumer"]
    assert failed(back) == {}


async def test_unhealthy_when_the_pos_is_down(
    start_adapter: StartAdapter, pos: MockPosControl
) -> None:
    async with start_adapter(metrics_port=free_port()) as worker:
        await pos.set_faults(down=True)
        report = await check_health(worker.settings)

    assert list(failed(report)) == ["POS"]


async def test_unhealthy_over_the_backlog_limit(start_adapter: StartAdapter) -> None:
    async with start_adapter(metrics_port=free_port()) as worker:
        report = await check_health(worker.settings, max_backlog=-1)

    assert list(failed(report)) == ["outbox backlog"]


async def test_without_metrics_the_queue_consumer_count_is_used(
    start_adapter: StartAdapter,
) -> None:
    async with start_adapter(metrics_port=0) as worker:
        running = await check_health(worker.settings)
    stopped = await check_health(worker.settings)

    consumer = {check.name: check for check in running.checks}["consumer"]
    assert consumer.ok
    assert "metrics endpoint off" in consumer.detail
    assert list(failed(stopped)) == ["consumer"]
    assert "no consumer" in failed(stopped)["consumer"]


async def test_a_missing_store_is_not_created(settings: Settings) -> None:
    report = await check_health(settings)

    assert "store" in failed(report)
    assert not os.path.exists(settings.store_url.split("///", 1)[1])
