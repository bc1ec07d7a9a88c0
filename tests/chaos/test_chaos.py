"""Chaos: a two-way sync while workers are SIGKILLed, Redis and PostgreSQL restart and
Salesforce fails 5 % of its calls; afterwards the two sides agree.

Both sides are edited throughout (each member by one side only, so the expected end
state is known without timing the conflict rule, which tests/property covers). During
the chaos window the test SIGKILLs worker processes at random moments (at each, it waits
for a worker to be running a sync task, found with `inspect active` as Flower would,
and kills that one), both ways: the pool child running the task (it dies with it) and
a whole worker, main process and children (its
fetched messages stay in Redis's unacked set for the visibility timeout, an hour, so
recovery has to come from the runs' leases and beat's `convsync.schedule.reconcile`).
It restarts its own Redis (no persistence: every queued message is lost) and its own
PostgreSQL once each, and the emulator injects 503, UNABLE_TO_LOCK_ROW,
REQUEST_LIMIT_EXCEEDED (the task waits for the budget, 2 s here, then resumes), expired
sessions and dropped connections into 5 % of API calls, until the end.

Then, within three cadences of the chaos ending: both sides hold the same members with
the same statuses except exactly the recorded skips and dead letters; no member is
lost; no CampaignMember is duplicated; no run is left running; every lease is released
or expired; and each whole-worker kill was recovered from within two minutes.

`CONVSYNC_CHAOS=full` (`make chaos`): 20,200 members, 5 kills. Otherwise (`make test`)
a small, fast variant: 410 members, 2 kills. `CONVSYNC_CHAOS_SEED` replays a schedule.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from simple_salesforce import format_soql
from simple_salesforce.exceptions import SalesforceExpiredSession
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from convsync.domain.errors import NotFoundError
from convsync.salesforce_emulator.testing import EmulatorHandle, simple_salesforce_client
from convsync.store.db import make_engine, make_session_factory
from convsync.store.migrate import upgrade
from convsync.store.tables import (
    CampaignRow,
    ChunkRow,
    LinkRow,
    MemberRow,
    MemberSyncStateRow,
    PersonRow,
    RunRow,
    SkippedMemberRow,
    SyncErrorRow,
)
from convsync.sync import catalog, member_import
from tests.chaos.services import PostgresServer, RedisServer, own_redis_and_postgres
from tests.support.workers import WorkerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CAMPAIGN = "Chaos"
COMMON = ("Invited", "Registered", "Attended")
SKIPPED_STATUS = "Bounced"  # on the Salesforce campaign, not in the type: skipped inbound
PARKED_STATUS = "Waitlisted"  # in the type, not on the Salesforce campaign: dead letters
FAULTS = ["503", "UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED", "INVALID_SESSION_ID", "drop"]


@dataclass(frozen=True)
class Scale:
    salesforce_only: int
    conversion_only: int
    both: int
    odd: int  # members with a skipped status, and members with a parked one
    child_kills: int
    whole_kills: int
    window: float  # seconds of chaos
    edit_every: float
    edits_per_side: int
    cadence: int
    lease: int


FULL = Scale(8_000, 8_000, 4_000, 100, 3, 2, 150.0, 5.0, 40, 40, 20)
FAST = Scale(150, 150, 100, 5, 1, 1, 24.0, 2.0, 5, 8, 5)
SCALE = FULL if os.environ.get("CONVSYNC_CHAOS") == "full" else FAST


# ------------------------------------------------------------------ the expected end state


@dataclass
class Expected:
    """What each member must end as: the last value its owning side gave it."""

    value: dict[str, str | None] = field(default_factory=dict)
    owner: dict[str, str] = field(default_factory=dict)  # email → "conversion" | "salesforce"
    skipped: set[str] = field(default_factory=set)
    parked: set[str] = field(default_factory=set)
    history: dict[str, list[str]] = field(default_factory=dict)

    def set(self, email: str, value: str | None) -> None:
        self.value[email] = value
        stamp = datetime.now(UTC).strftime("%H:%M:%S.%f")[:-3]
        self.history.setdefault(email, []).append(f"{stamp} {value}")

    def owned_by(self, side: str) -> list[str]:
        odd = self.skipped | self.parked
        return sorted(e for e, o in self.owner.items() if o == side and e not in odd)


def build_population(
    rng: random.Random,
) -> tuple[Expected, list[tuple[str, str]], list[tuple[str, str]]]:
    """(expected, Salesforce members, Conversion members) as (email, status) lists."""
    expected = Expected()
    in_salesforce: list[tuple[str, str]] = []
    in_conversion: list[tuple[str, str]] = []
    for i in range(SCALE.salesforce_only):
        email, status = f"sf{i}@example.com", rng.choice(COMMON)
        in_salesforce.append((email, status))
        expected.value[email], expected.owner[email] = status, "salesforce"
    for i in range(SCALE.conversion_only):
        email, status = f"cv{i}@example.com", rng.choice(COMMON)
        in_conversion.append((email, status))
        expected.value[email], expected.owner[email] = status, "conversion"
    for i in range(SCALE.both):
        email, status = f"both{i}@example.com", rng.choice(COMMON)
        in_salesforce.append((email, status))
        in_conversion.append((email, status))
        expected.value[email] = status
        expected.owner[email] = "salesforce" if i % 2 else "conversion"
    for i in range(SCALE.odd):
        skipped, parked = f"skip{i}@example.com", f"park{i}@example.com"
        in_salesforce.append((skipped, SKIPPED_STATUS))
        in_conversion.append((parked, PARKED_STATUS))
        expected.value[skipped], expected.owner[skipped] = SKIPPED_STATUS, "salesforce"
        expected.value[parked], expected.owner[parked] = PARKED_STATUS, "conversion"
        expected.skipped.add(skipped)
        expected.parked.add(parked)
    return expected, in_salesforce, in_conversion


# ------------------------------------------------------------------ the two sides


def retrying(call: Callable[[], Any], attempts: int = 40) -> Any:
    """The test's own calls ride out the injected faults and the restarts too."""
    for attempt in range(attempts):
        try:
            return call()
        except Exception:
            if attempt == attempts - 1:
                raise
            time.sleep(0.25)
    return None


