"""The conformance kit on the ``restai`` driver and the RestAI imitation; the driver is
built by the RestAI tests' own helper (``tests.restai.conftest.make_driver``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest

from pos_drivers import NewLine, PosDriver
from pos_drivers.testing import DriverConformance
from tests.restai.conftest import make_driver, serve
from tests.restai.fake_restai import FakeRestai
from tests.restai.helpers import item, line


class RestaiActor:
    """The restaurant, through the imitation's hooks (waiter rounds, kitchen, cashier)."""

    def __init__(self, fake: FakeRestai) -> None:
        self.fake = fake

    def free_tables(self) -> Sequence[str]:
        return ["1", "2", "3"]

    def unknown_table(self) -> str:
        return "99"

    async def open_check_with_line(self, table: str) -> None:
        await self.fake.staff_order_hook(int(table), [item(self.fake, "Ceviche Clásico")])

    async def add_waiter_line(self, table: str) -> None:
        await self.fake.staff_order_hook(int(table), [item(self.fake, "Chicha Morada", 2)])

    async def cancel_line(self, table: str, line_id: str) -> None:
        await self.fake.kitchen_cancel_hook(line_id)

    async def close_check(self, table: str) -> None:
        await self.fake.free_hook(int(table))

    async def set_down(self, down: bool) -> None:
        self.fake.faults.clear()
        if down:
            self.fake.fail_next(503, count=1_000_000)

    async def orderable_line(self) -> NewLine:
        return line(self.fake, "Pisco Sour")


class TestRestaiDriver(DriverConformance):
    @pytest.fixture
    async def pos(self) -> AsyncIterator[RestaiActor]:
        fake = FakeRestai()
        async with serve(fake):
            yield RestaiActor(fake)

    @pytest.fixture
    async def driver(self, pos: RestaiActor) -> AsyncIterator[PosDriver]:
        async with make_driver(pos.fake) as driver:
            yield driver
