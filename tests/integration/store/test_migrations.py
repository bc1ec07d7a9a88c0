"""The Alembic migrations build exactly the schema the tables declare, on both databases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from convsync.store.db import make_engine
from convsync.store.migrate import upgrade
from convsync.store.tables import Base
from convsync.workers import root


def differences(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def test_the_migrated_postgresql_schema_matches_the_tables(service_env: dict[str, str]) -> None:
    assert differences(root.adapters().engine) == []


def test_the_migrated_sqlite_schema_matches_the_tables(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'convsync.db'}")
    upgrade(engine)
    assert differences(engine) == []


def test_a_database_at_the_first_release_upgrades_to_the_latest(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'convsync.db'}")
    upgrade(engine, "0001")
    upgrade(engine)
    columns = {c["name"] for c in inspect(engine).get_columns("member_sync_state")}
    assert {"push_started_at", "push_status"} <= columns
