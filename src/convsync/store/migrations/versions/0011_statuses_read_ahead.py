"""sync_runs: the statuses a tick read ahead for the run (`statuses_read_ahead`, `statuses_read_at`)

A tick that starts runs for many campaigns reads their statuses in one shared read and
keeps each campaign's on its run; the outbound stage checks its pushes against them
instead of reading them again, when they are fresh.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 22:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import convsync.store.tables

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("statuses_read_ahead", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "statuses_read_at",
                convsync.store.tables.UTCDateTime(timezone=True),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_column("statuses_read_at")
        batch_op.drop_column("statuses_read_ahead")
