"""At-least-once delivery and killed workers, on real worker and beat processes: every
task may run twice, and a worker SIGKILLed mid-stage costs a lease period, never data.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from convsync.salesforce_emulator.testing import EmulatorHandle
from tests.support.beat import BeatProcess, beats, broker_app, fast_cadence, flush
from tests.support.observe import (
    Run,
    chunk_states,
    conversion_members,
    conversion_stamps,
    dead_letters,
    log_events,
    open_runs_per_link,
    runs,
    salesforce_side,
    settled,
    skipped,
    unreleased_leases,
)
from tests.support.scenario import cli, eventually
from tests.support.workers import WorkerProcess

pytestmark = pytest.mark.e2e

INTERVAL = 2
LEASE = 6
WEBINAR = [("Invited", True, False), ("Registered", False, False), ("Attended", False, True)]
STAGE_QUEUES = "convsync.inbound,convsync.outbound,convsync.control,convsync.dead_letter"
MEMBER_QUEUE = "convsync.members"

StartWorker = Callable[..., WorkerProcess]


@dataclass
class Cluster:
    """Workers and beats of one test, stopped before its Redis database is flushed."""

    start_worker: StartWorker
    start_beat: Callable[..., BeatProcess]
    workers: list[WorkerProcess]

    def worker(self, name: str, **options: Any) -> WorkerProcess:
        worker = self.start_worker(name=name, **options)
        self.workers.append(worker)
        return worker


@pytest.fixture
def cluster(
    org: EmulatorHandle,
    sessions: sessionmaker[Session],
    redis_url: str,
    start_worker: StartWorker,
    tmp_path: Path,
) -> Iterator[Cluster]:
    """A 2-second cadence and a 6-second lease; afterwards nothing of ours stays queued."""
    with fast_cadence(interval=INTERVAL, lease=LEASE, redis_url=redis_url):
        with beats(os.environ, tmp_path) as start_beat:
            cluster = Cluster(start_worker, start_beat, [])
            yield cluster
        for worker in cluster.workers:
            worker.kill_all()  # nothing of theirs is needed any more; no warm shutdown
    flush(redis_url)  # what they left queued or unacked must not reach the next test


# ---------------------------------------------------------------- scenario


def status_rows(labels: list[str]) -> list[dict[str, Any]]:
    return [
        {"Label": label, "IsDefault": i == 0, "HasResponded": label == "Attended"}
        for i, label in enumerate(labels)
    ]


def seed_salesforce(org: EmulatorHandle, members: int, extra: list[tuple[str, str]]) -> str:
    """A Salesforce campaign: `members` generated Leads at Invited, plus (email, status)."""
    seeded = org.admin.seed(
        leads=[
            {"LastName": email.split("@")[0], "Company": "Acme", "Email": email}
            for email, _ in extra
        ],
        campaigns=[
            {
                "Name": "Recovery SF",
                "statuses": status_rows(["Invited", "Registered", "Attended", "Sent"]),
                "members": [{"lead": i, "Status": status} for i, (_, status) in enumerate(extra)],
                "generate_members": members,
                "member_status": "Invited",
            }
        ],
    )
    return str(seeded["campaigns"][0]["id"])


def conversion_campaign(tmp_path: Path, members: int, extra: list[tuple[str, str]]) -> None:
    """'Recovery' with `members` imported at Registered, plus (email, status)."""
    cli(
        "types", "create", "Webinar",
        "-s", "Invited", "-s", "Registered", "-s", "Attended", "-s", "Waitlisted",
    )  # fmt: skip
    cli("campaigns", "create", "Recovery", "--type", "Webinar")
    csv = tmp_path / "members.csv"
    rows = [f"c{i}@conversion.example.com,Registered" for i in range(members)]
    rows += [f"{email},{status}" for email, status in extra]
    csv.write_text("email,status\n" + "\n".join(rows) + "\n")
    cli("members", "import", "Recovery", str(csv))


def the_run(sessions: sessionmaker[Session]) -> Run:
    """The run the link started (scheduled runs may follow it)."""
    return runs(sessions)[0]


def ended(sessions: sessionmaker[Session]) -> bool:
    return the_run(sessions).state in ("succeeded", "failed")


def planned(sessions: sessionmaker[Session], run_id: int, stage: str) -> bool:
    """The stage's chunks are all written (or the run is past the stage)."""
    with sessions() as session:
        row = session.execute(
            text("SELECT stage, stage_planned FROM sync_runs WHERE id = :id"), {"id": run_id}
        ).one()
    return bool(row.stage != stage or row.stage_planned)