@dataclass
class Sides:
    sessions: sessionmaker[Session]
    emulator: EmulatorHandle
    campaign_id: str
    leads: dict[str, str]
    members: dict[str, str]  # email → live CampaignMember id, for Salesforce-owned members
    _sf: Any = None

    def salesforce_call(self, call: Callable[[Any], Any]) -> Any:
        """`call(sf)` with retries; an expired session (an injected fault) logs in again."""

        def once() -> Any:
            if self._sf is None:
                self._sf = simple_salesforce_client(self.emulator)
            try:
                return call(self._sf)
            except SalesforceExpiredSession:
                self._sf = None
                raise

        return retrying(once)

    def conversion(self) -> dict[str, str]:
        def read() -> dict[str, str]:
            with self.sessions() as session:
                rows = session.execute(
                    select(PersonRow.email, MemberRow.status)
                    .join(MemberRow, MemberRow.person_id == PersonRow.id)
                    .join(CampaignRow, CampaignRow.id == MemberRow.campaign_id)
                    .where(CampaignRow.name == CAMPAIGN, MemberRow.status.is_not(None))
                ).all()
            return dict(rows)

        return dict(retrying(read))

    def salesforce(self) -> list[tuple[str, str]]:
        """(email, status) of every live member: a list, so duplicates show."""
        query = format_soql(
            "SELECT Status, Lead.Email, Contact.Email FROM CampaignMember WHERE CampaignId = {}",
            self.campaign_id,
        )
        rows = self.salesforce_call(lambda sf: sf.query_all(query)["records"])
        return [
            (str((r.get("Contact") or r.get("Lead") or {}).get("Email")).lower(), r["Status"])
            for r in rows
        ]

    def collection(self, method: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        body = {"allOrNone": False, "records": records}
        return list(
            self.salesforce_call(
                lambda sf: sf.restful("composite/sobjects", method=method, json=body)
            )
        )

    def delete(self, ids: list[str]) -> None:
        params = {"ids": ",".join(ids), "allOrNone": "false"}
        self.salesforce_call(
            lambda sf: sf.restful("composite/sobjects", method="DELETE", params=params)
        )


def remove_if_present(sessions: sessionmaker[Session], email: str) -> None:
    with contextlib.suppress(NotFoundError):  # not a member (any more): nothing to remove
        catalog.remove_member(sessions, CAMPAIGN, email)


def edit_round(sides: Sides, expected: Expected, rng: random.Random, counts: Counter[str]) -> None:
    """A few members changed or removed on each side, by the side that owns them."""
    for email in rng.sample(expected.owned_by("conversion"), SCALE.edits_per_side):
        status = rng.choice((*COMMON, None))
        if status is None:
            retrying(lambda e=email: remove_if_present(sides.sessions, e))
        else:
            retrying(lambda e=email, s=status: catalog.add_member(sides.sessions, CAMPAIGN, e, s))
        expected.set(email, status)
        counts["conversion edits"] += 1
    updates, inserts, deletes = [], [], []
    for email in rng.sample(expected.owned_by("salesforce"), SCALE.edits_per_side):
        live = sides.members.get(email)
        status = rng.choice((*COMMON, None))
        if status is None and live:
            deletes.append(email)
        elif status is not None and live:
            updates.append((email, status))
        elif status is not None:
            inserts.append((email, status))
        else:
            continue
        expected.set(email, status)
        counts["salesforce edits"] += 1
    if updates:
        sides.collection(
            "PATCH",
            [
                {"attributes": {"type": "CampaignMember"}, "Id": sides.members[e], "Status": s}
                for e, s in updates
            ],
        )
    if deletes:
        sides.delete([sides.members.pop(e) for e in deletes])
    if inserts:
        results = sides.collection(
            "POST",
            [
                {
                    "attributes": {"type": "CampaignMember"},
                    "CampaignId": sides.campaign_id,
                    "LeadId": sides.leads[e],
                    "Status": s,
                }
                for e, s in inserts
            ],
        )
        for (email, _), result in zip(inserts, results, strict=True):
            assert result["success"], result
            sides.members[email] = result["id"]


# ------------------------------------------------------------------ checking


@dataclass
class Verdict:
    mismatched: list[str]
    lost: list[str]
    duplicates: list[str]
    skipped: set[str]
    parked: set[str]
    open_runs: int

    @property
    def converged(self) -> bool:
        return not (self.mismatched or self.lost or self.duplicates) and self.open_runs == 0


def check(sides: Sides, expected: Expected) -> Verdict:
    conversion = sides.conversion()
    listed = sides.salesforce()
    salesforce = dict(listed)
    copies = Counter(email for email, _ in listed)
    mismatched, lost = [], []
    for email, want in expected.value.items():
        here, there = conversion.get(email), salesforce.get(email)
        if email in expected.skipped:
            ok = here is None and there == want
        elif email in expected.parked:
            ok = here == want and there is None
        else:
            ok = here == want and there == want
            if want is not None and here is None and there is None:
                lost.append(email)
        if not ok:
            mismatched.append(email)
    strangers = (set(conversion) | set(salesforce)) - set(expected.value)
    with sides.sessions() as session:
        skipped = set(session.scalars(select(SkippedMemberRow.email)))
        parked = set(
            session.scalars(
                select(PersonRow.email)
                .join(SyncErrorRow, SyncErrorRow.person_id == PersonRow.id)
                .where(SyncErrorRow.resolved_at.is_(None), SyncErrorRow.direction == "outbound")
            )
        )
    open_runs = open_run_count(sides.sessions)
    if skipped != expected.skipped or parked != expected.parked:
        mismatched.append("recorded skips or dead letters")
    return Verdict(
        mismatched + sorted(strangers),
        lost,
        sorted(e for e, n in copies.items() if n > 1),
        skipped,
        parked,
        open_runs,
    )


def open_run_count(sessions: sessionmaker[Session]) -> int:
    def count() -> int:
        with sessions() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(RunRow)
                    .where(RunRow.state.in_(("queued", "running")))
                )
                or 0
            )

    return int(retrying(count))


