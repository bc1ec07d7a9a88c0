"""salesforce_refresh_tokens: the newest rotated refresh token, shared by every worker

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import convsync.store.tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "salesforce_refresh_tokens",
        sa.Column("configured_hash", sa.String(length=64), nullable=False),
        sa.Column("token", sa.Text(), nullable=True),
        sa.Column("rotated_at", convsync.store.tables.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("configured_hash", name=op.f("pk_salesforce_refresh_tokens")),
    )


def downgrade() -> None:
    op.drop_table("salesforce_refresh_tokens")
