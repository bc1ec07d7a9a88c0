"""Property: whatever edits both sides make, in whatever order the sync's tasks are
delivered (twice, late, or after dying half-way), both sides converge on the values the
conflict rule (`domain.conflict.resolve`) picks.

The use cases are driven synchronously in this process through an inline `Dispatcher`
that delivers the enqueued steps in an order hypothesis chooses, delivers some twice and
makes some die around a Salesforce call (then retries them, as Celery's autoretry
would). No Celery is involved on purpose: this tests the use cases and their
at-least-once safety, not Celery (real workers are covered by tests/e2e and
tests/chaos). PostgreSQL and the Salesforce emulator (over HTTPS) are real; both are
reset between examples.

The oracle is independent of the engine's bookkeeping: before each sync it reads both
sides as they are (status and time per member; Salesforce through `queryAll`), applies
`resolve` with the base it remembers from its own previous predictions, and after the
sync expects both sides to hold exactly that verdict's value.

`CONVSYNC_PROPERTY_EXAMPLES` sets the number of examples: 30 (derandomized, so
`make test` is repeatable) unless set; `make chaos` runs 500 random ones.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from random import Random
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from simple_salesforce import format_soql
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker

from convsync.domain.conflict import Action, resolve
from convsync.domain.errors import TransientSalesforceError
from convsync.domain.model import ABSENT, MemberValue
from convsync.domain.watermark import read_bound
from convsync.salesforce.soql import parse_datetime
from convsync.salesforce_emulator.testing import EmulatorHandle, simple_salesforce_client
from convsync.store.tables import Base, CampaignRow, MemberRow, PersonRow, RunRow, utcnow
from convsync.sync import catalog, inbound, linking, outbound, schedule, stages, update_pool
from convsync.sync.context import SyncContext, SyncOptions
from convsync.workers import root
from tests.support.scenario import eventually

EXAMPLES = int(os.environ.get("CONVSYNC_PROPERTY_EXAMPLES", "30"))
EMAILS = ("ann@example.com", "bob@example.com", "cy@example.com", "di@example.com")
STATUSES = ("Invited", "Registered", "Attended")
WEBINAR = [("Invited", True, False), ("Registered", False, False), ("Attended", False, True)]
CAMPAIGN = "Spring"
# Pooled updates wait a millisecond: a flush is delivered in its turn like any task.
POOL_LINGER = timedelta(milliseconds=1)

pytestmark = pytest.mark.slow

# ------------------------------------------------------------------ the steps


@dataclass(frozen=True)
class ConversionEdit:
    """Set (or remove, status None) a member in Conversion, stamped relative to its latest
    Salesforce change: "now", an exact "tie", 1 ms "before" or 1 ms "after" it."""

    email: str
    status: str | None
    timing: str


@dataclass(frozen=True)
class SalesforceEdit:
    """Set (update or insert) or remove (status None) a member in Salesforce."""

    email: str
    status: str | None


@dataclass(frozen=True)
class Skew:
    """Run Salesforce's clock this far from ours (behind freezes its stamps for a while)."""

    offset_ms: int


@dataclass(frozen=True)
class Sync:
    """A complete run: inbound then outbound, every enqueued task delivered."""


statuses_or_removed = st.sampled_from((*STATUSES, None))
steps = st.one_of(
    st.builds(
        ConversionEdit,
        st.sampled_from(EMAILS),
        statuses_or_removed,
        st.sampled_from(("now", "tie", "before", "after")),
    ),
    st.builds(SalesforceEdit, st.sampled_from(EMAILS), statuses_or_removed),
    st.builds(Skew, st.sampled_from((-3_000, -200, 0, 30, 150))),
    st.just(Sync()),
)
initial_side = st.dictionaries(st.sampled_from(EMAILS), st.sampled_from(STATUSES), max_size=4)


# ------------------------------------------------------------------ the inline dispatcher


@dataclass
class Delivery:
    """One enqueued task, as a Celery message would carry it (its id is the claim token)."""

    kind: str
    run_id: int
    chunk: int | None
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    repeat: bool = False


