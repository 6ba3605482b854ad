"""The conformance kit on the ``tablemgmt`` driver and its imitation: tables named by
name, and by id."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest
from pydantic import SecretStr

from pos_drivers import DriverConfig, PosDriver
from pos_drivers.tablemgmt import (
    TableMgmtControl,
    TableMgmtDriver,
    TableMgmtServer,
    TableMgmtSettings,
    mint_token,
)
from pos_drivers.testing import DriverConformance


class TableMgmtActor:
    """The restaurant, through the imitation's control API."""

    def __init__(self, server: TableMgmtServer, control: TableMgmtControl,
                 ids: dict[str, str], *, by_id: bool) -> None:
        self.url = server.url
        self.control = control
        self._ids = ids
        self._by_id = by_id

    def _id(self, table: str) -> str:
        return table if self._by_id else self._ids[table]

    def free_tables(self) -> Sequence[str]:
        names = ["Table 1", "Table 2", "Table 3"]
        return [self._ids[n] for n in names] if self._by_id else names

    def unknown_table(self) -> str:
        return "4f7c1d2e-0000-4000-8000-000000000099" if self._by_id else "Table 99"

    async def open_check_with_line(self, table: str) -> None:
        await self.control.open_order(self._id(table), [{"product_id": "nasi-goreng"}])

    async def add_waiter_line(self, table: str) -> None:
        await self.control.add_item(self._id(table), "es-teh", 2)

    async def cancel_line(self, table: str, line_id: str) -> None:
        await self.control.cancel_item(line_id)

    async def close_check(self, table: str) -> None:
        await self.control.release(self._id(table))

    async def set_down(self, down: bool) -> None:
        await self.control.set_faults(down=down)


class TestTableMgmtByName(DriverConformance):
    by_id = False

    @pytest.fixture
    async def pos(self) -> AsyncIterator[TableMgmtActor]:
        async with TableMgmtServer() as server, TableMgmtControl(server.url) as control:
            ids = {t["table_name"]: t["id"] for t in await control.tables()
                   if t["outlet_id"] == server.outlet_id}
            yield TableMgmtActor(server, control, ids, by_id=self.by_id)

    @pytest.fixture
    async def driver(self, pos: TableMgmtActor) -> AsyncIterator[PosDriver]:
        settings = TableMgmtSettings(
            token=SecretStr(mint_token("manager")), outlet_id=TableMgmtServer.outlet_id
        )
        async with TableMgmtDriver(DriverConfig(pos_url=pos.url), settings) as driver:
            yield driver


class TestTableMgmtById(TestTableMgmtByName):
    by_id = True
