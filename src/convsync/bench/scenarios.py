"""The bench's scenarios and the floor each one is compared with.

A scenario seeds both sides (untimed, through the emulator's admin endpoint and
set-based SQL), then times the sync as a user gets it: `link` (or a beat tick) until
every run it started has finished, on real worker processes. API calls come from the
emulator's counters, which count every request the sync makes, pages included.

The floor is the same data moved by the same client (simple-salesforce) against the
same emulator with no sync logic at all: the records the sync must read, paged out at
2,000 a call, and the records it must write (Leads for people Salesforce lacks, new
members, changed statuses), written at 200 a collection call. It is measured in the
same run, on the same machine, so `scenario / floor` is what the sync's own work costs.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from simple_salesforce.api import Salesforce
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from convsync.bench.errors import BenchError
from convsync.bench.services import RssSampler, Services, cpu_seconds
from convsync.domain.decisions import Decision, DecisionKind
from convsync.domain.model import MemberValue, Stage
from convsync.domain.outcomes import RecordResult, WriteOutcome
from convsync.salesforce.gateway import COLLECTION_SIZE
from convsync.salesforce.records import MemberChange, NewLead, NewMember
from convsync.salesforce.soql import chunked_in, parse_datetime, soql
from convsync.salesforce.streams import CAMPAIGN_MEMBER, CHANGES_ORDER, PAGE_SIZE
from convsync.salesforce_emulator.testing import DEFAULT_LOGIN, AdminClient, CaBundleSession
from convsync.store import catalog, decisions
from convsync.store.catalog import PersonInput
from convsync.store.db import transaction
from convsync.store.tables import CampaignRow, ChunkRow, DecisionRow, MemberRow, RunRow, utcnow
from convsync.sync import linking, schedule
from convsync.sync.context import INBOUND_CHUNK, SyncContext
from convsync.sync.linking import unlink
from convsync.workers import root

TYPE_NAME = "Bench"
# (label, default, responded): the same statuses on both sides, so nothing is skipped.
STATUSES = (("Sent", True, False), ("Opened", False, False), ("Responded", False, True))
SEEDED, CONFLICT, CHANGED = "Sent", "Opened", "Responded"
# Share of a campaign's members the incremental scenario changes, on each side.
CHANGE_SHARE = 0.01
_SERIAL = itertools.count(1)
# A scenario's runs must all finish within this (the headline's take well under it).
WAIT_SECONDS = 900.0


@dataclass(frozen=True)
class Mix:
    """How a campaign's members are spread over the two sides at the first sync.

    Half of the non-overlapping members only in Salesforce, half only in Conversion;
    the overlap holds conflicts both ways: Salesforce newer for one half, Conversion
    newer for the other.
    """

    salesforce_only: int
    conversion_only: int
    salesforce_wins: int
    conversion_wins: int

    @classmethod
    def of(cls, members: int, overlap: float) -> Mix:
        both = round(members * overlap)
        rest = members - both
        return cls(rest // 2, rest - rest // 2, both // 2, both - both // 2)

    @property
    def members(self) -> int:
        return (
            self.salesforce_only
            + self.conversion_only
            + self.salesforce_wins
            + self.conversion_wins
        )

    @property
    def on_salesforce(self) -> int:
        return self.salesforce_only + self.salesforce_wins + self.conversion_wins

    def initial_work(self, salesforce_campaigns: Sequence[str], campaigns: int = 1) -> Work:
        """What the first sync of `campaigns` such campaigns must move, at the least:
        read every member, look up and create the Conversion-only people, add them,
        and write Conversion's newer statuses."""
        return Work(
            reads=member_reads(salesforce_campaigns),
            unknown_people=self.conversion_only * campaigns,
            inserts=self.conversion_only * campaigns,
            updates=self.conversion_wins * campaigns,
        )

    def final_statuses(self) -> dict[str, int]:
        """Both sides after the first sync: Conversion's newer values won their conflicts."""
        counts = {SEEDED: self.members - self.conversion_wins, CONFLICT: self.conversion_wins}
        return {k: v for k, v in counts.items() if v}


