"""The kit itself: the example of ``docs/driver-authors.md`` passes it as documented (in
pytest-asyncio's strict mode, as a third-party project would run it), and a broken
variant of that driver fails exactly the checks it breaks."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

DOC = Path(__file__).parents[2] / "docs" / "driver-authors.md"

BROKEN = '''
"""A Tabula driver that breaks three promises."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import ClassVar

import httpx
import pytest
import pytest_asyncio

from pos_drivers import Capability, DriverConfig, PosCheck
from pos_drivers.testing import DriverConformance
from tabula_driver import TabulaDriver, TabulaSettings
from test_tabula import TabulaActor


class BrokenTabula(TabulaDriver):
    # Declares a capability it does not implement.
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.BATCH_CHANGES})

    async def read_check(self, table_id: str) -> PosCheck:
        if table_id not in ("1", "2", "3"):
            raise RuntimeError("no such table")  # a bare exception
        check = await super().read_check(table_id)
        lines = tuple(dataclasses.replace(x, unit_price=x.unit_price / 100)  # a float
                      for x in check.lines)
        return dataclasses.replace(check, lines=lines)


class TestBrokenTabula(DriverConformance):
    @pytest.fixture
    def pos(self) -> TabulaActor:
        return TabulaActor()

    @pytest_asyncio.fixture
    async def driver(self, pos: TabulaActor) -> AsyncIterator[BrokenTabula]:
        transport = httpx.MockTransport(pos.sandbox.handle)
        async with BrokenTabula(DriverConfig(pos_url="http://tabula.test"),
                                TabulaSettings(api_key="k"), transport=transport) as driver:
            yield driver
'''


def documented_files() -> dict[str, str]:
    """The python blocks of the document that start with ``# <file name>``."""
    blocks = re.findall(r"```python\n# (\S+\.py)\n(.*?)```", DOC.read_text(), re.S)
    return dict(blocks)


def run_pytest(directory: Path, target: str) -> dict[str, str]:
    """Run pytest on ``target`` in a fresh process; each test's outcome by name."""
    report = directory / f"{target}.xml"
    subprocess.run(
        [sys.executable, "-m", "pytest", target, "-p", "no:cacheprovider", "-q",
         "-o", "asyncio_mode=strict", "-o", "asyncio_default_fixture_loop_scope=function",
         "-W", "error", f"--junit-xml={report}"],
        cwd=directory, capture_output=True, text=True, timeout=120, check=False,
    )
    outcomes: dict[str, str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        outcomes[case.attrib["name"]] = kinds[0] if kinds else "passed"
    return outcomes


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tabula")
    files = documented_files()
    assert set(files) == {"tabula_driver.py", "test_tabula.py"}
    for name, code in files.items():
        (directory / name).write_text(code)
    (directory / "test_broken.py").write_text(BROKEN)
    return directory


def test_the_documented_example_passes_the_kit(example: Path) -> None:
    outcomes = run_pytest(example, "test_tabula.py")

    failed = {name: kind for name, kind in outcomes.items() if kind in ("failure", "error")}
    assert failed == {}
    passed = [name for name, kind in outcomes.items() if kind == "passed"]
    assert len(passed) >= 20
    assert outcomes["test_ids_that_cannot_be_tables_are_not_found[traversal]"] == "passed"
    assert outcomes["test_without_add_lines_nothing_can_be_added"] == "passed"
    assert outcomes["test_changes_since_reports_a_changed_table"] == "skipped"
    assert outcomes["test_add_lines_opens_a_check_with_the_lines"] == "skipped"


def test_a_broken_driver_fails_the_checks_it_breaks(example: Path) -> None:
    outcomes = run_pytest(example, "test_broken.py")

    failed = {name for name, kind in outcomes.items() if kind == "failure"}
    assert {
        "test_an_unknown_table_is_not_found",  # RuntimeError, not TableNotFound
        "test_ids_that_cannot_be_tables_are_not_found[traversal]",
        "test_an_open_check_has_its_lines",  # float money
        "test_changes_since_reports_a_changed_table",  # BATCH_CHANGES declared, not done
        "test_an_unknown_cursor_has_expired",
        "test_a_pos_that_is_down_is_unavailable",  # changes_since: NotSupported
    } <= failed
    assert outcomes["test_a_free_table_has_no_check"] == "passed"
    assert outcomes["test_ping_says_whether_the_pos_answers"] == "passed"
