"""Fixtures: the adapter against RabbitMQ (the integration suite's own fixtures), the
Table Management imitation, and the environment the ``tablemgmt`` driver reads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from handlers.watcher import ChangeMode
from pos_drivers.tablemgmt import TableMgmtControl, TableMgmtServer, mint_token
from tests.integration.conftest import (  # noqa: F401 - fixtures, used by name
    mock_pos,
    openapp,
    settings,
    start_adapter,
)

POLL_INTERVAL = 0.2


@pytest.fixture
async def imitation() -> AsyncIterator[TableMgmtServer]:
    async with TableMgmtServer() as server:
        yield server


@pytest.fixture
async def restaurant(imitation: TableMgmtServer) -> AsyncIterator[TableMgmtControl]:
    async with TableMgmtControl(imitation.url) as control:
        yield control


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    """Where the driver reads its token (an outside process would rotate it)."""
    path = tmp_path / "tablemgmt.jwt"
    path.write_text(mint_token("manager"))
    return path


@pytest.fixture
def tablemgmt(imitation: TableMgmtServer, token_file: Path) -> dict[str, Any]:
    """The adapter's overrides, the driver's own settings among them."""
    return {
        "driver": "tablemgmt",
        "pos_url": imitation.url,
        "change_mode": ChangeMode.POLL,
        "poll_interval": POLL_INTERVAL,
        "driver_settings": {"outlet_id": imitation.outlet_id, "token_file": token_file},
    }