def chunk_count(sessions: sessionmaker[Session], run_id: int, stage: str) -> int:
    return sum(n for (s, _), n in chunk_states(sessions, run_id).items() if s == stage)


def send_twice(name: str, **kwargs: int) -> list[str]:
    """Deliver the same task twice more, as a broker redelivery or a double publish would."""
    app = broker_app()
    try:
        return [app.send_task(name, kwargs=kwargs).id for _ in range(2)]
    finally:
        app.close()


def finished(task_ids: list[str], *workers: WorkerProcess) -> bool:
    logs = "".join(w.log() for w in workers)
    return all(f"[{task_id}] succeeded" in logs for task_id in task_ids)


def end_state(org: EmulatorHandle, sessions: sessionmaker[Session], sf_id: str) -> dict[str, Any]:
    side = salesforce_side(org, sf_id)
    return {
        "conversion": conversion_members(sessions, "Recovery"),
        "conversion writes": conversion_stamps(sessions, "Recovery"),
        "salesforce": side.members,
        "salesforce rows": sorted((r["Id"], r["Status"]) for r in side.rows),
        "duplicates in salesforce": side.duplicates,
        "dead letters": dead_letters(sessions),
        "skipped": skipped(sessions),
        "runs": [(r.id, r.state, r.counts) for r in runs(sessions)],
    }


# ---------------------------------------------------------------- idempotence


def test_every_task_delivered_twice_changes_nothing(
    org: EmulatorHandle, sessions: sessionmaker[Session], cluster: Cluster, tmp_path: Path
) -> None:
    sf_id = seed_salesforce(
        org, 4_500, [("both@example.com", "Registered"), ("s1@example.com", "Sent")]
    )
    waitlisted = [(f"w{i}@example.com", "Waitlisted") for i in range(3)]
    conversion_campaign(tmp_path, 2_100, [("both@example.com", "Attended"), *waitlisted])
    stages = cluster.worker("stages", queues=STAGE_QUEUES)
    sent: list[str] = []

    cli("link", "Recovery", "--salesforce-campaign", sf_id, "--force")  # skip 'Sent'
    run_id = the_run(sessions).id
    sent += send_twice("convsync.sync.import_inbound", run_id=run_id)
    eventually(lambda: planned(sessions, run_id, "inbound"), timeout=90)
    inbound = chunk_count(sessions, run_id, "inbound")
    for number in range(inbound):
        sent += send_twice("convsync.sync.apply_inbound_chunk", run_id=run_id, chunk=number)
    members = cluster.worker("members", queues=MEMBER_QUEUE)
    eventually(lambda: the_run(sessions).stage != "inbound" or ended(sessions), timeout=90)
    sent += send_twice("convsync.sync.push_outbound", run_id=run_id)
    eventually(lambda: planned(sessions, run_id, "outbound"), timeout=90)
    outbound = chunk_count(sessions, run_id, "outbound")
    for number in range(outbound):
        sent += send_twice("convsync.sync.push_outbound_chunk", run_id=run_id, chunk=number)
    eventually(lambda: ended(sessions), timeout=90)
    eventually(lambda: finished(sent, stages, members), timeout=90)

    state = end_state(org, sessions, sf_id)
    assert the_run(sessions).state == "succeeded", the_run(sessions).error
    assert len(state["conversion"]) == 4_500 + 2_100 + 1 + 3
    assert state["conversion"]["both@example.com"] == "Attended"
    assert sum(1 for s in state["conversion"].values() if s == "Invited") == 4_500
    assert state["duplicates in salesforce"] == {}
    in_salesforce = {e: s for e, s in state["salesforce"].items() if s != "Sent"}
    assert in_salesforce == {e: s for e, s in state["conversion"].items() if s != "Waitlisted"}
    assert state["skipped"] == [("s1@example.com", "Sent")]
    assert state["dead letters"] == [
        (email, "STATUS_NOT_ON_CAMPAIGN", 1, False) for email, _ in waitlisted
    ]

    # And once more, every task of the finished run, twice.
    again: list[str] = []
    for stage, chunks in (("inbound", inbound), ("outbound", outbound)):
        task = "import_inbound" if stage == "inbound" else "push_outbound"
        again += send_twice(f"convsync.sync.{task}", run_id=run_id)
        chunk_task = "apply_inbound_chunk" if stage == "inbound" else "push_outbound_chunk"
        for number in range(chunks):
            again += send_twice(f"convsync.sync.{chunk_task}", run_id=run_id, chunk=number)
    eventually(lambda: finished(again, stages, members), timeout=90)
    assert end_state(org, sessions, sf_id) == state


