"""sync_chunks: the update pool (`pooled_updates`, `pooled_at`)

An outbound chunk that only updates members already in Salesforce leaves its updates
on its chunk row instead of writing them; a flush task writes the pooled updates of many
runs together, 200 to a collection, and completes each chunk with its results.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 22:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import convsync.store.tables

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_chunks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pooled_updates", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("pooled_at", convsync.store.tables.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_chunks", schema=None) as batch_op:
        batch_op.drop_column("pooled_at")
        batch_op.drop_column("pooled_updates")
