"""member_sync_state: the value an outbound chunk is writing (the pending push)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 04:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import convsync.store.tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("member_sync_state", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "push_started_at",
                convsync.store.tables.UTCDateTime(timezone=True),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("push_status", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("member_sync_state", schema=None) as batch_op:
        batch_op.drop_column("push_status")
        batch_op.drop_column("push_started_at")
