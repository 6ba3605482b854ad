"""The journal of messages received; outbox rows found by messageId.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = 128
JournalId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "journal",
        sa.Column("id", JournalId, primary_key=True, autoincrement=True),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("location_id", sa.String(ID), nullable=False),
        sa.Column("message_id", sa.String(ID)),
        sa.Column("message_type", sa.String(64)),
        sa.Column("pos_table_id", sa.String(ID)),
        sa.Column("correlation_id", sa.String(ID)),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("body", sa.LargeBinary),
        sa.Column("properties", sa.Text),
        sa.Column("result_message_id", sa.String(ID)),
    )
    op.create_index("ix_journal_received_at", "journal", ["received_at"])
    op.create_index("ix_journal_message_id", "journal", ["message_id"])
    op.create_index("ix_outbox_message_id", "outbox", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_message_id", table_name="outbox")
    op.drop_table("journal")
