"""The adapter's store: SQLAlchemy async, SQLite by default, PostgreSQL by URL."""

from adapter.store._asyncio import AsyncConnection, AsyncEngine, create_async_engine
from adapter.store._engine import Insert, insert_for, is_sqlite
from adapter.store._migrate import alembic_config, migrate
from adapter.store._reader import MessageQuery, StoredMessage, StoreReader, StoreUnavailable
from adapter.store._rows import OutboxRow
from adapter.store._store import SqlStore
from adapter.store._tables import leases, members

__all__ = [
    "AsyncConnection",
    "AsyncEngine",
    "Insert",
    "MessageQuery",
    "OutboxRow",
    "SqlStore",
    "StoreReader",
    "StoreUnavailable",
    "StoredMessage",
    "alembic_config",
    "create_async_engine",
    "insert_for",
    "is_sqlite",
    "leases",
    "members",
    "migrate",
]