@dataclass
class Campaign:
    """One seeded pair: names, ids and which emails sit where."""

    name: str
    conversion_id: int
    salesforce_id: str
    salesforce_only: list[str]
    overlap: list[str]
    conversion_only: list[str]
    link_id: int | None = None


@dataclass(frozen=True)
class Work:
    """The Salesforce work a scenario's sync must do at the least: what the floor does.

    The floor moves it with the gateway's own calls (its SOQL, page and collection
    sizes, lookups and write path), minus everything that is the sync's own: no
    database, no tasks, no bookkeeping, no re-reads.
    """

    reads: tuple[str, ...] = ()  # SOQL on queryAll (removals count)
    unknown_people: int = 0  # emails Salesforce does not know: looked up, then Leads
    inserts: int = 0
    updates: int = 0
    change_checks: tuple[str, ...] = ()  # campaigns asked "anything new?" in one pass

    @property
    def writes(self) -> int:
        return self.unknown_people + self.inserts + self.updates


@dataclass
class Measured:
    seconds: float
    api_calls: int
    by_endpoint: dict[str, int] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)
    # The floor's write path: "bulk" (Bulk API 2.0 jobs) or "collections" (200 a call).
    kind: str = "collections"

    @property
    def write_path(self) -> str:
        return "bulk" if self.by_endpoint.get("bulk2") else "collections"


@dataclass
class Bench:
    """What every scenario uses: the services, a sync context in this process, a client."""

    services: Services
    ctx: SyncContext
    sampler: RssSampler
    progress: Callable[[str], None]
    # The campaign of the `initial` scenario, which `incremental` goes on with.
    last_initial: Campaign | None = None
    _sf: Salesforce | None = None

    @property
    def admin(self) -> AdminClient:
        return self.services.emulator.admin

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.ctx.sessions

    @property
    def sf(self) -> Salesforce:
        """simple-salesforce logged in to the emulator: seeding changes and the floor."""
        if self._sf is None:
            emulator = self.services.emulator
            session = CaBundleSession(emulator.ca_file)
            response = session.post(
                f"{emulator.url}/services/oauth2/token", data=DEFAULT_LOGIN, timeout=30
            )
            response.raise_for_status()
            token = response.json()
            self._sf = Salesforce(
                instance_url=token["instance_url"],
                session_id=token["access_token"],
                session=session,
                version="59.0",
            )
        return self._sf

    @staticmethod
    def serial() -> int:
        """A number unique in this run, for names on both sides."""
        return next(_SERIAL)

    # ------------------------------------------------------------ counting

    def counted(self, action: Callable[[], Any]) -> tuple[Any, Measured]:
        """Run `action` with fresh emulator counters; its wall time and API calls."""
        self.admin.reset_counters()
        started = time.perf_counter()
        value = action()
        seconds = time.perf_counter() - started
        counters = self.admin.counters()
        return value, Measured(seconds, int(counters["total"]), dict(counters["by_endpoint"]))


# ---------------------------------------------------------------- seeding


def ensure_type(bench: Bench) -> None:
    labels = [label for label, _, _ in STATUSES]
    with transaction(bench.sessions) as session:
        if catalog.type_exists(session, TYPE_NAME):
            return
    from convsync.sync.catalog import create_type

    create_type(bench.sessions, TYPE_NAME, labels, default=SEEDED, responded=[CHANGED])


def _salesforce_emails(sf: Salesforce, campaign_ids: Sequence[str]) -> dict[str, list[str]]:
    """Each campaign's member emails in creation order (seed generates them)."""
    emails: dict[str, list[str]] = defaultdict(list)
    for chunk in chunked_in(campaign_ids):
        query = soql(
            "SELECT Id, CampaignId, Lead.Email FROM CampaignMember WHERE CampaignId IN {ids} "
            "ORDER BY Id",
            ids=chunk,
        )
        for row in sf.query_all_iter(query):
            emails[row["CampaignId"]].append(str(row["Lead"]["Email"]).lower())
    return emails


def _seeded_campaign(name: str, members: int, email_domain: str) -> dict[str, Any]:
    """The emulator's seed for one Salesforce campaign with the bench's statuses and
    `members` generated Leads, all with the seeded status."""
    return {
        "Name": name,
        "statuses": [
            {"Label": label, "IsDefault": default, "HasResponded": responded}
            for label, default, responded in STATUSES
        ],
        "generate_members": members,
        "member_status": SEEDED,
        "email_domain": email_domain,
    }