# ---------------------------------------------------------------- killed workers

# Big enough that each stage takes a few seconds: 3 inbound pages of 2,000 staged and
# applied, 3 outbound chunks of 1,000 pushed with 14 calls each at 100 ms a call.
SALESFORCE_MEMBERS = 6_000
CONVERSION_MEMBERS = 3_000
LATENCY_MS = 100
# `make recovery-heavy`: 10 inbound pages and 5 outbound chunks, every kill combination.
HEAVY = os.environ.get("CONVSYNC_HEAVY_RECOVERY") == "1"


@dataclass(frozen=True)
class KillAt:
    """Where to strike: `stage`, at `point`, killing `how`.

    point: "staging" (pages being staged, none enqueued yet) or "applying" (a chunk done,
    others pending). how: "pool-child" (the worker's main process stays and replaces
    its children) or "whole-worker" (main process and children; a new worker starts).
    """

    stage: str
    point: str
    how: str

    def __str__(self) -> str:
        return f"{self.how} {self.point} {self.stage}"


def reached(sessions: sessionmaker[Session], run_id: int, at: KillAt) -> bool:
    states = chunk_states(sessions, run_id)
    if the_run(sessions).stage != at.stage:
        return False
    if at.point == "staging":
        return bool(states) and not planned(sessions, run_id, at.stage)
    return states.get((at.stage, "done"), 0) >= 1 and states.get((at.stage, "pending"), 0) >= 1


def unacked(redis_url: str) -> set[str]:
    """Delivery tags of messages fetched by a worker and not acknowledged (kombu's Redis
    transport keeps them in the `unacked` hash until the visibility timeout)."""
    client = redis.Redis.from_url(redis_url)
    try:
        return {str(tag) for tag in client.hkeys("unacked")}
    finally:
        client.close()


def last_chunk_done(sessions: sessionmaker[Session], run_id: int, before: datetime) -> datetime:
    with sessions() as session:
        done = session.scalar(
            text("SELECT max(done_at) FROM sync_chunks WHERE run_id = :run AND done_at < :at"),
            {"run": run_id, "at": before},
        )
    return done or datetime.min.replace(tzinfo=UTC)


def reconciled(worker: WorkerProcess) -> list[dict[str, Any]]:
    return log_events(worker.log(), "reconciled stalled runs")


@dataclass
class Kill:
    """One SIGKILL in the middle of a stage, and what it took to get past it."""

    at: str
    chunks: dict[tuple[str, str], int]  # the run's chunks (stage, state) when killed
    to_reconciler: float  # seconds until the reconciler took the run over
    idle_before_reconciler: float  # seconds from the run's last progress to the takeover
    to_stage_done: float  # seconds until the stage had fully landed


def kill(
    cluster: Cluster,
    sessions: sessionmaker[Session],
    redis_url: str,
    worker: WorkerProcess,
    at: KillAt,
) -> tuple[WorkerProcess, Kill]:
    """SIGKILL as `at` says, once the run gets there; returns the worker left running."""
    run_id = the_run(sessions).id
    eventually(lambda: reached(sessions, run_id, at), timeout=120, interval=0.05)
    chunks = chunk_states(sessions, run_id)
    killed, killed_at = time.monotonic(), datetime.now(UTC)
    if at.how == "pool-child":
        seen = len(reconciled(worker))
        for child in worker.children():
            child.kill()
        survivor = worker
    else:
        worker.kill_all()
        stranded = unacked(redis_url)
        assert stranded, "the killed worker held no message"
        survivor = cluster.worker(f"{worker.name}-after", concurrency=2)
        seen = 0
    eventually(lambda: len(reconciled(survivor)) > seen, timeout=4 * LEASE + 30, interval=0.1)
    to_reconciler = time.monotonic() - killed
    took_over = datetime.fromisoformat(reconciled(survivor)[seen]["timestamp"])
    progress = max(killed_at, last_chunk_done(sessions, run_id, before=took_over))
    eventually(lambda: the_run(sessions).stage != at.stage or ended(sessions), timeout=120)
    if at.how == "whole-worker":
        # Recovered by the reconciler: the dead worker's messages are still unacked.
        assert stranded <= unacked(redis_url)
    return survivor, Kill(
        str(at),
        chunks,
        round(to_reconciler, 1),
        round((took_over - progress).total_seconds(), 1),
        round(time.monotonic() - killed, 1),
    )


