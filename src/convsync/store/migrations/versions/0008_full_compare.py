"""sync_runs: drift repair (`full_compare`) and the read's `inbound_covered` cap

A run that compares every live Salesforce member with the bases is marked so its
planner, restarted after a crash, does the same; `inbound_covered` is Salesforce's
`latestDateCovered` as read at the start of the inbound stage, which the bookmark
never passes (rows of transactions still in flight become visible later).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 16:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import convsync.store.tables

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("full_compare", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "inbound_covered",
                convsync.store.tables.UTCDateTime(timezone=True),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_column("inbound_covered")
        batch_op.drop_column("full_compare")