def seed_campaigns(bench: Bench, prefix: str, count: int, mix: Mix) -> list[Campaign]:
    """`count` campaigns on both sides, each holding `mix`, not yet linked."""
    tag = f"{prefix}{bench.serial()}"
    seeded = bench.admin.seed(
        campaigns=[
            _seeded_campaign(f"{tag} {i}", mix.on_salesforce, f"{tag}.sf.example.com")
            for i in range(count)
        ]
    )
    ids = [c["id"] for c in seeded["campaigns"]]
    emails = _salesforce_emails(bench.sf, ids) if mix.on_salesforce else {}
    campaigns = []
    for i, sf_id in enumerate(ids):
        theirs = emails.get(sf_id, [])
        if len(theirs) != mix.on_salesforce:
            raise BenchError(f"seeding: expected {mix.on_salesforce} members, read {len(theirs)}")
        campaigns.append(
            Campaign(
                name=f"{tag} {i}",
                conversion_id=0,
                salesforce_id=sf_id,
                salesforce_only=theirs[: mix.salesforce_only],
                overlap=theirs[mix.salesforce_only :],
                conversion_only=[
                    f"c{j}.{i}@{tag}.conversion.example.com" for j in range(mix.conversion_only)
                ],
            )
        )
    _seed_conversion(bench, campaigns, mix)
    return campaigns


def _seed_conversion(bench: Bench, campaigns: list[Campaign], mix: Mix) -> None:
    """People and members in one transaction; members through COPY (100,000 in ~1 s).

    Timestamps make the conflicts go both ways: Salesforce's rows are stamped at seed
    time, so Conversion values from a day ago lose and values from now win.
    """
    now = utcnow()
    older, oldest = now - timedelta(days=1), now - timedelta(days=2)
    with transaction(bench.sessions) as session:
        found = catalog.find_type(session, TYPE_NAME)
        assert found is not None
        type_id = found[0]
        people = [
            PersonInput(email) for c in campaigns for email in (*c.overlap, *c.conversion_only)
        ]
        ids = catalog.upsert_people(session, people)
        rows: list[tuple[int, int, int, str, datetime]] = []
        for campaign in campaigns:
            campaign.conversion_id = catalog.add_campaign(session, campaign.name, type_id)
            winners = campaign.overlap[: mix.salesforce_wins]
            losers = campaign.overlap[mix.salesforce_wins :]
            for emails, status, at in (
                (campaign.conversion_only, SEEDED, oldest),
                (winners, CONFLICT, older),
                (losers, CONFLICT, now),
            ):
                rows.extend(
                    (campaign.conversion_id, type_id, ids[email], status, at) for email in emails
                )
        _copy_members(session, rows)


def _copy_members(session: Session, rows: list[tuple[int, int, int, str, datetime]]) -> None:
    connection = session.connection().connection.driver_connection
    assert connection is not None
    with (
        connection.cursor() as cursor,
        cursor.copy(
            "COPY campaign_members (campaign_id, type_id, person_id, status, updated_at) FROM STDIN"
        ) as copy,
    ):
        for row in rows:
            copy.write_row(row)


# ---------------------------------------------------------------- running the sync


def link_all(bench: Bench, campaigns: Sequence[Campaign]) -> list[int]:
    """`convsync link` for each campaign (pre-flight check included); the initial runs."""
    run_ids = []
    for campaign in campaigns:
        result = linking.link_existing(bench.ctx, campaign.name, campaign.salesforce_id)
        run_ids.append(result.run_id)
    with transaction(bench.sessions) as session:
        for campaign, run_id in zip(campaigns, run_ids, strict=True):
            run = session.get(RunRow, run_id)
            assert run is not None
            campaign.link_id = run.link_id
    return run_ids


