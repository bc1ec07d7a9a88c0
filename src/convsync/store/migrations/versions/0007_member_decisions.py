"""member_decisions: every decision about a member, for `convsync explain`

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 16:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import convsync.store.tables

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_UTC = convsync.store.tables.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "member_decisions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("link_id", _ID, nullable=False),
        sa.Column("person_id", _ID, nullable=False),
        sa.Column("run_id", _ID, nullable=True),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("conflict", sa.Boolean(), nullable=False),
        sa.Column("conversion_status", sa.String(length=40), nullable=True),
        sa.Column("conversion_at", _UTC, nullable=True),
        sa.Column("salesforce_status", sa.String(length=40), nullable=True),
        sa.Column("salesforce_at", _UTC, nullable=True),
        sa.Column("base_status", sa.String(length=40), nullable=True),
        sa.Column("decided_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["salesforce_links.id"],
            name=op.f("fk_member_decisions_link_id_salesforce_links"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_member_decisions_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_decisions")),
        sa.UniqueConstraint(
            "run_id", "stage", "person_id", "kind", name="uq_decision_once_per_run"
        ),
    )
    with op.batch_alter_table("member_decisions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_decision_link_person", ["link_id", "person_id", "decided_at"], unique=False
        )
        batch_op.create_index("ix_decision_decided_at", ["decided_at"], unique=False)


def downgrade() -> None:
    op.drop_table("member_decisions")
