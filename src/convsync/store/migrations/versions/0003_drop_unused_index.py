"""member_sync_state: drop ix_sync_state_salesforce_member (no query filters on it)

Bases are read and written by (link, person); the index only made every base write
update one more index (measured with `convsync bench`, docs/performance.md).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 05:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("member_sync_state", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_state_salesforce_member")


def downgrade() -> None:
    with op.batch_alter_table("member_sync_state", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sync_state_salesforce_member", ["salesforce_member_id"], unique=False
        )
