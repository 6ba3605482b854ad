"""Migrations at start: a store at the newest revision is left alone (without alembic),
an older one is brought up to it; the schema they make."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from adapter.store import SqlStore, alembic_config
from adapter.store._migrate import HEAD, _revisions


def test_head_is_the_newest_migration() -> None:
    assert ScriptDirectory.from_config(alembic_config()).get_heads() == [HEAD]


async def test_a_store_at_the_newest_revision_is_not_migrated_again(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: Any) -> None:
        raise AssertionError("migrated a store already at the newest revision")

    monkeypatch.setattr(command, "upgrade", refuse)
    again = SqlStore(store.url)
    await again.start()
    await again.close()


@pytest.mark.parametrize("apart", [False, True], ids=["in-process", "in-a-child-process"])
async def test_a_store_at_an_older_revision_is_upgraded(store: SqlStore, apart: bool) -> None:
    def downgrade(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0004")

    async with store._writer.begin() as connection:
        await connection.run_sync(downgrade)
        assert await connection.run_sync(_revisions) == {"0004"}

    again = SqlStore(store.url, migrate_apart=apart)
    await again.start()
    try:
        async with again._writer.connect() as connection:
            assert await connection.run_sync(_revisions) == {HEAD}
    finally:
        await again.close()


async def test_the_partial_indexes_are_partial(store: SqlStore) -> None:
    """Their WHERE is only in the migration (``adapter.store._tables`` says why)."""
    def conditions(connection: Connection) -> dict[str, str]:
        found = {}
        for table in ("outbox", "streams"):
            for index in inspect(connection).get_indexes(table):
                options = index.get("dialect_options", {})
                where = options.get("sqlite_where", options.get("postgresql_where"))
                if where is not None:
                    found[str(index["name"])] = " ".join(str(where).split())
        return found

    async with store._writer.connect() as connection:
        found = await connection.run_sync(conditions)

    assert found.keys() == {"ix_outbox_unsent", "ux_streams_active_table"}
    assert "sent_at IS NULL" in found["ix_outbox_unsent"]
    assert "ACTIVE" in found["ux_streams_active_table"]


async def test_a_migration_apart_that_fails_says_why(store: SqlStore) -> None:
    async with store._writer.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))

    again = SqlStore(store.url, migrate_apart=True)
    with pytest.raises(RuntimeError, match=r"migrating the store failed: .*9999"):
        await again.start()
    await again.close()
