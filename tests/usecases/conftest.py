"""Use cases on the embedded SQLite database and an in-process Salesforce: no server.

Nothing here asks for the root conftest's service fixtures (PostgreSQL, Redis, the
emulator), so these tests run, in seconds, on a machine with none of them.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from convsync.store import migrate
from convsync.store.db import Sessions, make_engine, make_session_factory
from convsync.sync import catalog, inbound, linking, outbound, schedule, update_pool
from convsync.sync.context import SyncContext, SyncOptions
from tests.support.fake_salesforce import FakeSalesforce

CAMPAIGN = "Spring"
# Pooled updates wait a millisecond, not two seconds: the tests deliver flushes in order.
POOLING = SyncOptions(update_pool_linger=timedelta(milliseconds=1))
STATUSES = ("Invited", "Registered", "Attended")


@dataclass
class InlineDispatcher:
    """The `Dispatcher` port as a queue the test drains in order (no broker)."""

    queue: list[tuple[str, int, int]] = field(default_factory=list)
    # (link id, edit count) of each push Conversion edits asked for.
    edit_pushes: list[tuple[int, int]] = field(default_factory=list)
    flushes_asked: int = 0

    def inbound_stage(self, run_id: int) -> None:
        self.queue.append(("inbound_stage", run_id, 0))

    def inbound_chunk(self, run_id: int, chunk: int) -> None:
        self.queue.append(("inbound_chunk", run_id, chunk))

    def outbound_stage(self, run_id: int) -> None:
        self.queue.append(("outbound_stage", run_id, 0))

    def outbound_chunk(self, run_id: int, chunk: int) -> None:
        self.queue.append(("outbound_chunk", run_id, chunk))

    def push_edits(self, link_id: int, requested_after: int, *, delay: float) -> None:
        self.edit_pushes.append((link_id, requested_after))

    def flush_updates(self, *, delay: float) -> None:
        self.flushes_asked += 1
        self.queue.append(("flush_updates", 0, 0))


TASKS: dict[str, Callable[[SyncContext, int, int], None]] = {
    "inbound_stage": lambda ctx, run, _: inbound.plan_inbound(ctx, run),
    "inbound_chunk": inbound.apply_inbound_chunk,
    "outbound_stage": lambda ctx, run, _: outbound.plan_outbound(ctx, run),
    "outbound_chunk": outbound.push_outbound_chunk,
    "flush_updates": lambda ctx, _, __: flush_after_linger(ctx),
}


def flush_after_linger(ctx: SyncContext) -> None:
    """A flush arrives once its linger is over, as its countdown makes it in a worker."""
    time.sleep(ctx.options.update_pool_linger.total_seconds())
    update_pool.flush_updates(ctx)


@dataclass
class Scene:
    """Conversion (SQLite in tmp_path), Salesforce (a fake) and the tasks between them."""

    sessions: Sessions
    salesforce: FakeSalesforce
    dispatcher: InlineDispatcher
    ctx: SyncContext
    sf_campaign: str

    def run_tasks(self) -> None:
        """Deliver every queued task, in order, until none is left (as workers would)."""
        while self.dispatcher.queue:
            kind, run_id, chunk = self.dispatcher.queue.pop(0)
            TASKS[kind](self.ctx, run_id, chunk)

    def tick(self) -> None:
        """Beat's tick: start the runs that are due, then deliver their tasks."""
        schedule.dispatch_due_syncs(self.ctx)
        self.run_tasks()

    def conversion_members(self) -> dict[str, str | None]:
        return {m.email: m.status for m in catalog.list_members(self.sessions, CAMPAIGN)}


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One database migrated by the project's own `migrate.upgrade`, copied per test
    (migrating costs ~0.3 s; a copy, a millisecond)."""
    path = tmp_path_factory.mktemp("schema") / "convsync.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()  # closes the last connection: SQLite folds its WAL into the file
    return path


@pytest.fixture
def scene(tmp_path: Path, migrated_database: Path) -> Scene:
    database = tmp_path / "convsync.db"
    shutil.copyfile(migrated_database, database)
    sessions = make_session_factory(make_engine(f"sqlite:///{database}"))
    catalog.create_type(sessions, "Webinar", list(STATUSES))
    catalog.create_campaign(sessions, CAMPAIGN, "Webinar")
    salesforce = FakeSalesforce()
    sf_campaign = salesforce.add_campaign("Spring SF", STATUSES)
    dispatcher = InlineDispatcher()
    ctx = SyncContext(sessions, lambda: salesforce, dispatcher, POOLING)
    return Scene(sessions, salesforce, dispatcher, ctx, sf_campaign)


AUTUMN = "Autumn"


def spring_and_autumn_linked(scene: Scene) -> str:
    """Spring and Autumn, each linked with ann as Invited on both sides and synced; the
    fake's counts of reads and writes cleared; Autumn's Salesforce id."""
    catalog.create_campaign(scene.sessions, AUTUMN, "Webinar")
    sf_autumn = scene.salesforce.add_campaign("Autumn SF", STATUSES)
    ann = scene.salesforce.add_contact("ann@example.com")
    scene.salesforce.add_member(scene.sf_campaign, ann, "Invited")
    scene.salesforce.add_member(sf_autumn, ann, "Invited")
    linking.link_existing(scene.ctx, CAMPAIGN, scene.sf_campaign)
    linking.link_existing(scene.ctx, AUTUMN, sf_autumn)
    scene.run_tasks()
    scene.salesforce.reads.clear()
    scene.salesforce.writes.clear()
    return sf_autumn