class InlineDispatcher:
    """The `Dispatcher` port as a list: the test decides what runs next."""

    def __init__(self) -> None:
        self.queue: list[Delivery] = []

    def inbound_stage(self, run_id: int) -> None:
        self.queue.append(Delivery("inbound_stage", run_id, None))

    def inbound_chunk(self, run_id: int, chunk: int) -> None:
        self.queue.append(Delivery("inbound_chunk", run_id, chunk))

    def outbound_stage(self, run_id: int) -> None:
        self.queue.append(Delivery("outbound_stage", run_id, None))

    def outbound_chunk(self, run_id: int, chunk: int) -> None:
        self.queue.append(Delivery("outbound_chunk", run_id, chunk))

    def push_edits(self, link_id: int, requested_after: int, *, delay: float) -> None:
        """Dropped: these tests start every run themselves (a lost request, as after a
        SIGKILL; the edits stay pending for the next run)."""

    def flush_updates(self, *, delay: float) -> None:
        self.queue.append(Delivery("flush_updates", 0, None))


class CrashingSalesforce:
    """The gateway, able to die once just before or just after one of its calls."""

    def __init__(self, gateway: Any) -> None:
        self._gateway = gateway
        self.crash: str | None = None  # "before" | "after" | None

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._gateway, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            when, self.crash = self.crash, None
            if when == "before":
                raise TransientSalesforceError("test: died before the call", code="TEST")
            result = method(*args, **kwargs)
            if when == "after":
                if isinstance(result, Iterator):
                    list(result)
                raise TransientSalesforceError("test: died after the call", code="TEST")
            return result

        return call


def _run(ctx: SyncContext, d: Delivery) -> None:
    if d.kind == "inbound_stage":
        inbound.plan_inbound(ctx, d.run_id)
    elif d.kind == "inbound_chunk":
        inbound.apply_inbound_chunk(ctx, d.run_id, d.chunk or 0, token=d.token)
    elif d.kind == "outbound_stage":
        outbound.plan_outbound(ctx, d.run_id)
    elif d.kind == "flush_updates":
        time.sleep(ctx.options.update_pool_linger.total_seconds())  # its countdown
        update_pool.flush_updates(ctx)
    else:
        outbound.push_outbound_chunk(ctx, d.run_id, d.chunk or 0, token=d.token)


def deliver_all(
    ctx: SyncContext, queue: list[Delivery], crashing: CrashingSalesforce, rnd: Random
) -> None:
    """Deliver until nothing is left: in a drawn order, some twice, some dying once."""
    while queue:
        delivery = queue.pop(rnd.randrange(len(queue)))
        if not delivery.repeat:
            crashing.crash = rnd.choice((None, None, None, None, "before", "after"))
        try:
            _run(ctx, delivery)
        except stages.LostClaimError:
            continue
        except TransientSalesforceError:
            # Celery's autoretry: the same message (same task id) comes back.
            queue.append(
                Delivery(delivery.kind, delivery.run_id, delivery.chunk, delivery.token, True)
            )
            continue
        finally:
            crashing.crash = None
        if not delivery.repeat and rnd.random() < 0.5:
            # At-least-once: redelivered (same id) or republished by the reconciler (new id).
            token = delivery.token if rnd.random() < 0.5 else uuid.uuid4().hex
            queue.append(Delivery(delivery.kind, delivery.run_id, delivery.chunk, token, True))


# ------------------------------------------------------------------ both sides