def converge_after_kills(
    org: EmulatorHandle,
    sessions: sessionmaker[Session],
    cluster: Cluster,
    redis_url: str,
    tmp_path: Path,
    plan: tuple[KillAt, ...],
    sizes: tuple[int, int],
) -> list[Kill]:
    """Link a campaign of `sizes` (Salesforce, Conversion) members, kill as `plan` says,
    and check both sides converged with every run ended and every lease released."""
    salesforce_members, conversion_members_ = sizes
    sf_id = seed_salesforce(org, salesforce_members, [])
    conversion_campaign(tmp_path, conversion_members_, [])
    beat = cluster.start_beat(wait=False)
    worker = cluster.worker("w1", concurrency=2)
    beat.wait_ready()
    org.admin.set_latency(LATENCY_MS)
    cli("link", "Recovery", "--salesforce-campaign", sf_id)

    kills = []
    for at in plan:
        worker, done = kill(cluster, sessions, redis_url, worker, at)
        kills.append(done)
    eventually(lambda: ended(sessions), timeout=180)
    org.admin.set_latency(0)
    assert the_run(sessions).state == "succeeded", the_run(sessions).error
    eventually(lambda: settled(sessions, worker.log()), timeout=180, interval=0.2)

    assert open_runs_per_link(sessions) == {}
    assert {r.state for r in runs(sessions)} == {"succeeded"}
    assert set(unreleased_leases(sessions).values()) == {0}, unreleased_leases(sessions)
    side = salesforce_side(org, sf_id)
    here = conversion_members(sessions, "Recovery")
    assert side.duplicates == {}
    assert len(here) == salesforce_members + conversion_members_
    assert side.members == here
    assert dead_letters(sessions) == []
    assert skipped(sessions) == []
    # The reconciler takes a stalled run over about a lease after its last progress (a
    # tick may wait for a free pool process), long before Redis would redeliver (1 h).
    for done in kills:
        assert done.idle_before_reconciler <= LEASE + 2 * INTERVAL + 5, done
    return kills


PLANS = {
    "pool-child-applying-inbound,whole-worker-outbound": (
        KillAt("inbound", "applying", "pool-child"),
        KillAt("outbound", "applying", "whole-worker"),
    ),
    "whole-worker-staging-inbound,pool-child-outbound": (
        KillAt("inbound", "staging", "whole-worker"),
        KillAt("outbound", "applying", "pool-child"),
    ),
}
HEAVY_PLANS = {
    **PLANS,
    "pool-child-staging-inbound,whole-worker-outbound": (
        KillAt("inbound", "staging", "pool-child"),
        KillAt("outbound", "applying", "whole-worker"),
    ),
    "whole-worker-applying-inbound,pool-child-outbound": (
        KillAt("inbound", "applying", "whole-worker"),
        KillAt("outbound", "applying", "pool-child"),
    ),
}


@pytest.mark.parametrize("plan", PLANS.values(), ids=PLANS.keys())
def test_workers_killed_mid_stage_converge_through_the_reconciler(
    org: EmulatorHandle,
    sessions: sessionmaker[Session],
    cluster: Cluster,
    redis_url: str,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
    plan: tuple[KillAt, ...],
) -> None:
    sizes = (SALESFORCE_MEMBERS, CONVERSION_MEMBERS)
    for done in converge_after_kills(org, sessions, cluster, redis_url, tmp_path, plan, sizes):
        record_property(done.at, repr(done))


@pytest.mark.slow
@pytest.mark.skipif(not HEAVY, reason="make recovery-heavy (CONVSYNC_HEAVY_RECOVERY=1)")
@pytest.mark.parametrize("plan", HEAVY_PLANS.values(), ids=HEAVY_PLANS.keys())
def test_heavy_workers_killed_mid_stage_converge_through_the_reconciler(
    org: EmulatorHandle,
    sessions: sessionmaker[Session],
    cluster: Cluster,
    redis_url: str,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
    plan: tuple[KillAt, ...],
) -> None:
    sizes = (20_000, 5_000)
    for done in converge_after_kills(org, sessions, cluster, redis_url, tmp_path, plan, sizes):
        record_property(done.at, repr(done))