def explain(sides: Sides, expected: Expected, email: str) -> str:
    """Both sides' history of one member, for the failure report."""
    if "@" not in email:
        return email
    with sides.sessions() as session:
        here = session.execute(
            select(MemberRow.status, MemberRow.updated_at, MemberRow.removed_at)
            .join(PersonRow, PersonRow.id == MemberRow.person_id)
            .where(PersonRow.email == email)
        ).all()
        base = session.execute(
            select(
                MemberSyncStateRow.synced,
                MemberSyncStateRow.status,
                MemberSyncStateRow.salesforce_member_id,
                MemberSyncStateRow.synced_at,
            )
            .join(PersonRow, PersonRow.id == MemberSyncStateRow.person_id)
            .where(PersonRow.email == email)
        ).all()
    query = format_soql(
        "SELECT Id, Status, IsDeleted, LastModifiedDate, SystemModstamp FROM CampaignMember "
        "WHERE CampaignId = {} AND Lead.Email = {} ORDER BY SystemModstamp",
        sides.campaign_id,
        email,
    )
    rows = sides.salesforce_call(lambda sf: sf.query_all(query, include_deleted=True)["records"])
    there = [
        (r["Id"], r["Status"], r["IsDeleted"], r["LastModifiedDate"], r["SystemModstamp"])
        for r in rows
    ]
    return (
        f"{email}: expected {expected.value.get(email)!r} (owner {expected.owner.get(email)}, "
        f"edits {expected.history.get(email)}); "
        f"Conversion {here}; base {base}; Salesforce {there}"
    )


