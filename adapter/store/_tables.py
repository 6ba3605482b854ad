"""The store's tables (SQLAlchemy Core). Migrations in ``migrations/`` create them.

The journal keeps every message received (the incoming side); the outgoing side is the
outbox itself, whose sent rows stay until the retention prunes them. Indexes are few on
purpose: each costs every command's commit, and the readers (``pos-adapter messages``,
``replay``) are occasional operators' queries.

Two indexes are partial: their WHERE is written in the migration that creates them
(0001), not here. Here it would be a dialect option (``sqlite_where``,
``postgresql_where``), and naming a dialect's option loads that dialect: PostgreSQL's
would stay resident in every worker on SQLite (2 MiB). Alembic compares neither.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.types import TypeDecorator

from schemas import storable

metadata = MetaData()

ID = 128


class SafeString(TypeDecorator[str]):
    """Text as received, made storable: a lone surrogate (which UTF-8 cannot encode) or a
    NUL (which PostgreSQL refuses) is kept as its ``\\uXXXX`` escape, cut to the column's
    length. Identifiers that key rows never contain either (the contract refuses them),
    so keys stay exact."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if not isinstance(value, str):
            return value
        escaped = storable(value)
        if escaped is value:
            return value
        length = getattr(self.impl_instance, "length", None)
        return escaped[:length] if length else escaped


class SafeText(SafeString):
    impl = Text
    cache_ok = True

# SQLite only gives AUTOINCREMENT semantics to INTEGER PRIMARY KEY.
OutboxId = BigInteger().with_variant(Integer(), "sqlite")

inbox = Table(
    "inbox",
    metadata,
    Column("message_id", SafeString(ID), primary_key=True),
    Column("location_id", SafeString(ID), nullable=False),
    Column("message_type", SafeString(64), nullable=False),
    Column("pos_table_id", SafeString(ID)),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("outcome", SafeString(64), nullable=False),
    Column("result_message_id", SafeString(ID)),
    Column("result_type", SafeString(64)),
    Column("result_body", LargeBinary),
    Column("redeliveries", Integer, nullable=False, server_default=text("0")),
    Index("ix_inbox_received_at", "received_at"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", OutboxId, primary_key=True, autoincrement=True),
    Column("location_id", SafeString(ID), nullable=False),
    Column("message_id", SafeString(ID), nullable=False),
    Column("message_type", SafeString(64), nullable=False),
    Column("correlation_id", SafeString(ID)),
    Column("pos_table_id", SafeString(ID)),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    # The W3C trace context of the command that caused the message (adapter.tracing).
    Column("traceparent", SafeString(64)),
    Column("tracestate", SafeString(512)),
    Index("ix_outbox_unsent", "id"),  # partial: WHERE sent_at IS NULL
    Index("ix_outbox_message_id", "message_id"),
)

journal = Table(
    "journal",
    metadata,
    Column("id", OutboxId, primary_key=True, autoincrement=True),
    Column("direction", SafeString(3), nullable=False),
    Column("location_id", SafeString(ID), nullable=False),
    Column("message_id", SafeString(ID)),
    Column("message_type", SafeString(64)),
    Column("pos_table_id", SafeString(ID)),
    Column("correlation_id", SafeString(ID)),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("outcome", SafeText, nullable=False),
    Column("body", LargeBinary),
    Column("properties", SafeText),
    Column("result_message_id", SafeString(ID)),
    Index("ix_journal_received_at", "received_at"),
    Index("ix_journal_message_id", "message_id"),
)

streams = Table(
    "streams",
    metadata,
    Column("stream_id", SafeString(ID), primary_key=True),
    Column("location_id", SafeString(ID), nullable=False),
    Column("pos_table_id", SafeString(ID), nullable=False),
    Column("status", SafeString(16), nullable=False),
    Column("table_session_id", SafeString(ID)),
    Column("session_ids", SafeText, nullable=False),
    Column("opening_message_id", SafeString(ID), nullable=False),
    Column("last_sequence", Integer, nullable=False),
    Column("baseline", SafeText, nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
    # partial: WHERE status = 'ACTIVE' (one active stream per table)
    Index("ux_streams_active_table", "location_id", "pos_table_id", unique=True),
    Index("ix_streams_table", "location_id", "pos_table_id", "opened_at"),
)

submissions = Table(
    "submissions",
    metadata,
    Column("location_id", SafeString(ID), primary_key=True),
    Column("submission_id", SafeString(ID), primary_key=True),
    Column("pos_table_id", SafeString(ID), nullable=False),
    Column("table_session_id", SafeString(ID)),
    Column("message_id", SafeString(ID), nullable=False),
    Column("state", SafeString(16), nullable=False),
    Column("outcome", SafeString(32)),
    Column("result_payload", LargeBinary),
    Column("plan", LargeBinary),
    Column("created_lines", SafeText, nullable=False),
    Column("pos_order_id", SafeString(ID)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("request_digest", SafeString(64)),
)

leases = Table(
    "leases",
    metadata,
    Column("location_id", SafeString(ID), primary_key=True),
    Column("holder", SafeString(256), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)
"""Which process serves a location (``adapter.fleet``)."""

members = Table(
    "members",
    metadata,
    Column("member_id", SafeString(256), primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("heartbeat_at", DateTime(timezone=True), nullable=False),
)
"""The processes of a fleet sharing the store (``adapter.fleet``)."""
