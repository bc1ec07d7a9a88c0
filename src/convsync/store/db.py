"""Engines and sessions. Built by the composition root, never at import time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from convsync.domain.errors import ConfigurationError
from convsync.store.tables import utcnow

# What use cases name: a unit of work, and the factory that opens one (sync/ imports no
# SQLAlchemy; these names are its whole view of the database driver).
Sessions = sessionmaker[Session]

__all__ = [
    "ConflictError",
    "Session",
    "Sessions",
    "make_engine",
    "make_session_factory",
    "transaction",
    "unique_write",
    "utcnow",
]


class ConflictError(Exception):
    """A write broke a unique constraint: a concurrent writer stored the same thing first."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Foreign keys are off by default in SQLite; WAL lets the CLI read while a worker writes.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            folder = Path(parsed.database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise ConfigurationError(
                    f"CONVSYNC_DATABASE_URL: cannot create the folder {folder} "
                    f"({error.strerror}): choose a path you can write to"
                ) from None
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # No server-side prepared statements: psycopg prepares a query after 5 runs, and
    # PostgreSQL may then keep a generic plan made while a table was still small. For
    # `person_id IN (1,000 values)` that plan filtered every row of the link (0.7 s a
    # query instead of 10 ms) once member_sync_state had grown. Unprepared queries are
    # planned with their values each time (~1 ms), and PgBouncer needs this anyway.
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=5,
        pool_pre_ping=True,
        connect_args={"prepare_threshold": None},
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work: commits on success, rolls back on any error."""
    with factory() as session, session.begin():
        yield session


@contextmanager
def unique_write(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A `transaction` whose unique-constraint failure raises `ConflictError` (a lost race)."""
    try:
        with transaction(factory) as session:
            yield session
    except IntegrityError:
        raise ConflictError("a concurrent write stored the same row first") from None
