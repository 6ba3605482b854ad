"""The store under test, on a SQLite file and on PostgreSQL (a database of its own)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from adapter.store import SqlStore


async def _create_database(url: str) -> tuple[str, str]:
    parsed = make_url(url)
    name = f"pos_adapter_test_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(
        host=parsed.host, port=parsed.port or 5432, user=parsed.username,
        password=parsed.password, database=parsed.database or "postgres",
    )
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return name, parsed.set(database=name).render_as_string(hide_password=False)


async def _drop_database(url: str, name: str) -> None:
    parsed = make_url(url)
    admin = await asyncpg.connect(
        host=parsed.host, port=parsed.port or 5432, user=parsed.username,
        password=parsed.password, database=parsed.database or "postgres",
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
        return
    base = request.getfixturevalue("postgres_url")
    name, url = await _create_database(base)
    try:
        yield url
    finally:
        await _drop_database(base, name)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[SqlStore]:
    opened = SqlStore(store_url)
    await opened.start()
    try:
        yield opened
    finally:
        await opened.close()
