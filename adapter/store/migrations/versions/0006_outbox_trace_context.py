"""The W3C trace context an outbox row is published with (adapter.tracing).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("traceparent", sa.String(64)))
        batch.add_column(sa.Column("tracestate", sa.String(512)))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("tracestate")
        batch.drop_column("traceparent")