def stuck_leases(sessions: sessionmaker[Session]) -> list[str]:
    """Runs or chunks still holding a lease in the future once every run has ended."""
    now = datetime.now(UTC)
    with sessions() as session:
        runs = session.scalars(select(RunRow.id).where(RunRow.lease_until > now)).all()
        chunks = session.scalars(
            select(ChunkRow.id).where(ChunkRow.state == "pending", ChunkRow.lease_until > now)
        ).all()
    return [f"run {r}" for r in runs] + [f"chunk {c}" for c in chunks]


def claimed_chunks(sessions: sessionmaker[Session]) -> set[int]:
    with sessions() as session:
        return set(
            session.scalars(
                select(ChunkRow.id)
                .join(RunRow, RunRow.id == ChunkRow.run_id)
                .where(
                    ChunkRow.state == "pending",
                    ChunkRow.claimed_by.is_not(None),
                    RunRow.state.in_(("queued", "running")),
                )
            )
        )


def unfinished(sessions: sessionmaker[Session], chunk_ids: set[int]) -> set[int]:
    """Which of these chunks are still pending in a run that is still open."""
    if not chunk_ids:
        return set()
    with sessions() as session:
        return set(
            session.scalars(
                select(ChunkRow.id)
                .join(RunRow, RunRow.id == ChunkRow.run_id)
                .where(
                    ChunkRow.id.in_(sorted(chunk_ids)),
                    ChunkRow.state == "pending",
                    RunRow.state.in_(("queued", "running")),
                )
            )
        )


# ------------------------------------------------------------------ processes


