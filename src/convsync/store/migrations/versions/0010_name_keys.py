"""campaign_types, campaigns: a name_key column that names are matched by

Names were matched exactly, so "spring", " Spring" and a decomposed (NFD) "Spring" each
missed or duplicated "Spring". name_key is domain.names.name_key(name), the case-folded
NFC form, unique. Existing rows are backfilled; where two existing names share a key
(both created before this rule), the older row keeps the key and the later ones get
"<key>#<id>": no row is lost, and `campaigns rename` / `types rename` give them a name
of their own.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from convsync.domain.names import name_key

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TABLES = ("campaign_types", "campaigns")
KEY_LENGTH = 240


def _backfill(table: str) -> None:
    connection = op.get_bind()
    rows = sa.table(table, sa.column("id"), sa.column("name"), sa.column("name_key"))
    seen: set[str] = set()
    for row_id, name in connection.execute(sa.select(rows.c.id, rows.c.name).order_by(rows.c.id)):
        key = name_key(name)
        if key in seen:
            key = f"{key}#{row_id}"
        seen.add(key)
        connection.execute(rows.update().where(rows.c.id == row_id).values(name_key=key))


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("name_key", sa.String(KEY_LENGTH), nullable=True))
        _backfill(table)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("name_key", existing_type=sa.String(KEY_LENGTH), nullable=False)
            batch_op.create_unique_constraint(op.f(f"uq_{table}_name_key"), ["name_key"])


def downgrade() -> None:
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f"uq_{table}_name_key"), type_="unique")
            batch_op.drop_column("name_key")