@dataclass
class World:
    """Conversion (PostgreSQL), Salesforce (the emulator), and the oracle's memory."""

    sessions: sessionmaker[Session]
    org: EmulatorHandle
    sf: Any
    campaign_id: str
    leads: dict[str, str] = field(default_factory=dict)
    bases: dict[str, MemberValue | None] = field(default_factory=dict)
    synced_once: bool = False

    # -------------------------------------------------------- reading

    def conversion(self) -> dict[str, tuple[str | None, datetime]]:
        """email → (status or None when removed, updated_at), for every row ever written."""
        with self.sessions() as session:
            rows = session.execute(
                select(PersonRow.email, MemberRow.status, MemberRow.updated_at)
                .join(PersonRow, PersonRow.id == MemberRow.person_id)
                .join(CampaignRow, CampaignRow.id == MemberRow.campaign_id)
                .where(CampaignRow.name == CAMPAIGN)
            ).all()
        return {email: (status, at) for email, status, at in rows}

    def salesforce_rows(self) -> dict[str, list[dict[str, Any]]]:
        """email → the campaign's CampaignMember rows for that person, deleted ones too,
        oldest first."""
        by_lead = {lead: email for email, lead in self.leads.items()}
        query = format_soql(
            "SELECT Id, LeadId, Status, IsDeleted, LastModifiedDate, SystemModstamp "
            "FROM CampaignMember WHERE CampaignId = {} ORDER BY SystemModstamp, Id",
            self.campaign_id,
        )
        found: dict[str, list[dict[str, Any]]] = {}
        for row in self.sf.query_all(query, include_deleted=True)["records"]:
            email = by_lead.get(row["LeadId"]) or self._email_of_lead(row["LeadId"])
            found.setdefault(email, []).append(row)
        return found

    def _email_of_lead(self, lead_id: str) -> str:
        email = str(self.sf.Lead.get(lead_id)["Email"]).lower()
        self.leads[email] = lead_id
        return email

    def live_salesforce(self) -> dict[str, str]:
        return {
            email: row["Status"]
            for email, rows in self.salesforce_rows().items()
            for row in rows
            if not row["IsDeleted"]
        }

    def live_conversion(self) -> dict[str, str]:
        return {e: s for e, (s, _) in self.conversion().items() if s is not None}

    # -------------------------------------------------------- writing

    def edit_conversion(self, step: ConversionEdit) -> None:
        current = self.conversion().get(step.email)
        if step.status is None:
            if current is None or current[0] is None:
                return
            catalog.remove_member(self.sessions, CAMPAIGN, step.email)
        else:
            catalog.add_member(self.sessions, CAMPAIGN, step.email, step.status)
        rows = self.salesforce_rows().get(step.email)
        if step.timing == "now" or not rows:
            return
        latest = rows[-1]
        stamp = parse_datetime(
            latest["SystemModstamp" if latest["IsDeleted"] else "LastModifiedDate"]
        )
        assert stamp is not None
        at = stamp + {"tie": timedelta(0), "before": -timedelta(milliseconds=1)}.get(
            step.timing, timedelta(milliseconds=1)
        )
        with self.sessions.begin() as session:
            person = session.scalar(select(PersonRow.id).where(PersonRow.email == step.email))
            session.execute(
                update(MemberRow)
                .where(MemberRow.person_id == person)
                .values(updated_at=at, removed_at=None if step.status else at)
            )

    def edit_salesforce(self, step: SalesforceEdit) -> None:
        live = [r for r in self.salesforce_rows().get(step.email, []) if not r["IsDeleted"]]
        if step.status is None:
            if live:
                self.sf.CampaignMember.delete(live[0]["Id"])
            return
        if live:
            self.sf.CampaignMember.update(live[0]["Id"], {"Status": step.status})
            return
        self.sf.CampaignMember.create(
            {"CampaignId": self.campaign_id, "LeadId": self.lead(step.email), "Status": step.status}
        )

    def lead(self, email: str) -> str:
        if email not in self.leads:
            query = format_soql("SELECT Id FROM Lead WHERE Email = {} ORDER BY Id", email)
            found = self.sf.query(query)["records"]
            if found:
                self.leads[email] = found[0]["Id"]
            else:
                created = self.sf.Lead.create(
                    {"LastName": email.split("@", maxsplit=1)[0], "Company": "Acme", "Email": email}
                )
                self.leads[email] = created["id"]
        return self.leads[email]

    # -------------------------------------------------------- the oracle

    def predict(self) -> dict[str, MemberValue | None]:
        """What `resolve` says each member becomes, from both sides as they are now."""
        conversion = self.conversion()
        salesforce = self.salesforce_rows()
        verdicts: dict[str, MemberValue | None] = {}
        for email in EMAILS:
            base = self.bases.get(email)
            c_value = self._conversion_value(conversion.get(email))
            s_value = self._salesforce_value(salesforce.get(email, []))
            verdict = resolve(c_value, s_value, base)
            if verdict.action is Action.NOTHING and base is None:
                verdicts[email] = None
            else:
                verdicts[email] = MemberValue(verdict.value.status)
        return verdicts

    @staticmethod
    def _conversion_value(row: tuple[str | None, datetime] | None) -> MemberValue:
        """Never here: absent. Removed: a tombstone with its time (every removal in these
        examples is made after the link; one made before it would count as absent)."""
        if row is None:
            return ABSENT
        return MemberValue(row[0], row[1])

    def _salesforce_value(self, rows: list[dict[str, Any]]) -> MemberValue:
        if not self.synced_once:
            rows = [r for r in rows if not r["IsDeleted"]]  # the first sync reads live rows
        if not rows:
            return ABSENT
        latest = rows[-1]
        if latest["IsDeleted"]:
            return MemberValue(None, parse_datetime(latest["SystemModstamp"]))
        return MemberValue(latest["Status"], parse_datetime(latest["LastModifiedDate"]))

    def wait_for_salesforce_clock(self, *, next_second: bool = False) -> None:
        """A run reads up to its own start: let our clock pass Salesforce's latest stamp
        (Salesforce's clock may run ahead), so every edit made so far is in the window.
        With `next_second`, wait until the clock is in a later whole second than it."""
        stamps = [
            parse_datetime(r["SystemModstamp"])
            for rows in self.salesforce_rows().values()
            for r in rows
        ]
        latest = max((s for s in stamps if s is not None), default=None)
        if latest is not None and next_second:
            latest = latest.replace(microsecond=0) + timedelta(seconds=1, microseconds=-1)
        while latest is not None and utcnow() <= latest:
            time.sleep(0.01)


