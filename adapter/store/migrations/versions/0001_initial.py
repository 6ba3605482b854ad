"""The inbox, outbox, streams and submissions tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = 128
OutboxId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("message_id", sa.String(ID), primary_key=True),
        sa.Column("location_id", sa.String(ID), nullable=False),
        sa.Column("message_type", sa.String(64), nullable=False),
        sa.Column("pos_table_id", sa.String(ID)),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.Column("result_message_id", sa.String(ID)),
        sa.Column("result_type", sa.String(64)),
        sa.Column("result_body", sa.LargeBinary),
        sa.Column("redeliveries", sa.Integer, nullable=False, server_default=sa.text("0")),
    )
    op.create_index("ix_inbox_received_at", "inbox", ["received_at"])
    op.create_table(
        "outbox",
        sa.Column("id", OutboxId, primary_key=True, autoincrement=True),
        sa.Column("location_id", sa.String(ID), nullable=False),
        sa.Column("message_id", sa.String(ID), nullable=False),
        sa.Column("message_type", sa.String(64), nullable=False),
        sa.Column("correlation_id", sa.String(ID)),
        sa.Column("pos_table_id", sa.String(ID)),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
    )
    op.create_index(
        "ix_outbox_unsent",
        "outbox",
        ["id"],
        sqlite_where=sa.text("sent_at IS NULL"),
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.create_table(
        "streams",
        sa.Column("stream_id", sa.String(ID), primary_key=True),
        sa.Column("location_id", sa.String(ID), nullable=False),
        sa.Column("pos_table_id", sa.String(ID), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("table_session_id", sa.String(ID)),
        sa.Column("session_ids", sa.Text, nullable=False),
        sa.Column("opening_message_id", sa.String(ID), nullable=False),
        sa.Column("last_sequence", sa.Integer, nullable=False),
        sa.Column("baseline", sa.Text, nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
    )
    op.create_index(
        "ux_streams_active_table",
        "streams",
        ["location_id", "pos_table_id"],
        unique=True,
        sqlite_where=sa.text("status = 'ACTIVE'"),
        postgresql_where=sa.text("status = 'ACTIVE'"),
    )
    op.create_index("ix_streams_table", "streams", ["location_id", "pos_table_id", "opened_at"])
    op.create_table(
        "submissions",
        sa.Column("location_id", sa.String(ID), primary_key=True),
        sa.Column("submission_id", sa.String(ID), primary_key=True),
        sa.Column("pos_table_id", sa.String(ID), nullable=False),
        sa.Column("table_session_id", sa.String(ID)),
        sa.Column("message_id", sa.String(ID), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(32)),
        sa.Column("result_payload", sa.LargeBinary),
        sa.Column("plan", sa.LargeBinary),
        sa.Column("created_lines", sa.Text, nullable=False),
        sa.Column("pos_order_id", sa.String(ID)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("submissions")
    op.drop_table("streams")
    op.drop_table("outbox")
    op.drop_table("inbox")
