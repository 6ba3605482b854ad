"""Every background task under one policy: restarted with back-off and counted when it
fails; the worker stopped gracefully, exit code 5, when one cannot go on."""

from __future__ import annotations

import asyncio

import pytest

from adapter import supervisor as supervision
from adapter.metrics import Metrics
from adapter.store import SqlStore
from adapter.store._committer import GroupCommitter
from adapter.supervisor import Supervisor
from adapter.worker import EXIT_TASK_FAILED
from tests.integration.conftest import StartAdapter


@pytest.fixture(autouse=True)
def quick_restarts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervision, "RESTART_INITIAL", 0.001)
    monkeypatch.setattr(supervision, "RESTART_MAX", 0.002)


def failures(metrics: Metrics, task: str) -> float:
    value = metrics.registry.get_sample_value("pos_adapter_task_failures_total", {"task": task})
    return value or 0.0


async def test_a_failing_task_is_started_again_and_counted() -> None:
    metrics = Metrics()
    fatal: list[str] = []
    runs = 0
    done = asyncio.Event()

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise ConnectionError("the store is restarting")
        done.set()

    supervisor = Supervisor(on_fatal=lambda name, _exc: fatal.append(name), metrics=metrics)
    supervisor.spawn("pruner", flaky)
    await asyncio.wait_for(done.wait(), 5)
    await supervisor.stop()

    assert runs == 3
    assert failures(metrics, "pruner") == 2
    assert fatal == []


async def test_a_task_that_cannot_go_on_is_fatal() -> None:
    stopped = asyncio.Event()
    fatal: list[tuple[str, BaseException]] = []

    async def broken() -> None:
        raise RuntimeError("a bug")

    def on_fatal(name: str, exc: BaseException) -> None:
        fatal.append((name, exc))
        stopped.set()

    supervisor = Supervisor(on_fatal=on_fatal)
    supervisor.spawn("health-report", broken)
    await asyncio.wait_for(stopped.wait(), 5)
    await supervisor.stop()

    [(name, exc)] = fatal
    assert name == "health-report"
    assert str(exc) == "a bug"


async def test_a_watched_task_that_ends_is_fatal_and_one_cancelled_is_not() -> None:
    fatal: list[str] = []
    supervisor = Supervisor(on_fatal=lambda name, _exc: fatal.append(name))

    async def crash() -> None:
        raise RuntimeError("the committer died")

    crashed = asyncio.create_task(crash())
    supervisor.watch("store-committer", crashed)
    cancelled = asyncio.create_task(asyncio.sleep(10))
    supervisor.watch("other", cancelled)
    cancelled.cancel()
    # Their done callbacks (the supervisor's first) have run when gather returns.
    await asyncio.gather(crashed, cancelled, return_exceptions=True)

    assert fatal == ["store-committer"]


@pytest.mark.rabbitmq
async def test_a_part_that_cannot_go_on_stops_the_worker_with_exit_code_5(
    start_adapter: StartAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def prune_fails(_self: SqlStore, _older_than: object) -> None:
        raise RuntimeError("the journal table is gone")

    monkeypatch.setattr(SqlStore, "prune", prune_fails)
    async with start_adapter() as worker:
        await asyncio.wait_for(worker.stopped.wait(), 30)

    assert worker.exit_code == EXIT_TASK_FAILED
    assert worker.supervisor.failed is not None
    assert worker.supervisor.failed[0] == "pruner"


@pytest.mark.rabbitmq
async def test_the_group_commit_is_watched(
    start_adapter: StartAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = GroupCommitter._loop
    broken = asyncio.Event()

    async def loop_then_die(self: GroupCommitter) -> None:
        loop = asyncio.create_task(original(self))
        await broken.wait()
        loop.cancel()
        raise RuntimeError("the committer died")

    monkeypatch.setattr(GroupCommitter, "_loop", loop_then_die)
    async with start_adapter() as worker:
        broken.set()
        await asyncio.wait_for(worker.stopped.wait(), 30)

    assert worker.exit_code == EXIT_TASK_FAILED