def wait_for_lease_to_expire(sessions: sessionmaker[Session], run_id: int) -> None:
    def expired() -> bool:
        with sessions() as session:
            run = session.get(RunRow, run_id)
            assert run is not None
            open_run = run.state in {"queued", "running"}
            return not open_run or (run.lease_until is not None and utcnow() > run.lease_until)

    eventually(expired, timeout=10)


def reset_everything(sessions: sessionmaker[Session], org: EmulatorHandle) -> None:
    tables = ", ".join(t.name for t in reversed(Base.metadata.sorted_tables))
    with sessions.begin() as session:
        session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    org.admin.reset()


def sync(world: World, ctx: SyncContext, queue: list[Delivery], crashing: Any, rnd: Random) -> None:
    """One complete run; afterwards both sides hold what the oracle predicted."""
    world.wait_for_salesforce_clock()
    expected = world.predict()
    if world.synced_once:
        run_id, started = linking.request_sync(ctx, CAMPAIGN)
    else:
        run_id, started = linking.link_existing(ctx, CAMPAIGN, world.campaign_id).run_id, True
    assert started
    deliver_all(ctx, queue, crashing, rnd)
    with world.sessions() as session:
        run = session.get(RunRow, run_id)
        assert run is not None
        assert (run.state, run.error) == ("succeeded", None)
    world.synced_once = True
    world.bases = expected
    wanted = {e: v.status for e, v in expected.items() if v is not None and v.status}
    assert world.live_conversion() == wanted, "Conversion does not hold the rule's values"
    assert world.live_salesforce() == wanted, "Salesforce does not hold the rule's values"


# ------------------------------------------------------------------ the property


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize="CONVSYNC_PROPERTY_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Cases worth running every time, whatever hypothesis draws.
@example(  # an exact tie goes to Salesforce
    in_conversion={"ann@example.com": "Invited"},
    in_salesforce={},
    edits=[
        SalesforceEdit("ann@example.com", "Registered"),
        ConversionEdit("ann@example.com", "Attended", "tie"),
    ],
    rnd=Random(1),
)
@example(  # deleted and re-added in Salesforce, then removed later in Conversion
    in_conversion={"ann@example.com": "Invited"},
    in_salesforce={},
    edits=[
        SalesforceEdit("ann@example.com", None),
        SalesforceEdit("ann@example.com", "Registered"),
        ConversionEdit("ann@example.com", None, "after"),
    ],
    rnd=Random(2),
)
@example(  # Salesforce's clock behind: its later edit carries an earlier time
    in_conversion={"bob@example.com": "Invited"},
    in_salesforce={"bob@example.com": "Invited"},
    edits=[
        Skew(-3_000),
        ConversionEdit("bob@example.com", "Attended", "now"),
        SalesforceEdit("bob@example.com", "Registered"),
    ],
    rnd=Random(3),
)
@given(
    in_conversion=initial_side,
    in_salesforce=initial_side,
    edits=st.lists(steps, max_size=8),
    rnd=st.randoms(use_true_random=False),
)
def test_both_sides_converge_on_the_conflict_rules_values(
    salesforce_env: dict[str, str],
    emulator: EmulatorHandle,
    in_conversion: dict[str, str],
    in_salesforce: dict[str, str],
    edits: list[Any],
    rnd: Random,
) -> None:
    adapters = root.adapters()
    reset_everything(adapters.sessions, emulator)
    dispatcher = InlineDispatcher()
    crashing = CrashingSalesforce(adapters.salesforce)
    ctx = SyncContext(
        adapters.sessions,
        lambda: crashing,  # type: ignore[return-value]
        dispatcher,
        # Two members a chunk: several chunks per stage, delivered in any order.
        SyncOptions(inbound_chunk=2, outbound_chunk=2, update_pool_linger=POOL_LINGER),
    )
    catalog.create_type(adapters.sessions, "Webinar", list(STATUSES))
    catalog.create_campaign(adapters.sessions, CAMPAIGN, "Webinar")
    for email, status in sorted(in_conversion.items()):
        catalog.add_member(adapters.sessions, CAMPAIGN, email, status)
    seeded = emulator.admin.seed(
        campaigns=[
            {
                "Name": "Spring SF",
                "statuses": [
                    {"Label": label, "IsDefault": default, "HasResponded": responded}
                    for label, default, responded in WEBINAR
                ],
            }
        ]
    )
    world = World(
        adapters.sessions,
        emulator,
        simple_salesforce_client(emulator),
        seeded["campaigns"][0]["id"],
    )
    for email, status in sorted(in_salesforce.items()):
        world.edit_salesforce(SalesforceEdit(email, status))

    def run(step: Any) -> None:
        if isinstance(step, ConversionEdit):
            world.edit_conversion(step)
        elif isinstance(step, SalesforceEdit):
            world.edit_salesforce(step)
        elif isinstance(step, Skew):
            emulator.admin.shift_clock(step.offset_ms)
        else:
            sync(world, ctx, dispatcher.queue, crashing, rnd)

    sync(world, ctx, dispatcher.queue, crashing, rnd)  # the link's initial sync
    for step in edits:
        run(step)
    sync(world, ctx, dispatcher.queue, crashing, rnd)
    # Converged: one more run moves nothing.
    before = (world.live_conversion(), world.live_salesforce())
    sync(world, ctx, dispatcher.queue, crashing, rnd)
    assert (world.live_conversion(), world.live_salesforce()) == before
    assert before[0] == before[1]