def wait_for_runs(bench: Bench, run_ids: Sequence[int], what: str) -> tuple[datetime, Counter[str]]:
    """Until every run finished: the last finish time and the runs' summed counts.

    Polls one aggregate row every 100 ms (the bench shares the CPUs with the workers).
    A failed run fails the bench: a benchmark of a broken sync measures nothing.
    """
    deadline = time.monotonic() + WAIT_SECONDS
    wanted = list(run_ids)
    is_open = RunRow.state.in_(("queued", "running"))
    while True:
        with transaction(bench.sessions) as session:
            still_open, failed, finished = session.execute(
                select(
                    func.count().filter(is_open),
                    func.min(RunRow.id).filter(RunRow.state == "failed"),
                    func.max(RunRow.finished_at),
                ).where(RunRow.id.in_(wanted))
            ).one()
        if failed is not None:
            with transaction(bench.sessions) as session:
                run = session.get(RunRow, failed)
                error = run.error if run is not None else None
            raise BenchError(f"{what}: run {failed} failed: {error}")
        if not still_open:
            break
        if time.monotonic() > deadline:
            raise BenchError(
                f"{what}: {still_open} run(s) still open after {WAIT_SECONDS:.0f} s "
                f"(worker logs: {bench.services.log_dir})"
            )
        time.sleep(0.1)
    counts: Counter[str] = Counter()
    with transaction(bench.sessions) as session:
        for run_counts in session.scalars(select(RunRow.counts).where(RunRow.id.in_(wanted))):
            counts.update(run_counts or {})
    return finished, counts


def _last_run_id(bench: Bench) -> int:
    with transaction(bench.sessions) as session:
        return int(session.scalar(select(func.coalesce(func.max(RunRow.id), 0))) or 0)


def _runs_after(bench: Bench, run_id: int) -> list[int]:
    with transaction(bench.sessions) as session:
        return list(session.scalars(select(RunRow.id).where(RunRow.id > run_id)))


def cadence(bench: Bench, what: str) -> tuple[schedule.TickReport, list[int], Counter[str]]:
    """One beat tick (`dispatch_due_syncs`) and every run it started, to the end."""
    before = _last_run_id(bench)
    report = schedule.dispatch_due_syncs(bench.ctx)
    started = _runs_after(bench, before)
    counts: Counter[str] = Counter()
    if started:
        _, counts = wait_for_runs(bench, started, what)
    return report, started, counts


def timed_sync(
    bench: Bench, action: Callable[[], list[int]], what: str
) -> tuple[Measured, Counter[str]]:
    """Counters and RSS from zero; `action` starts runs; timed until the last one finished."""
    bench.sampler.reset()
    bench.admin.reset_counters()
    cpu_before = cpu_seconds(bench.sampler.root, bench.services.emulator.pid)
    wall_start = utcnow()
    started = time.perf_counter()
    run_ids = action()
    counts: Counter[str] = Counter()
    if run_ids:
        finished, counts = wait_for_runs(bench, run_ids, what)
        seconds = max((finished - wall_start).total_seconds(), 0.0)
    else:
        seconds = time.perf_counter() - started
    counters = bench.admin.counters()
    cpu_after = cpu_seconds(bench.sampler.root, bench.services.emulator.pid)
    cpu = {k: round(cpu_after[k] - cpu_before[k], 2) for k in cpu_after}
    measured = Measured(seconds, int(counters["total"]), dict(counters["by_endpoint"]))
    measured.detail = {"cpu_seconds": cpu}
    return measured, counts


# ---------------------------------------------------------------- the floor


def member_reads(campaign_ids: Sequence[str], since: datetime | None = None) -> tuple[str, ...]:
    """The gateway's member read (its stream, fields and order), for many campaigns at
    once: the least reading a sync of these campaigns needs (an `IN` list per ~300)."""
    where = " WHERE CampaignId IN {ids}" + (" AND SystemModstamp > {since}" if since else "")
    return tuple(
        soql(
            CAMPAIGN_MEMBER.select() + where + CHANGES_ORDER,
            ids=chunk,
            since=since,
        )
        for chunk in chunked_in(campaign_ids)
    )


