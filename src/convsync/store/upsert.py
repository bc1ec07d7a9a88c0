"""INSERT … ON CONFLICT for PostgreSQL and SQLite (the embedded default) alike."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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
    overwrite: Sequence[str] = (),
    computed: Callable[[Any], Mapping[str, Any]] | None = None,
    only_if: Callable[[Any], Any] | None = None,
    key_where: Any = None,
) -> None:
    """Insert `rows`; where one with the same `key` exists, set only `overwrite` from it.

    `computed(excluded)` adds columns set from an expression (a counter bumped), and
    `only_if(excluded)` limits the update to existing rows it holds for; `key_where` names
    a partial unique index. One cached statement run as an executemany: the rows are
    pipelined, not compiled into a fresh VALUES list per call.
    """
    if not rows:
        return
    stmt = insert(session, table)
    excluded = stmt.excluded
    changes: dict[str, Any] = {column: excluded[column] for column in overwrite}
    if computed is not None:
        changes.update(computed(excluded))
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=list(key),
            index_where=key_where,
            set_=changes,
            where=only_if(excluded) if only_if is not None else None,
        ),
        list(rows),
    )