# ------------------------------------------------------------------ something happens half-way


def spring_campaign(sessions: sessionmaker[Session], emulator: EmulatorHandle) -> World:
    """The Conversion campaign (type Webinar, empty) and an empty Salesforce campaign."""
    catalog.create_type(sessions, "Webinar", list(STATUSES))
    catalog.create_campaign(sessions, CAMPAIGN, "Webinar")
    seeded = emulator.admin.seed(
        campaigns=[
            {
                "Name": "Spring SF",
                "statuses": [
                    {"Label": label, "IsDefault": default, "HasResponded": responded}
                    for label, default, responded in WEBINAR
                ],
            }
        ]
    )
    return World(
        sessions, emulator, simple_salesforce_client(emulator), seeded["campaigns"][0]["id"]
    )


class DiesAfter:
    """The gateway, dying once right after one named call (its write has landed)."""

    def __init__(self, gateway: Any, method: str) -> None:
        self._gateway = gateway
        self._method: str | None = method

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._gateway, name)
        if name != self._method:
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            self._method = None
            method(*args, **kwargs)
            raise TransientSalesforceError("test: died after the write", code="TEST")

        return call


def deliver_in_order(ctx: SyncContext, queue: list[Delivery]) -> None:
    while queue:
        _run(ctx, queue.pop(0))


def fresh_scene(emulator: EmulatorHandle) -> tuple[Any, InlineDispatcher, SyncContext, World]:
    """Both sides emptied; the Spring campaigns on both; a context over the gateway."""
    adapters = root.adapters()
    reset_everything(adapters.sessions, emulator)
    dispatcher = InlineDispatcher()
    options = SyncOptions(update_pool_linger=POOL_LINGER)
    ctx = SyncContext(adapters.sessions, lambda: adapters.salesforce, dispatcher, options)
    return adapters, dispatcher, ctx, spring_campaign(adapters.sessions, emulator)


def ann_in_sync_as_invited(
    emulator: EmulatorHandle,
) -> tuple[Any, InlineDispatcher, SyncContext, World]:
    """ann@example.com linked and synced: Invited on both sides, with its base."""
    adapters, dispatcher, ctx, world = fresh_scene(emulator)
    catalog.add_member(adapters.sessions, CAMPAIGN, "ann@example.com", "Invited")
    linking.link_existing(ctx, CAMPAIGN, world.campaign_id)
    deliver_in_order(ctx, dispatcher.queue)
    return adapters, dispatcher, ctx, world


