"""The conformance kit on the ``mock`` driver and the mock POS."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest

from pos_drivers import DriverConfig, NewLine, PosDriver
from pos_drivers.mock import MockDriver, MockPosControl, MockPosServer
from pos_drivers.testing import DriverConformance


class MockActor:
    """The restaurant, through the mock POS's control API."""

    def __init__(self, server: MockPosServer, control: MockPosControl) -> None:
        self.url = server.url
        self.control = control

    def free_tables(self) -> Sequence[str]:
        return ["T1", "T2", "T3"]

    def unknown_table(self) -> str:
        return "T99"

    async def open_check_with_line(self, table: str) -> None:
        await self.control.add_waiter_lines(table, [{"productId": "ceviche", "quantity": 1}])

    async def add_waiter_line(self, table: str) -> None:
        await self.control.add_waiter_lines(table, [{"productId": "chicha", "quantity": 2}])

    async def cancel_line(self, table: str, line_id: str) -> None:
        await self.control.patch_line(line_id, status="CANCELLED")

    async def close_check(self, table: str) -> None:
        await self.control.close_table(table)

    async def set_down(self, down: bool) -> None:
        await self.control.set_faults(down=down)

    async def orderable_line(self) -> NewLine:
        return NewLine("chicha", 1, 900)


class TestMockDriver(DriverConformance):
    @pytest.fixture
    async def pos(self) -> AsyncIterator[MockActor]:
        async with MockPosServer() as server, MockPosControl(server.url) as control:
            yield MockActor(server, control)

    @pytest.fixture
    async def driver(self, pos: MockActor) -> AsyncIterator[PosDriver]:
        async with MockDriver(DriverConfig(pos_url=pos.url, request_timeout=2.0)) as driver:
            yield driver
