"""salesforce_links: Salesforce campaign ids in their 18-character form only

Earlier releases stored the id as typed, so a 15-character id and the 18-character form
of the same id made two links to one Salesforce campaign (a removal synced through one
reached the other's members). This revision rewrites stored 15-character ids (links,
and people's Lead/Contact ids) to 18 characters. Where two active links then name one
Salesforce campaign, the oldest stays active and the later ones are unlinked, their open
runs failed, as `convsync unlink` does: both sides keep their data. A check constraint
keeps 15-character ids out from now on.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 16:30:00
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from convsync.domain.ids import to_18

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

DUPLICATE_LINK = "unlinked by migration 0009: another link holds this Salesforce campaign"


def _normalise(table: str, column: str) -> None:
    connection = op.get_bind()
    rows = sa.table(table, sa.column("id"), sa.column(column))
    value = rows.c[column]
    found = connection.execute(sa.select(rows.c.id, value).where(sa.func.length(value) == 15))
    for row_id, id15 in found.all():
        connection.execute(rows.update().where(rows.c.id == row_id).values({column: to_18(id15)}))


def _unlink_duplicates() -> None:
    connection = op.get_bind()
    now = datetime.now(UTC)
    rows = connection.execute(
        sa.text(
            "SELECT id, salesforce_campaign_id FROM salesforce_links "
            "WHERE state = 'active' ORDER BY id"
        )
    ).all()
    seen: set[str] = set()
    for link_id, salesforce_campaign_id in rows:
        if salesforce_campaign_id not in seen:
            seen.add(salesforce_campaign_id)
            continue
        connection.execute(
            sa.text(
                "UPDATE sync_runs SET state = 'failed', error = :error, finished_at = :now "
                "WHERE link_id = :id AND state IN ('queued', 'running')"
            ),
            {"error": DUPLICATE_LINK, "now": now, "id": link_id},
        )
        connection.execute(
            sa.text(
                "UPDATE salesforce_links SET state = 'unlinked', unlinked_at = :now WHERE id = :id"
            ),
            {"now": now, "id": link_id},
        )


def upgrade() -> None:
    # The unique index on active links would refuse a rewritten duplicate: drop it first.
    with op.batch_alter_table("salesforce_links", schema=None) as batch_op:
        batch_op.drop_index("uq_link_active_salesforce_campaign")
    _normalise("salesforce_links", "salesforce_campaign_id")
    _normalise("people", "salesforce_lead_id")
    _normalise("people", "salesforce_contact_id")
    _unlink_duplicates()
    with op.batch_alter_table("salesforce_links", schema=None) as batch_op:
        batch_op.create_index(
            "uq_link_active_salesforce_campaign",
            ["salesforce_campaign_id"],
            unique=True,
            postgresql_where=sa.text("state = 'active'"),
            sqlite_where=sa.text("state = 'active'"),
        )
        batch_op.create_check_constraint(
            op.f("ck_salesforce_links_salesforce_campaign_id_18"),
            "length(salesforce_campaign_id) = 18",
        )


def downgrade() -> None:
    with op.batch_alter_table("salesforce_links", schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f("ck_salesforce_links_salesforce_campaign_id_18"), type_="check"
        )