@pytest.mark.parametrize(
    "edit_meanwhile",
    [
        pytest.param("Attended", id="a-newer-conversion-edit"),
        pytest.param("Invited", id="conversion-changed-back-to-the-old-base"),
    ],
)
def test_a_push_whose_run_then_failed_does_not_come_back_as_a_salesforce_change(
    salesforce_env: dict[str, str], emulator: EmulatorHandle, edit_meanwhile: str
) -> None:
    """An outbound chunk writes Registered to Salesforce and dies before recording the
    base; its run then fails, so the chunk never retries. Conversion is edited meanwhile,
    stamped just before Salesforce's write. Salesforce's Registered is the sync's own
    write, not a change: the Conversion edit wins on both sides."""
    adapters, dispatcher, ctx, world = ann_in_sync_as_invited(emulator)
    assert world.live_salesforce() == {"ann@example.com": "Invited"}

    catalog.add_member(adapters.sessions, CAMPAIGN, "ann@example.com", "Registered")
    world.wait_for_salesforce_clock()
    run_id, _ = linking.request_sync(ctx, CAMPAIGN)
    gateway = DiesAfter(adapters.salesforce, "update_members")
    # The chunk writes its own update (no pool), so the failure reaches the chunk task.
    direct = SyncOptions(update_pool_linger=timedelta())
    dying = SyncContext(adapters.sessions, lambda: gateway, dispatcher, direct)
    with pytest.raises(TransientSalesforceError):
        deliver_in_order(dying, dispatcher.queue)
    dispatcher.queue.clear()
    stages.fail_run(ctx, run_id, "gave up")
    assert world.live_salesforce() == {"ann@example.com": "Registered"}

    world.edit_conversion(ConversionEdit("ann@example.com", edit_meanwhile, "before"))
    world.wait_for_salesforce_clock()
    linking.request_sync(ctx, CAMPAIGN)
    deliver_in_order(ctx, dispatcher.queue)

    expected = {"ann@example.com": edit_meanwhile}
    assert world.live_conversion() == world.live_salesforce() == expected


def test_a_removal_in_salesforce_after_a_failed_initial_run_still_reaches_conversion(
    salesforce_env: dict[str, str], emulator: EmulatorHandle
) -> None:
    """The initial run imports, then fails (the API limit, say) before its outbound stage
    ends; a member it imported is removed in Salesforce; the next run must see that."""
    _, dispatcher, ctx, world = fresh_scene(emulator)
    world.edit_salesforce(SalesforceEdit("ann@example.com", "Registered"))
    run_id = linking.link_existing(ctx, CAMPAIGN, world.campaign_id).run_id
    while dispatcher.queue[0].kind.startswith("inbound"):
        _run(ctx, dispatcher.queue.pop(0))
    dispatcher.queue.clear()
    stages.fail_run(ctx, run_id, "Salesforce API limit reached")
    assert world.live_conversion() == {"ann@example.com": "Registered"}

    world.edit_salesforce(SalesforceEdit("ann@example.com", None))
    world.wait_for_salesforce_clock()
    linking.request_sync(ctx, CAMPAIGN)
    deliver_in_order(ctx, dispatcher.queue)

    assert world.live_conversion() == world.live_salesforce() == {}


def test_a_removal_in_conversion_while_the_initial_sync_runs_is_not_undone(
    salesforce_env: dict[str, str], emulator: EmulatorHandle
) -> None:
    """Linked, then the member is removed in Conversion before the initial import lands:
    the removal is later than Salesforce's value, so it wins on both sides."""
    adapters, dispatcher, ctx, world = fresh_scene(emulator)
    catalog.add_member(adapters.sessions, CAMPAIGN, "ann@example.com", "Invited")
    world.edit_salesforce(SalesforceEdit("ann@example.com", "Invited"))
    world.wait_for_salesforce_clock()
    linking.link_existing(ctx, CAMPAIGN, world.campaign_id)
    _run(ctx, dispatcher.queue.pop(0))  # the inbound stage stages the page

    catalog.remove_member(adapters.sessions, CAMPAIGN, "ann@example.com")
    deliver_in_order(ctx, dispatcher.queue)

    assert world.live_conversion() == world.live_salesforce() == {}