class Fleet:
    """The workers and beat, on our own Redis and PostgreSQL."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.workers: list[WorkerProcess] = []
        self.started = 0
        self.beat: subprocess.Popen[bytes] | None = None

    def add_worker(self) -> WorkerProcess:
        self.started += 1
        worker = WorkerProcess(self.env, self.logs, name=f"chaos{self.started}", concurrency=2)
        self.workers.append(worker)
        worker.wait_ready(timeout=120)
        return worker

    def start_beat(self) -> None:
        log = (self.logs / "beat.log").open("ab")
        self.beat = subprocess.Popen(
            [sys.executable, "-m", "convsync.cli", "beat", f"--schedule={self.logs / 'beat'}"],
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop_beat(self) -> None:
        if self.beat is not None and self.beat.poll() is None:
            os.killpg(self.beat.pid, signal.SIGTERM)
            self.beat.wait(timeout=30)

    def stop(self) -> None:
        self.stop_beat()
        for worker in self.workers:
            worker.stop()


@contextlib.contextmanager
def fleet_of(env: dict[str, str], logs: Path) -> Iterator[Fleet]:
    fleet = Fleet(env, logs)
    try:
        yield fleet
    finally:
        fleet.stop()


def convsync(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "convsync.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


# ------------------------------------------------------------------ the scenario


@dataclass
class Chaos:
    """The disruptions, at random moments of the window, and what they did."""

    fleet: Fleet
    redis_server: RedisServer
    postgres: PostgresServer
    sessions: sessionmaker[Session]
    rng: random.Random
    counts: Counter[str] = field(default_factory=lambda: Counter({"kills mid-task": 0}))
    recoveries: list[float] = field(default_factory=list)
    _pending: list[tuple[float, set[int]]] = field(default_factory=list)
    _probe: Celery | None = None

    def plan(self) -> list[tuple[float, str]]:
        kinds = ["child"] * SCALE.child_kills + ["whole"] * SCALE.whole_kills
        kinds += ["redis", "postgres"]
        moments = sorted(self.rng.uniform(0.1, 0.85) * SCALE.window for _ in kinds)
        self.rng.shuffle(kinds)
        return list(zip(moments, kinds, strict=True))

    def _busy(self) -> tuple[WorkerProcess, int] | None:
        """A worker running a sync task right now, and the pool process running it
        (asked as Flower would, over the broker: `inspect active`)."""
        if self._probe is None:
            self._probe = Celery("chaos-probe", broker=self.redis_server.url)
        try:
            active = self._probe.control.inspect(timeout=0.5).active() or {}
        except Exception:  # noqa: BLE001 - Redis is restarting: nobody is busy then
            return None
        for hostname, tasks in active.items():
            for task in tasks:
                if not str(task.get("name", "")).startswith("convsync.sync."):
                    continue
                for worker in self.fleet.workers:
                    if hostname.startswith(f"{worker.name}@") and worker.process.poll() is None:
                        return worker, int(task["worker_pid"])
        return None

    def _victim(self) -> tuple[WorkerProcess, int | None]:
        """Preferably a worker in the middle of a sync task (waiting up to a cadence and a
        half for one); otherwise any live worker."""
        deadline = time.monotonic() + 1.5 * SCALE.cadence
        while time.monotonic() < deadline:
            found = self._busy()
            if found is not None:
                self.counts["kills mid-task"] += 1
                return found
            time.sleep(0.05)
        alive = [w for w in self.fleet.workers if w.process.poll() is None]
        if not alive:
            # Every worker has exited (a supervisor would start one again): start one,
            # count it among the figures, and strike that one.
            self.counts["workers started after all had exited"] += 1
            alive = [self.fleet.add_worker()]
        return self.rng.choice(alive), None

    def _kill_a_child(self) -> None:
        """SIGKILL the pool process running a sync task; if it ended between the question
        and the kill (its task finished, the pool replaced it), look again."""
        for _ in range(3):
            victim, pid = self._victim()
            if pid is None:
                victim.kill_child()
                return
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                self.counts["kills mid-task"] -= 1
            else:
                return
        victim.kill_child()

    def strike(self, kind: str) -> None:
        if kind == "child":
            self._kill_a_child()
            self.counts["pool children SIGKILLed"] += 1
        elif kind == "whole":
            victim, _ = self._victim()
            held = retrying(lambda: claimed_chunks(self.sessions))
            victim.kill_all()
            self._pending.append((time.monotonic(), held))
            self.counts["whole workers SIGKILLed"] += 1
            self.fleet.add_worker()
        elif kind == "redis":
            self.redis_server.restart()
            self.counts["Redis restarts"] += 1
        else:
            self.postgres.restart()
            self.counts["PostgreSQL restarts"] += 1

    def track_recoveries(self) -> None:
        """A whole-worker kill is recovered when every chunk claimed at the time is done
        (or its run ended): someone took over what the dead worker held."""
        still: list[tuple[float, set[int]]] = []
        for killed_at, held in self._pending:
            if retrying(lambda h=held: unfinished(self.sessions, h)):
                still.append((killed_at, held))
            else:
                self.recoveries.append(time.monotonic() - killed_at)
        self._pending = still

    @property
    def unrecovered(self) -> int:
        return len(self._pending)


def test_the_sync_converges_after_kills_restarts_and_faults(
    emulator: EmulatorHandle,
    salesforce_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed = int(os.environ.get("CONVSYNC_CHAOS_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    faults = Counter[str]()
    controls = emulator.app.controls
    inject = controls.next_fault

    def counted(endpoint: str) -> str | None:
        kind = inject(endpoint)
        if kind is not None:
            faults[kind] += 1
        return kind

    monkeypatch.setattr(controls, "next_fault", counted)
    emulator.admin.reset()
    try:
        with own_redis_and_postgres(tmp_path) as (redis_server, postgres):
            _scenario(emulator, salesforce_env, tmp_path, redis_server, postgres, rng, faults, seed)
    finally:
        emulator.admin.reset()


def _scenario(
    emulator: EmulatorHandle,
    salesforce_env: dict[str, str],
    tmp_path: Path,
    redis_server: RedisServer,
    postgres: PostgresServer,
    rng: random.Random,
    faults: Counter[str],
    seed: int,
) -> None:
    env = {
        **salesforce_env,
        "CONVSYNC_DATABASE_URL": postgres.url,
        "CONVSYNC_BROKER_URL": redis_server.url,
        "CONVSYNC_RESULT_BACKEND": redis_server.url,
        "CONVSYNC_SYNC_INTERVAL_SECONDS": str(SCALE.cadence),
        "CONVSYNC_LEASE_SECONDS": str(SCALE.lease),
        "CONVSYNC_API_LIMIT_RETRY_SECONDS": "2",
        "CONVSYNC_LOG_FORMAT": "json",
    }
    engine = make_engine(postgres.url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    expected, in_salesforce, in_conversion = build_population(rng)

    # Conversion first, then Salesforce: the members on both sides agree.
    catalog.create_type(sessions, "Webinar", [*COMMON, PARKED_STATUS])
    catalog.create_campaign(sessions, CAMPAIGN, "Webinar")
    rows = "".join(f"{email},{status}\n" for email, status in in_conversion)
    member_import.import_members(sessions, CAMPAIGN, io.StringIO("email,status\n" + rows))
    statuses = [(s, s == "Invited", s == "Attended") for s in (*COMMON, SKIPPED_STATUS)]
    seeded = emulator.admin.seed(
        leads=[
            {"LastName": e.split("@")[0], "Company": "Acme", "Email": e} for e, _ in in_salesforce
        ],
        campaigns=[
            {
                "Name": "Chaos SF",
                "statuses": [
                    {"Label": label, "IsDefault": default, "HasResponded": responded}
                    for label, default, responded in statuses
                ],
                "members": [{"lead": i, "Status": s} for i, (_, s) in enumerate(in_salesforce)],
            }
        ],
    )
    campaign = seeded["campaigns"][0]
    emails = [e for e, _ in in_salesforce]
    sides = Sides(
        sessions,
        emulator,
        campaign["id"],
        leads=dict(zip(emails, seeded["leads"], strict=True)),
        members=dict(zip(emails, campaign["members"], strict=True)),
    )

    counts = Counter[str]()
    with fleet_of(env, tmp_path) as fleet:
        fleet.add_worker()
        fleet.add_worker()
        fleet.start_beat()
        chaos = Chaos(fleet, redis_server, postgres, sessions, rng)
        convsync(env, "link", CAMPAIGN, "--salesforce-campaign", campaign["id"], "--force")
        # 5 % of calls, plus one of each kind up front so that a small run sees them all;
        # 50 ms a call, so that runs last long enough for the kills to catch them working.
        emulator.admin.inject_faults(rate=0.05, kinds=FAULTS)
        for kind in FAULTS:
            emulator.admin.inject_faults(next=1, kind=kind)
        emulator.admin.set_latency(50)
        started = time.monotonic()
        plan = chaos.plan()
        next_edit = started
        rounds: list[float] = []
        while (elapsed := time.monotonic() - started) < SCALE.window:
            while plan and plan[0][0] <= elapsed:
                chaos.strike(plan.pop(0)[1])
            if time.monotonic() >= next_edit:
                began = time.monotonic()
                edit_round(sides, expected, rng, counts)
                rounds.append(time.monotonic() - began)
                next_edit += SCALE.edit_every
            chaos.track_recoveries()
            time.sleep(0.2)
        for _, kind in plan:  # a slow machine may leave the last ones for the end
            chaos.strike(kind)

        calm = time.monotonic()
        deadline = calm + 3 * SCALE.cadence
        verdict = check(sides, expected)
        while not verdict.converged and time.monotonic() < deadline + 120:
            chaos.track_recoveries()
            time.sleep(1)
            verdict = check(sides, expected)
        converge_seconds = time.monotonic() - calm
        fleet.stop_beat()
        # A tick just before beat stopped may have started one more run: let it end,
        # then look once more (it must have moved nothing).
        quiet = time.monotonic() + 60
        while open_run_count(sessions) and time.monotonic() < quiet:
            time.sleep(1)
        verdict = check(sides, expected) if verdict.converged else verdict
        chaos.track_recoveries()
        with sessions() as session:
            runs = Counter(session.scalars(select(RunRow.state)))
            link = session.scalar(select(LinkRow.id))

    figures = {
        "seed": seed,
        "members": len(expected.value),
        "present at the end": sum(v is not None for v in expected.value.values()),
        **counts,
        "edit rounds": len(rounds),
        "slowest edit round (s)": round(max(rounds, default=0.0), 1),
        **chaos.counts,
        "faults injected": sum(faults.values()),
        **{f"  {kind}": n for kind, n in sorted(faults.items())},
        "API calls": emulator.admin.counters()["total"],
        "runs": dict(runs),
        "time to converge (s)": round(converge_seconds, 1),
        "three cadences (s)": 3 * SCALE.cadence,
        "whole-worker kill recoveries (s)": [round(r, 1) for r in chaos.recoveries],
        "skipped (recorded)": len(verdict.skipped),
        "dead letters (open)": len(verdict.parked),
        "lost": len(verdict.lost),
        "duplicates": len(verdict.duplicates),
        "mismatched": len(verdict.mismatched),
    }
    scale = "full" if SCALE is FULL else "fast"
    lines = [f"chaos figures ({scale}, link {link}):"]
    lines += [f"  {name:34} {value}" for name, value in figures.items()]
    print("\n" + "\n".join(lines))  # noqa: T201 - `make chaos` shows its figures

    if verdict.mismatched:
        print("\n".join(explain(sides, expected, email) for email in verdict.mismatched[:10]))  # noqa: T201
    assert verdict.lost == []
    assert verdict.duplicates == []
    assert verdict.mismatched == [], verdict.mismatched[:20]
    assert verdict.open_runs == 0
    assert converge_seconds <= 3 * SCALE.cadence
    assert stuck_leases(sessions) == []
    assert chaos.unrecovered == 0
    assert all(r <= 120 for r in chaos.recoveries)
    assert chaos.counts["pool children SIGKILLed"] == SCALE.child_kills
    assert chaos.counts["whole workers SIGKILLed"] == SCALE.whole_kills
    assert sum(faults.values()) > 0
    engine.dispose()
