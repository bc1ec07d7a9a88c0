"""INSERT … ON CONFLICT for PostgreSQL and SQLite (the embedded default) alike."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert(session: Session, table: Any) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (the core one does not)."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def upsert(
    session: Session,
    table: Table | Any,
    rows: Sequence[dict[str, Any]],
    *,
    key: Sequence[Any],
    overwrite: Sequence[str],
) -> None:
    """Insert `rows`; where one with the same `key` exists, set only `overwrite` from it.

    One cached statement run as an executemany: the rows are pipelined, not compiled
    into a fresh VALUES list per call.
    """
    if not rows:
        return
    stmt = insert(session, table)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=list(key),
            set_={column: stmt.excluded[column] for column in overwrite},
        ),
        list(rows),
    )