def test_a_member_added_in_salesforce_while_the_initial_sync_runs_is_not_overwritten(
    salesforce_env: dict[str, str], emulator: EmulatorHandle
) -> None:
    """Conversion has ann (Invited); the initial run reads Salesforce (no ann), then a
    user adds ann there as Registered before the outbound stage inserts her. The insert
    finds her already there, with a value the run never read and that is later than
    Conversion's: it is left for the next run, which imports it."""
    adapters, dispatcher, ctx, world = fresh_scene(emulator)
    catalog.add_member(adapters.sessions, CAMPAIGN, "ann@example.com", "Invited")
    run_id = linking.link_existing(ctx, CAMPAIGN, world.campaign_id).run_id
    while dispatcher.queue[0].kind.startswith("inbound"):
        _run(ctx, dispatcher.queue.pop(0))
    with adapters.sessions() as session:
        run = session.get(RunRow, run_id)
        assert run is not None
        while utcnow() <= read_bound(run.started_at):
            time.sleep(0.05)

    world.edit_salesforce(SalesforceEdit("ann@example.com", "Registered"))
    deliver_in_order(ctx, dispatcher.queue)
    assert world.live_salesforce() == {"ann@example.com": "Registered"}

    world.wait_for_salesforce_clock()
    linking.request_sync(ctx, CAMPAIGN)
    deliver_in_order(ctx, dispatcher.queue)
    assert world.live_conversion() == world.live_salesforce() == {"ann@example.com": "Registered"}


