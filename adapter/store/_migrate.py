"""Apply the shipped alembic migrations, wherever the process runs from.

Alembic is imported only when there is something to migrate: loading it costs about half
a second and 9 MiB that stay resident, which every worker start on a store already at
the newest revision (nearly all of them) and every command that only reads the store
would otherwise pay. A worker migrates in a child process of its own
(``migrate(..., apart=True)``), so that the first start on a fresh store, or after an
upgrade, does not keep alembic for the worker's whole life either.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import URL, Connection, inspect, text

from adapter.store._asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD = max(path.name.partition("_")[0] for path in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))
"""The newest revision: each migration's file is named after its revision id,
``NNNN_what.py`` (a test holds this to alembic's head)."""


def alembic_config(url: str | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


MIGRATION_LOCK = 0x706F7361  # "posa": an advisory lock key of our own
"""Processes starting together on a fresh PostgreSQL database migrate one at a time."""


async def migrate(engine: AsyncEngine, *, apart: bool = False) -> None:
    """Bring the store's schema to the newest revision: nothing to do (and alembic not
    loaded) when it is already there. ``apart``: in a child process (not for a database
    in this process's memory, which no other process can reach).

    On PostgreSQL the migration runs under a transaction-level advisory lock: processes
    of a fleet starting at the same moment wait for each other instead of racing to
    create the same tables (the second then finds the schema at its newest revision).
    """
    async with engine.connect() as connection:
        if await connection.run_sync(_revisions) == {HEAD}:
            return
    if apart and not _in_memory(engine.url):
        await _migrate_in_child(engine.url)
        return
    from alembic import command

    def upgrade(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                               {"key": MIGRATION_LOCK})
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with engine.begin() as connection:
        await connection.run_sync(upgrade)


def _revisions(connection: Connection) -> set[str]:
    """The revisions the store is at (none for a fresh one), read as alembic keeps them."""
    if not inspect(connection).has_table("alembic_version"):
        return set()
    rows = connection.execute(text("SELECT version_num FROM alembic_version"))
    return {str(version) for (version,) in rows}


def _in_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


async def _migrate_in_child(url: URL) -> None:
    """Run this module as a child process; the URL goes through its standard input (a
    command line argument would show the password to anyone listing processes)."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapter.store._migrate",
        stdin=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, errors = await child.communicate(url.render_as_string(hide_password=False).encode())
    if child.returncode != 0:
        lines = errors.decode(errors="replace").strip().splitlines()
        detail = lines[-1] if lines else f"exit code {child.returncode}"
        raise RuntimeError(f"migrating the store failed: {detail}")


async def _migrate_here(url: str) -> None:
    from adapter.store._engine import create_engines

    writer, reader = create_engines(url)
    try:
        await migrate(writer)
    finally:
        await writer.dispose()
        if reader is not None:
            await reader.dispose()


if __name__ == "__main__":
    asyncio.run(_migrate_here(sys.stdin.readline().strip()))
