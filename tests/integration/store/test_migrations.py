"""The Alembic migrations build exactly the schema the tables declare, on both databases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from convsync.domain.ids import to_18
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


def test_migration_0009_rewrites_15_character_ids_and_keeps_one_link_per_salesforce_campaign(
    tmp_path: Path,
) -> None:
    """Before 0009 a 15-character id and its 18-character form made two active links to
    one Salesforce campaign; after it, the oldest keeps the link in the 18-character form."""
    engine = make_engine(f"sqlite:///{tmp_path / 'convsync.db'}")
    upgrade(engine, "0003")
    id15 = "701Hs0000000001"
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO campaign_types (id, name, created_at) "
                "VALUES (1, 'Webinar', '2026-12-01 00:00:00')"
            )
        )
        for campaign in (1, 2):
            connection.execute(
                text(
                    "INSERT INTO campaigns (id, name, type_id, created_at) "
                    "VALUES (:id, :name, 1, '2026-12-01 00:00:00')"
                ),
                {"id": campaign, "name": f"C{campaign}"},
            )
        for link, salesforce_id in ((1, id15), (2, to_18(id15))):
            connection.execute(
                text(
                    "INSERT INTO salesforce_links (id, campaign_id, salesforce_campaign_id, "
                    "mode, state, initial_sync_done, linked_at) "
                    "VALUES (:id, :id, :sf, 'existing', 'active', 0, '2026-12-01 00:00:00')"
                ),
                {"id": link, "sf": salesforce_id},
            )
    upgrade(engine)
    with engine.connect() as connection:
        links = connection.execute(
            text("SELECT id, salesforce_campaign_id, state FROM salesforce_links ORDER BY id")
        ).all()
    assert [tuple(link) for link in links] == [
        (1, to_18(id15), "active"),
        (2, to_18(id15), "unlinked"),
    ]


def test_migration_0010_keys_names_and_keeps_every_member_on_sqlite(tmp_path: Path) -> None:
    """0010 rebuilds campaigns on SQLite (to add name_key): the members that reference
    them survive, and two names that only differ in case both stay, the later one keyed
    apart."""
    engine = make_engine(f"sqlite:///{tmp_path / 'convsync.db'}")
    upgrade(engine, "0009")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO campaign_types (id, name, created_at) "
                "VALUES (1, 'Webinar', '2026-12-01 00:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO campaign_type_statuses "
                "(id, type_id, label, is_default, has_responded, sort_order) "
                "VALUES (1, 1, 'Invited', 1, 1, 1)"
            )
        )
        for campaign, name in ((1, "Spring"), (2, "SPRING")):
            connection.execute(
                text(
                    "INSERT INTO campaigns (id, name, type_id, created_at) "
                    "VALUES (:id, :name, 1, '2026-12-01 00:00:00')"
                ),
                {"id": campaign, "name": name},
            )
        connection.execute(
            text(
                "INSERT INTO people (id, email, created_at) "
                "VALUES (1, 'ann@example.com', '2026-12-01 00:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO campaign_members (id, campaign_id, type_id, person_id, status, "
                "updated_at) VALUES (1, 1, 1, 1, 'Invited', '2026-12-01 00:00:00')"
            )
        )
    upgrade(engine)
    with engine.connect() as connection:
        keys = connection.execute(text("SELECT name_key FROM campaigns ORDER BY id")).all()
        members = connection.execute(text("SELECT count(*) FROM campaign_members")).scalar()
        foreign_keys = connection.execute(text("PRAGMA foreign_keys")).scalar()
    assert [k for (k,) in keys] == ["spring", "spring#2"]
    assert members == 1
    assert foreign_keys == 1