class DiesWhileReading:
    """The gateway, whose member read dies every time, one row further each time (a
    resume re-reads the rows sharing the last staged stamp, so they count)."""

    def __init__(self, gateway: Any) -> None:
        self._gateway = gateway
        self._rows = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._gateway, name)

    def iter_members(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        self._rows += 1
        for n, row in enumerate(self._gateway.iter_members(*args, **kwargs)):
            if n == self._rows:
                raise TransientSalesforceError("test: died while reading", code="TEST")
            yield row


def test_a_planner_killed_more_often_than_the_attempt_limit_still_lands_if_it_progresses(
    salesforce_env: dict[str, str], emulator: EmulatorHandle
) -> None:
    """Every attempt at reading Salesforce dies after one page, more times than the
    attempt limit allows; each staged a page, so the run goes on and lands whole."""
    adapters = root.adapters()
    reset_everything(adapters.sessions, emulator)
    dispatcher = InlineDispatcher()
    options = SyncOptions(
        inbound_chunk=1,
        max_attempts=2,
        lease=timedelta(milliseconds=200),
        update_pool_linger=POOL_LINGER,
    )
    gateway = DiesWhileReading(adapters.salesforce)
    dying = SyncContext(adapters.sessions, lambda: gateway, dispatcher, options)
    world = spring_campaign(adapters.sessions, emulator)
    for email in EMAILS:
        world.edit_salesforce(SalesforceEdit(email, "Invited"))
    world.wait_for_salesforce_clock()
    run_id = linking.link_existing(dying, CAMPAIGN, world.campaign_id).run_id

    for _ in range(3 * len(EMAILS)):
        planners = [d for d in dispatcher.queue if d.kind == "inbound_stage"]
        if not planners:
            break
        for delivery in planners:
            dispatcher.queue.remove(delivery)
            with contextlib.suppress(TransientSalesforceError):
                _run(dying, delivery)
        wait_for_lease_to_expire(adapters.sessions, run_id)  # then the reconciler restarts it
        schedule.reconcile(dying)
    ctx = SyncContext(adapters.sessions, lambda: adapters.salesforce, dispatcher, options)
    deliver_in_order(ctx, dispatcher.queue)

    with adapters.sessions() as session:
        run = session.get(RunRow, run_id)
        assert run is not None
        assert (run.state, run.error) == ("succeeded", None)
    assert world.live_conversion() == dict.fromkeys(EMAILS, "Invited")


def test_a_retried_push_does_not_overwrite_an_edit_made_in_salesforce_since_the_first_try(
    salesforce_env: dict[str, str], emulator: EmulatorHandle
) -> None:
    """An outbound chunk writes Registered and dies; before its retry, a user sets the
    member to Attended in Salesforce. The retry must not write Registered over it: the
    next run judges Attended (the later change) and it wins on both sides, as it would
    have had the chunk never died."""
    adapters, dispatcher, ctx, world = ann_in_sync_as_invited(emulator)

    catalog.add_member(adapters.sessions, CAMPAIGN, "ann@example.com", "Registered")
    world.wait_for_salesforce_clock()
    linking.request_sync(ctx, CAMPAIGN)
    gateway = DiesAfter(adapters.salesforce, "update_members")
    # The chunk writes its own update (no pool), so the failure reaches the chunk task.
    direct = SyncOptions(update_pool_linger=timedelta())
    dying = SyncContext(adapters.sessions, lambda: gateway, dispatcher, direct)
    died: Delivery | None = None
    while dispatcher.queue and died is None:
        delivery = dispatcher.queue.pop(0)
        try:
            _run(dying, delivery)
        except TransientSalesforceError:
            died = delivery
    assert died is not None
    assert world.live_salesforce() == {"ann@example.com": "Registered"}

    world.edit_salesforce(SalesforceEdit("ann@example.com", "Attended"))
    _run(ctx, died)  # Celery's autoretry: the same message again
    deliver_in_order(ctx, dispatcher.queue)
    assert world.live_salesforce() == {"ann@example.com": "Attended"}

    world.wait_for_salesforce_clock()
    linking.request_sync(ctx, CAMPAIGN)
    deliver_in_order(ctx, dispatcher.queue)
    assert world.live_conversion() == world.live_salesforce() == {"ann@example.com": "Attended"}


def test_a_pooled_push_that_died_after_writing_does_not_overwrite_a_later_edit(
    salesforce_env: dict[str, str], emulator: EmulatorHandle
) -> None:
    """The same through the update pool: the flush writes Registered and dies; before
    the chunk it hands back runs again, a user sets Attended in Salesforce. The chunk
    reads the member back and leaves Attended to the next run, which keeps it."""
    adapters, dispatcher, ctx, world = ann_in_sync_as_invited(emulator)

    catalog.add_member(adapters.sessions, CAMPAIGN, "ann@example.com", "Registered")
    world.wait_for_salesforce_clock()
    linking.request_sync(ctx, CAMPAIGN)
    gateway = DiesAfter(adapters.salesforce, "update_members")
    dying = SyncContext(adapters.sessions, lambda: gateway, dispatcher, ctx.options)
    while dispatcher.queue:
        delivery = dispatcher.queue.pop(0)
        _run(dying, delivery)
        if delivery.kind == "flush_updates":
            break
    assert [d.kind for d in dispatcher.queue] == ["outbound_chunk"]  # handed back
    assert world.live_salesforce() == {"ann@example.com": "Registered"}

    world.edit_salesforce(SalesforceEdit("ann@example.com", "Attended"))
    deliver_in_order(ctx, dispatcher.queue)
    assert world.live_salesforce() == {"ann@example.com": "Attended"}

    world.wait_for_salesforce_clock()
    linking.request_sync(ctx, CAMPAIGN)
    deliver_in_order(ctx, dispatcher.queue)
    assert world.live_conversion() == world.live_salesforce() == {"ann@example.com": "Attended"}


def test_a_member_removed_in_salesforce_while_the_initial_sync_runs_stays_removed(
    salesforce_env: dict[str, str], emulator: EmulatorHandle
) -> None:
    """ann is on both sides; the campaign is linked, and a user removes ann in Salesforce
    before the initial run reads it. The removal is later than Conversion's value: it
    wins on both sides (the first read skips only removals from before the link)."""
    _, dispatcher, ctx, world = fresh_scene(emulator)
    catalog.add_member(world.sessions, CAMPAIGN, "ann@example.com", "Registered")
    world.edit_salesforce(SalesforceEdit("ann@example.com", "Registered"))
    world.wait_for_salesforce_clock()
    linking.link_existing(ctx, CAMPAIGN, world.campaign_id)

    world.edit_salesforce(SalesforceEdit("ann@example.com", None))
    deliver_in_order(ctx, dispatcher.queue)

    assert world.live_conversion() == world.live_salesforce() == {}


def test_a_member_removed_in_salesforce_before_the_link_is_not_a_removal(
    salesforce_env: dict[str, str], emulator: EmulatorHandle
) -> None:
    """Removed in Salesforce long before the link, kept in Conversion: the first sync
    copies Conversion's member over instead of removing it."""
    _, dispatcher, ctx, world = fresh_scene(emulator)
    catalog.add_member(world.sessions, CAMPAIGN, "ann@example.com", "Registered")
    world.edit_salesforce(SalesforceEdit("ann@example.com", "Invited"))
    world.edit_salesforce(SalesforceEdit("ann@example.com", None))
    # The read includes removals from the link's whole second on.
    world.wait_for_salesforce_clock(next_second=True)
    linking.link_existing(ctx, CAMPAIGN, world.campaign_id)
    deliver_in_order(ctx, dispatcher.queue)

    expected = {"ann@example.com": "Registered"}
    assert world.live_conversion() == world.live_salesforce() == expected
