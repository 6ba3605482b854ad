"""Fixtures: the Table Management imitation on a free port, its control client, a token
file, and drivers on it (one server per test: starting and stopping costs ~0.2 s)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from pos_drivers import DriverConfig
from pos_drivers.tablemgmt import (
    TableMgmtControl,
    TableMgmtDriver,
    TableMgmtServer,
    TableMgmtSettings,
    mint_token,
)

MakeDriver = Callable[..., TableMgmtDriver]


@pytest.fixture
async def server() -> AsyncIterator[TableMgmtServer]:
    async with TableMgmtServer() as running:
        yield running


@pytest.fixture
async def control(server: TableMgmtServer) -> AsyncIterator[TableMgmtControl]:
    async with TableMgmtControl(server.url) as client:
        yield client


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    """A file holding a manager token, as an outside process would keep it."""
    path = tmp_path / "tablemgmt.jwt"
    path.write_text(mint_token("manager") + "\n")
    return path


@pytest.fixture
def make_driver(server: TableMgmtServer, token_file: Path) -> MakeDriver:
    """A driver on the imitation (not opened); settings may be overridden by keyword."""

    def make(*, timeout: float = 2.0, url: str | None = None, **overrides: Any) -> TableMgmtDriver:
        fields: dict[str, Any] = {"outlet_id": server.outlet_id, "table_refresh_seconds": 0}
        if "token" not in overrides:
            fields["token_file"] = token_file
        fields.update(overrides)
        settings = TableMgmtSettings(**fields)
        config = DriverConfig(pos_url=url or server.url, request_timeout=timeout)
        return TableMgmtDriver(config, settings)

    return make


@pytest.fixture
async def driver(make_driver: MakeDriver) -> AsyncIterator[TableMgmtDriver]:
    async with make_driver() as opened:
        yield opened


@pytest.fixture
async def table_ids(control: TableMgmtControl) -> dict[str, str]:
    """Seed outlet's table ids by name."""
    return {
        t["table_name"]: t["id"]
        for t in await control.tables()
        if t["outlet_id"] == TableMgmtServer.outlet_id
    }