def _collections(
    sf: Salesforce, method: str, records: list[dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    """Untimed set-up writes, 200 a call (the bench's own, not the floor's)."""
    for start in range(0, len(records), COLLECTION_SIZE):
        results = sf.restful(
            "composite/sobjects",
            method=method,
            json={"allOrNone": False, "records": records[start : start + COLLECTION_SIZE]},
        )
        for result in results or []:
            if not result.get("success"):
                raise BenchError(f"set-up: Salesforce refused a record: {result.get('errors')}")
            yield result


def _landed(results: Sequence[RecordResult], what: str) -> list[str]:
    refused = [r for r in results if r.outcome is not WriteOutcome.OK]
    if refused:
        raise BenchError(f"floor: Salesforce refused {len(refused)} {what}: {refused[0].message}")
    return [str(r.salesforce_id) for r in results]


def measure_floor(bench: Bench, work: Work, *, bulk: bool) -> Measured:
    """Move `work` with the gateway's own calls and nothing else, on the write path the
    sync took (`bulk`: Bulk API 2.0 jobs; else collections of 200)."""
    gateway = root.adapters().salesforce
    serial = bench.serial()
    scratch = bench.admin.seed(
        campaigns=[_seeded_campaign(f"floor {serial}", work.updates, f"floor{serial}.example.com")]
    )["campaigns"][0]
    targets = list(scratch["members"])
    known = max(work.inserts - work.unknown_people, 0)
    people = (
        bench.admin.seed(
            leads=[
                {"LastName": f"Known {i}", "Company": "Bench", "Email": f"k{i}.{serial}@x.example"}
                for i in range(known)
            ]
        )["leads"]
        if known
        else []
    )
    unknown = [f"f{i}.{serial}@floor.example.com" for i in range(work.unknown_people)]
    headers = {"Sforce-Query-Options": f"batchSize={PAGE_SIZE}"}

    def move() -> dict[str, int]:
        read = 0
        for query in work.reads:
            read += sum(1 for _ in bench.sf.query_all_iter(query, True, headers=headers))
        if work.change_checks:
            gateway.changed_campaigns(work.change_checks, None, include_status_changes=False)
        found = gateway.find_people_by_email(unknown) if unknown else {}
        if found:
            raise BenchError(f"floor: {len(found)} new people already in Salesforce")
        leads = gateway.create_leads([NewLead(email) for email in unknown], use_bulk=bulk)
        lead_ids = _landed(leads, "Leads") + people
        inserts = [
            NewMember(scratch["id"], SEEDED, lead_id=lead_id)
            for lead_id in lead_ids[: work.inserts]
        ]
        inserted = _landed(gateway.insert_members(inserts, use_bulk=bulk), "members")
        updates = [MemberChange(member_id, CHANGED) for member_id in targets[: work.updates]]
        updated = _landed(gateway.update_members(updates, use_bulk=bulk), "updates")
        return {
            "read": read,
            "looked_up": len(unknown),
            "leads": len(leads),
            "inserted": len(inserted),
            "updated": len(updated),
        }

    moved, measured = bench.counted(move)
    measured.detail = moved
    measured.kind = "bulk" if bulk and work.writes else "collections"
    return measured


# ---------------------------------------------------------------- checking the outcome


def _conversion_statuses(bench: Bench, campaign_ids: Sequence[int]) -> dict[str, int]:
    with transaction(bench.sessions) as session:
        rows = session.execute(
            select(MemberRow.status, func.count())
            .where(MemberRow.campaign_id.in_(campaign_ids), MemberRow.status.is_not(None))
            .group_by(MemberRow.status)
        ).all()
    return {str(status): int(n) for status, n in rows}


def _salesforce_statuses(bench: Bench, campaign_ids: Sequence[str]) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for chunk in chunked_in(campaign_ids):
        query = soql(
            "SELECT CampaignId, Status, COUNT(Id) n FROM CampaignMember "
            "WHERE CampaignId IN {ids} GROUP BY CampaignId, Status",
            ids=chunk,
        )
        for row in bench.sf.query_all_iter(query):
            totals[str(row["Status"])] += int(row.get("n") or row.get("expr0") or 0)
    return dict(totals)


def verify(
    bench: Bench, campaigns: Sequence[Campaign], expected: dict[str, int], what: str
) -> None:
    """Both sides hold exactly the expected statuses (after the counters were read)."""
    here = _conversion_statuses(bench, [c.conversion_id for c in campaigns])
    there = _salesforce_statuses(bench, [c.salesforce_id for c in campaigns])
    if here != expected or there != expected:
        raise BenchError(
            f"{what}: the sync did not converge: expected {expected}, "
            f"Conversion has {here}, Salesforce has {there}"
        )


# ---------------------------------------------------------------- results


def _ratio(value: float, floor: float) -> float | None:
    return round(value / floor, 2) if floor > 0 else None


def result(
    members: int,
    campaigns: int,
    run: Measured,
    floor: Measured,
    sampler: RssSampler,
    **extra: Any,
) -> dict[str, Any]:
    largest, tree = sampler.peak()
    # Ratios of the figures as printed, so a reader can check them.
    seconds, floor_seconds = round(run.seconds, 3), round(floor.seconds, 3)
    time_ratio, api_ratio = _ratio(seconds, floor_seconds), _ratio(run.api_calls, floor.api_calls)
    # The floor is the least work that moves the same records: a sync beating it means
    # the floor does something the sync does not need (or misses what it does).
    below = [n for n, r in (("time", time_ratio), ("api", api_ratio)) if r is not None and r < 1]
    return {
        "members": members,
        "campaigns": campaigns,
        "seconds": seconds,
        "members_per_second": round(members / run.seconds) if run.seconds > 0 else None,
        "api_calls": run.api_calls,
        "floor_seconds": floor_seconds,
        "floor_api_calls": floor.api_calls,
        "floor_kind": floor.kind,
        "time_ratio": time_ratio,
        "api_ratio": api_ratio,
        "floor_suspect": [f"{n} ratio below 1: the floor is wrong" for n in below],
        "peak_worker_rss_mb": largest,
        "peak_worker_tree_rss_mb": tree,
        "api_calls_by_endpoint": dict(sorted(run.by_endpoint.items())),
        "floor_api_calls_by_endpoint": dict(sorted(floor.by_endpoint.items())),
        "floor_moved": floor.detail,
        **run.detail,
        **extra,
    }


# ---------------------------------------------------------------- the scenarios


def initial(bench: Bench, members: int, overlap: float, name: str) -> dict[str, Any]:
    """1. Link one campaign: the initial two-way sync, conflicts both ways."""
    mix = Mix.of(members, overlap)
    bench.progress(f"{name}: seeding {members:,} members")
    [campaign] = seed_campaigns(bench, name.replace("_", "-"), 1, mix)
    bench.progress(f"{name}: syncing")
    started: list[int] = []

    def link() -> list[int]:
        started.extend(link_all(bench, [campaign]))
        return started

    run, counts = timed_sync(bench, link, name)
    verify(bench, [campaign], mix.final_statuses(), name)
    floor = measure_floor(
        bench, mix.initial_work([campaign.salesforce_id]), bulk=run.write_path == "bulk"
    )
    bench.progress(f"{name}: floor {floor.seconds:.2f} s, {floor.api_calls} calls")
    bench.last_initial = campaign
    return result(
        members,
        1,
        run,
        floor,
        bench.sampler,
        write_path=run.write_path,
        stage_seconds=stage_seconds(bench, started[0]),
        run_counts=dict(sorted(counts.items())),
        **decision_cost(bench, started[0]),
    )


def decision_cost(bench: Bench, run_id: int) -> dict[str, Any]:
    """What `convsync explain` costs the run: the decisions it recorded, and the time to
    write as many again, chunk-sized, in a transaction rolled back afterwards (the same
    statement the chunks run, on the same database, without changing it)."""
    with bench.sessions() as session:
        rows = session.scalars(
            select(DecisionRow).where(DecisionRow.run_id == run_id).order_by(DecisionRow.id)
        ).all()
        again = [
            (
                row.person_id,
                Decision(
                    Stage(row.stage),
                    DecisionKind(row.kind),
                    row.rule,
                    MemberValue(row.conversion_status, row.conversion_at),
                    MemberValue(row.salesforce_status, row.salesforce_at),
                    row.base_status,
                    row.conflict,
                ),
            )
            for row in rows
        ]
        link_id = rows[0].link_id if rows else 0
        began = time.perf_counter()
        for start in range(0, len(again), INBOUND_CHUNK):
            # Another run id, so that none of them is a repeat the unique key would skip.
            decisions.record(session, link_id, -run_id, again[start : start + INBOUND_CHUNK])
        took = time.perf_counter() - began
        session.rollback()
    return {
        "decisions": len(again),
        "decision_write_seconds": round(took, 3),
        "decision_write_us_each": round(took / len(again) * 1e6, 1) if again else None,
    }


def stage_seconds(bench: Bench, run_id: int) -> dict[str, float]:
    """Where a run's time went: run start → last inbound chunk → last outbound chunk."""
    with transaction(bench.sessions) as session:
        run = session.get(RunRow, run_id)
        assert run is not None
        assert run.finished_at is not None
        inbound_done = session.scalar(
            select(func.max(ChunkRow.done_at)).where(
                ChunkRow.run_id == run_id, ChunkRow.stage == "inbound"
            )
        )
        start, end = run.started_at, run.finished_at
    middle = inbound_done or start
    return {
        "inbound": round((middle - start).total_seconds(), 3),
        "outbound": round((end - middle).total_seconds(), 3),
    }


def _set_salesforce_statuses(bench: Bench, campaign_id: str, emails: Sequence[str]) -> None:
    """Change these members' status in Salesforce (untimed set-up of a change)."""
    wanted = set(emails)
    ids = [
        row["Id"]
        for row in bench.sf.query_all_iter(
            soql(
                "SELECT Id, Lead.Email FROM CampaignMember WHERE CampaignId = {cid}",
                cid=campaign_id,
            )
        )
        if str(row["Lead"]["Email"]).lower() in wanted
    ]
    records = [{"attributes": {"type": "CampaignMember"}, "Id": i, "Status": CHANGED} for i in ids]
    for _ in _collections(bench.sf, "PATCH", records):
        pass


def _set_conversion_statuses(bench: Bench, campaign: Campaign, emails: Sequence[str]) -> None:
    with transaction(bench.sessions) as session:
        ids = catalog.upsert_people(session, [PersonInput(e) for e in emails])
        row = session.get(CampaignRow, campaign.conversion_id)
        assert row is not None
        catalog.upsert_members(
            session,
            campaign_id=campaign.conversion_id,
            type_id=row.type_id,
            statuses=[(ids[e], CHANGED) for e in emails],
            updated_at=utcnow(),
        )


def incremental(bench: Bench, members: int, overlap: float) -> dict[str, Any]:
    """3. After the initial sync: 1% changed on each side, then one cadence.

    The initial sync ran with the emulator's clock 10 minutes behind, and one quiet
    cadence runs before the change (with one Salesforce edit, now): the bookmark then
    sits where a deployment's would minutes later, so the measured cadence reads what
    changed, not the echoes of the initial push still inside the re-read overlap.
    """
    campaign = bench.last_initial
    if campaign is None:
        raise BenchError("incremental: the initial scenario must run first")
    mix = Mix.of(members, overlap)
    changed = max(1, round(members * CHANGE_SHARE))
    touched, theirs = campaign.salesforce_only[0], campaign.salesforce_only[1 : 1 + changed]
    ours = campaign.conversion_only[:changed]
    bench.admin.shift_clock(0)
    _set_salesforce_statuses(bench, campaign.salesforce_id, [touched])
    bench.progress("incremental: one quiet cadence first")
    _, settle_runs, _ = cadence(bench, "incremental (settling cadence)")
    mark = parse_datetime(bench.admin.shift_clock(0))
    time.sleep(0.01)  # Salesforce stamps strictly after the mark
    _set_salesforce_statuses(bench, campaign.salesforce_id, theirs)
    _set_conversion_statuses(bench, campaign, ours)
    floor = measure_floor(
        bench,
        Work(reads=member_reads([campaign.salesforce_id], since=mark), updates=len(ours)),
        bulk=False,
    )
    bench.progress(f"incremental: {changed:,} changed on each side; one cadence")
    reports: list[schedule.TickReport] = []

    def tick() -> list[int]:
        before = _last_run_id(bench)
        reports.append(schedule.dispatch_due_syncs(bench.ctx))
        return _runs_after(bench, before)

    run, counts = timed_sync(bench, tick, "incremental")
    expected = mix.final_statuses()
    expected[SEEDED] -= 1 + 2 * changed
    expected[CHANGED] = 1 + 2 * changed
    verify(bench, [campaign], {k: v for k, v in expected.items() if v}, "incremental")
    return result(
        members,
        1,
        run,
        floor,
        bench.sampler,
        changed_per_side=changed,
        runs=reports[0].started,
        settling_runs=len(settle_runs),
        run_counts=dict(sorted(counts.items())),
    )


def warm_up(bench: Bench) -> None:
    """A few small syncs first, untimed: every pool process has imported its modules,
    logged in to Salesforce and opened its connections, as in a running deployment."""
    ensure_type(bench)
    seeded = seed_campaigns(bench, "warmup", 4, Mix.of(100, 0.1))
    wait_for_runs(bench, link_all(bench, seeded), "warm-up")
    for campaign in seeded:
        retire(bench, campaign)


def retire(bench: Bench, campaign: Campaign) -> None:
    """Unlink a scenario's campaign so later scenarios see only their own links."""
    unlink(bench.ctx, campaign.name)


def many_campaigns(
    bench: Bench, members: int, campaigns: int, overlap: float
) -> tuple[dict[str, Any], list[Campaign]]:
    """4. C campaigns of N/C members each, all linked: C initial syncs at once."""
    mix = Mix.of(members // campaigns, overlap)
    bench.progress(f"many_campaigns: seeding {campaigns:,} campaigns of {mix.members:,}")
    seeded = seed_campaigns(bench, "many", campaigns, mix)
    bench.progress("many_campaigns: linking and syncing")
    run, counts = timed_sync(bench, lambda: link_all(bench, seeded), "many_campaigns")
    expected = {k: v * campaigns for k, v in mix.final_statuses().items()}
    verify(bench, seeded, expected, "many_campaigns")
    floor = measure_floor(
        bench,
        mix.initial_work([c.salesforce_id for c in seeded], campaigns),
        bulk=run.write_path == "bulk",
    )
    return (
        result(
            mix.members * campaigns,
            campaigns,
            run,
            floor,
            bench.sampler,
            run_counts=dict(sorted(counts.items())),
        ),
        seeded,
    )


def idle_tick(bench: Bench, seeded: Sequence[Campaign]) -> dict[str, Any]:
    """2. C linked campaigns, nothing changed: one `dispatch_due_syncs`.

    One cadence first absorbs the echoes of the initial pushes (the first tick after an
    initial sync re-reads what it wrote); the measured tick then finds nothing to do.
    """
    bench.progress(f"idle_tick: settling {len(seeded):,} campaigns, then one idle tick")
    _, settle_runs, _ = cadence(bench, "idle_tick (settling cadence)")
    floor = measure_floor(
        bench, Work(change_checks=tuple(c.salesforce_id for c in seeded)), bulk=False
    )
    reports: list[schedule.TickReport] = []

    def tick() -> list[int]:
        before = _last_run_id(bench)
        reports.append(schedule.dispatch_due_syncs(bench.ctx))
        return _runs_after(bench, before)

    run, _ = timed_sync(bench, tick, "idle_tick")
    members = _conversion_total(bench, [c.conversion_id for c in seeded])
    return result(
        members,
        len(seeded),
        run,
        floor,
        bench.sampler,
        due=reports[0].due,
        started=reports[0].started,
        settling_runs=len(settle_runs),
    )


def _conversion_total(bench: Bench, campaign_ids: Sequence[int]) -> int:
    return sum(_conversion_statuses(bench, campaign_ids).values())


def truncate_all(sessions: sessionmaker[Session]) -> None:
    """Empty every table (only for a configured database found empty at the start)."""
    from convsync.store.tables import Base

    names = ", ".join(t.name for t in reversed(Base.metadata.sorted_tables))
    with transaction(sessions) as session:
        session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


def is_empty(sessions: sessionmaker[Session]) -> bool:
    with transaction(sessions) as session:
        return session.scalar(select(func.count()).select_from(CampaignRow)) == 0
