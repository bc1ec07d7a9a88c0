"""status_mappings (a Conversion status known in Salesforce by another label); the
links' status policies (inbound_unknown, outbound_unknown) and rules_changed_at

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import convsync.store.tables

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "status_mappings",
        sa.Column("id", _ID, nullable=False),
        sa.Column("campaign_id", _ID, nullable=False),
        sa.Column("conversion_status", sa.String(length=40), nullable=False),
        sa.Column("salesforce_label", sa.String(length=40), nullable=False),
        sa.Column("updated_at", convsync.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_status_mappings_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_mappings")),
        sa.UniqueConstraint("campaign_id", "conversion_status", name="uq_mapping_campaign_status"),
        sa.UniqueConstraint("campaign_id", "salesforce_label", name="uq_mapping_campaign_label"),
    )
    with op.batch_alter_table("salesforce_links", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "inbound_unknown", sa.String(length=16), server_default="skip", nullable=False
            )
        )
        batch_op.add_column(
            sa.Column(
                "outbound_unknown",
                sa.String(length=16),
                server_default="dead-letter",
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column(
                "rules_changed_at",
                convsync.store.tables.UTCDateTime(timezone=True),
                nullable=True,
            )
        )
        batch_op.create_check_constraint(
            op.f("ck_salesforce_links_inbound_unknown_known"),
            "inbound_unknown IN ('skip', 'default')",
        )
        batch_op.create_check_constraint(
            op.f("ck_salesforce_links_outbound_unknown_known"),
            "outbound_unknown IN ('dead-letter', 'create')",
        )


def downgrade() -> None:
    with op.batch_alter_table("salesforce_links", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_salesforce_links_outbound_unknown_known"), type_="check")
        batch_op.drop_constraint(op.f("ck_salesforce_links_inbound_unknown_known"), type_="check")
        batch_op.drop_column("rules_changed_at")
        batch_op.drop_column("outbound_unknown")
        batch_op.drop_column("inbound_unknown")
    op.drop_table("status_mappings")
