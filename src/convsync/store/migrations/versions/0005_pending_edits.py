"""Pending Conversion edits (near-real-time outbound) and the members the sync added

salesforce_links: edit_count, pushed_edit_count, edits_pending_since; sync_runs:
edit_count and the run kind 'edits'; added_salesforce_members (what
`unlink --remove-synced-members` removes).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import convsync.store.tables

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
KINDS_BEFORE = "kind IN ('initial', 'scheduled', 'manual')"
KINDS_AFTER = "kind IN ('initial', 'scheduled', 'manual', 'edits')"


def upgrade() -> None:
    with op.batch_alter_table("salesforce_links", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("edit_count", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("pushed_edit_count", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "edits_pending_since",
                convsync.store.tables.UTCDateTime(timezone=True),
                nullable=True,
            )
        )
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("edit_count", sa.BigInteger(), nullable=True))
        batch_op.drop_constraint(op.f("ck_sync_runs_kind_known"), type_="check")
        batch_op.create_check_constraint(op.f("ck_sync_runs_kind_known"), KINDS_AFTER)
    op.create_table(
        "added_salesforce_members",
        sa.Column("id", ID, nullable=False),
        sa.Column("link_id", ID, nullable=False),
        sa.Column("person_id", ID, nullable=False),
        sa.Column("salesforce_member_id", sa.String(length=18), nullable=False),
        sa.Column("run_id", ID, nullable=True),
        sa.Column("added_at", convsync.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("removed_at", convsync.store.tables.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["salesforce_links.id"],
            name=op.f("fk_added_salesforce_members_link_id_salesforce_links"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_added_salesforce_members_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_added_salesforce_members")),
        sa.UniqueConstraint("link_id", "salesforce_member_id", name="uq_added_link_member"),
    )


def downgrade() -> None:
    op.drop_table("added_salesforce_members")
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_sync_runs_kind_known"), type_="check")
        batch_op.create_check_constraint(op.f("ck_sync_runs_kind_known"), KINDS_BEFORE)
        batch_op.drop_column("edit_count")
    with op.batch_alter_table("salesforce_links", schema=None) as batch_op:
        batch_op.drop_column("edits_pending_since")
        batch_op.drop_column("pushed_edit_count")
        batch_op.drop_column("edit_count")
