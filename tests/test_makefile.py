"""``make demo`` installs the package alone; ``make test`` the package and its test tools."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def planned(target: str) -> list[str]:
    """The commands ``make <target>`` would run on a fresh clone (-B: nothing is up to date;
    -n: nothing is run)."""
    # Under `make test` the variables of the make running us would make this one a
    # sub-make, which prints "Entering/Leaving directory" lines.
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MAKELEVEL", "MFLAGS"}}
    done = subprocess.run(["make", "--no-print-directory", "-n", "-B", target], cwd=ROOT,
                          check=True, capture_output=True, text=True, env=env)
    return done.stdout.splitlines()


def installs(commands: list[str]) -> list[str]:
    return [c for c in commands if " install " in c and "--upgrade pip" not in c]


def test_make_demo_installs_what_the_demo_needs_and_no_test_tools() -> None:
    commands = planned("demo")

    assert installs(commands) == [".venv/bin/pip install --quiet -e ."]
    assert commands[-1] == ".venv/bin/pos-adapter demo"


def test_make_test_installs_the_test_extras_then_lints_and_tests() -> None:
    commands = planned("test")

    assert installs(commands) == [".venv/bin/pip install --quiet -e '.[test]'"]
    assert commands[-3:] == [".venv/bin/ruff check .", ".venv/bin/mypy", ".venv/bin/pytest -q"]
