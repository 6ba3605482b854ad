"""The suite's own environment (``tests/conftest.py``): variables exported in the shell do
not reach the tests. Each check runs pytest in a child process, as a developer would."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from adapter.settings import Settings

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
