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
def tablemgmt(
    imitation: TableMgmtServer, token_file: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """The adapter's overrides; the driver's own settings go through the environment, as
    the adapter builds the driver from ``DriverConfig`` alone."""
    monkeypatch.setenv("POS_ADAPTER_TABLEMGMT_OUTLET_ID", imitation.outlet_id)
    monkeypatch.setenv("POS_ADAPTER_TABLEMGMT_TOKEN_FILE", str(token_file))
    monkeypatch.delenv("POS_ADAPTER_TABLEMGMT_TOKEN", raising=False)
    return {
        "driver": "tablemgmt",
        "pos_url": imitation.url,
        "change_mode": ChangeMode.POLL,
        "poll_interval": POLL_INTERVAL,
    }
