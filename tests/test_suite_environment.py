"""The suite's own environment (``tests/conftest.py``): variables exported in the shell do
not reach the tests, and a missing service stops the run in one line instead of letting it
pass with the tests that need it skipped. Most checks run pytest in a child process, as a
developer would."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from adapter.settings import Settings
from tests import conftest
from tests.integration.conftest import free_port

ROOT = Path(__file__).resolve().parents[1]

LEAKED = {
    "POS_ADAPTER_DRIVER": "restai",
    "POS_ADAPTER_CHANGE_MODE": "poll",
    "POS_ADAPTER_LOG_LEVEL": "debug",
}
"""A developer's exports that, seen by the tests, make them fail."""

WORKER_TESTS = (
    # a worker in the test's process, configured by the `settings` fixture
    "tests/integration/test_snapshot_flow.py::test_first_snapshot_has_every_waiter_line",
    # a worker as a child process (`pos-adapter run`), configured by its environment
    "tests/integration/test_process.py::test_sigterm_stops_gracefully_with_exit_code_0",
)


async def run_pytest(*args: str, env: Mapping[str, str]) -> tuple[int, str]:
    """pytest on ``args`` in a child process at the project's root: (exit code, output)."""
    inherited = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args,
        env={**inherited, **env}, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 180)
    assert process.returncode is not None
    return process.returncode, out.decode()


@pytest.mark.rabbitmq
async def test_exported_adapter_variables_do_not_reach_the_tests(
    amqp_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in LEAKED.items():
        monkeypatch.setenv(name, value)
    assert Settings().driver == "restai"  # seen, they would matter

    code, out = await run_pytest(*WORKER_TESTS, env={"AMQP_URL": amqp_url, **LEAKED})

    assert code == 0, out
    assert f"{len(WORKER_TESTS)} passed" in out


BROKER_TEST = ("tests/integration/test_topology.py::"
               "test_results_wait_in_the_inbox_queue_until_openapp_binds")
STORE_TEST = "tests/store/test_store.py::test_a_committed_write_set_reads_back"
"""Run on SQLite and on PostgreSQL (``[sqlite]``, ``[postgres]``)."""


def nowhere(variable: str) -> dict[str, str]:
    """``variable`` pointing at a port nobody listens on."""
    address = f"127.0.0.1:{free_port()}"
    scheme = "amqp://guest:guest@" if variable == "AMQP_URL" else "postgresql+asyncpg://postgres@"
    return {variable: f"{scheme}{address}/"}


async def test_a_missing_service_stops_the_run_in_one_line() -> None:
    code, out = await run_pytest(BROKER_TEST, env=nowhere("AMQP_URL"))

    assert code == conftest.EXIT_MISSING_SERVICE, out
    [line] = [line for line in out.splitlines() if "missing" in line]
    assert "missing RabbitMQ: AMQP_URL is set but nothing answers at 127.0.0.1:" in line
    assert "--skip-missing-services" in line
    assert "passed" not in out
    assert "error" not in out.lower()


async def test_tests_needing_no_missing_service_run() -> None:
    code, out = await run_pytest(f"{STORE_TEST}[sqlite]",
                                 env={**nowhere("AMQP_URL"), **nowhere("POSTGRES_URL")})

    assert code == 0, out
    assert "1 passed" in out


async def test_skipping_the_tests_of_a_missing_service_is_asked_for() -> None:
    code, out = await run_pytest(STORE_TEST, "--skip-missing-services", "-rs",
                                 env=nowhere("POSTGRES_URL"))

    assert code == 0, out
    assert "1 passed, 1 skipped" in out
    assert "needs PostgreSQL: POSTGRES_URL is set but nothing answers at 127.0.0.1:" in out


def test_without_a_url_the_local_port_then_docker_are_tried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = free_port()
    service = conftest.Service("RabbitMQ", "UNSET_AMQP_URL", "amqp_url", "rabbitmq",
                               f"amqp://guest:guest@127.0.0.1:{port}/", 5672)
    monkeypatch.delenv(service.variable, raising=False)
    monkeypatch.setattr(conftest, "_docker_available", lambda: True)
    assert conftest._locate(service) == conftest.Whereabouts(docker=True)

    monkeypatch.setattr(conftest, "_docker_available", lambda: False)
    assert conftest._locate(service).missing == (
        f"RabbitMQ is not running on 127.0.0.1:{port}, UNSET_AMQP_URL is not set and Docker "
        "is not available")
