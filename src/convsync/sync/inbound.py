"""The inbound stage: Salesforce → Conversion.

The stage task pages the Salesforce campaign's members changed since the bookmark
(capped at the run's start), stages each page as a chunk in PostgreSQL and, once every
page is staged, enqueues a chunk task per page. A chunk task applies the conflict rule
to each member and writes the verdicts, the new bases and the chunk's done-marker in one
transaction.
"""

from __future__ import annotations

import shlex
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import chain

import structlog

from convsync.domain.conflict import Action, landed, resolve
from convsync.domain.decisions import Decision, DecisionKind, inbound_decision
from convsync.domain.errors import NotFoundError, ValidationError
from convsync.domain.model import ABSENT, MemberValue, Stage, normalize_email
from convsync.domain.status_rules import StatusRules
from convsync.domain.watermark import query_window, read_bound
from convsync.salesforce.records import ReplicationWindow, SalesforceMember
from convsync.salesforce.streams import PAGE_SIZE
from convsync.store import bases, catalog, decisions, links, members, people, runs, skips, staging
from convsync.store import status_rules as rules_store
from convsync.store.bases import MemberBase, NewBase
from convsync.store.catalog import PersonInput
from convsync.store.db import Session, transaction
from convsync.store.members import LocalMember
from convsync.store.staging import StagedMember
from convsync.sync import stages
from convsync.sync.context import SyncContext

_RESUME_SLACK = timedelta(milliseconds=1)
# Member ids named in a log line of members imported with the default status.
LOGGED_MEMBER_IDS = 20

log = structlog.get_logger(__name__)


def _staged(member: SalesforceMember) -> StagedMember:
    stamp = member.system_modstamp or member.last_modified
    assert stamp is not None  # Salesforce always returns SystemModstamp
    return StagedMember(
        salesforce_member_id=member.id,
        lead_id=member.lead_id,
        contact_id=member.contact_id,
        email=member.email,
        first_name=member.first_name,
        last_name=member.last_name,
        company=member.company,
        status=member.status,
        is_deleted=member.is_deleted,
        last_modified=member.last_modified or stamp,
        system_modstamp=stamp,
    )


def _pages(
    rows: Iterator[SalesforceMember], size: int, skip: set[str]
) -> Iterator[list[StagedMember]]:
    page: list[StagedMember] = []
    for row in rows:
        if row.id in skip:
            continue
        page.append(_staged(row))
        if len(page) >= size:
            yield page
            page = []
    if page:
        yield page


def _first_read(link: links.Link) -> bool:
    """No inbound stage of this link has landed yet (its bookmark never moved)."""
    return not (link.initial_sync_done or link.inbound_mark is not None)


def plan_inbound(ctx: SyncContext, run_id: int) -> None:
    """Stage the changed Salesforce members chunk by chunk; resume where a crash left off."""
    with transaction(ctx.sessions) as session:
        opened = stages.start_planning(ctx, session, run_id, Stage.INBOUND)
        if opened is None:
            return
        view, run, pending = opened
        link = links.get_link(session, view.link_id)
        campaign_name = links.campaign_of(session, link).name
        # Removals matter once an earlier inbound stage has landed (the bookmark moved),
        # even if that run failed later and the initial sync is not done yet: members it
        # imported may have been removed in Salesforce since; and, of course, once the
        # initial sync is done (the bookmark stays unset while Salesforce had no member,
        # yet members pushed since can be removed there). The very first read leaves out
        # only removals from before the link, as Conversion's side does (a removal made
        # while the initial sync runs is a removal like any other).
        first_read = _first_read(link)
        deleted_since = link.linked_at if first_read else None
        since, signpost = query_window(link.inbound_mark, run.started_at, ctx.options.overlap)
        until: datetime | None = read_bound(signpost)
        # The first read is a whole read already: there is nothing to repair yet.
        full = run.full_compare and not first_read
        existing = runs.stage_chunks(session, run_id, Stage.INBOUND.value)
        planned = view.stage_planned
        skip: set[str] = set()
        resume_after: datetime | None = None
        if existing and run.inbound_max_stamp is not None:
            # Resume after the last staged row; rows sharing its stamp are de-duplicated.
            resume_after = run.inbound_max_stamp - _RESUME_SLACK
            skip = staging.member_ids_since(session, [c.id for c in existing], resume_after)
        next_number = max((c.number for c in existing), default=-1) + 1
    if planned:
        stages.resume_planned(ctx, run_id, Stage.INBOUND, pending)
        return
    if not _campaign_still_there(ctx, run_id, view.salesforce_campaign_id, campaign_name):
        return
    assert until is not None
    reach = ctx.salesforce.replication_window(until)
    # Removals older than the delete log's reach are gone from it: only a whole compare
    # finds them (drift repair, by itself). Decided before the first page is staged: a
    # resumed read carries on as it began.
    full = full or (not existing and not first_read and _missed_removals(since, reach))
    _record_reach(ctx, run_id, reach, full=full)
    # Drift repair reads every live member, whatever its stamp, and the removals the
    # incremental read would have seen: a member the bases hold that is in neither is
    # gone. A resumed read carries on after its last staged row.
    if full:
        deleted_since, since, until = since, None, None
    since = resume_after if resume_after is not None else since
    # Chunks are enqueued once the whole stage is staged (including those staged before a
    # crash): a chunk may only be applied when every row of its people is known. The very
    # first read goes faster: each chunk goes as soon as it is staged and is applied while
    # the next pages are read. Its only deleted rows are removals made since the link
    # (rare); a person removed and added again then reads as a deleted row followed by a
    # live one, and either order of applying them ends on the live value (a deletion
    # applied after it is superseded; before it, it is the base the live row changes).
    pipelined = first_read
    numbers = list(pending)
    window = _seen(
        ctx.salesforce.iter_members(
            view.salesforce_campaign_id,
            since=since,
            until=until,
            include_deleted=True,
            deleted_since=deleted_since,
        ),
        seen := set[str](),
    )
    rows = chain(window, _skips_to_judge_again(ctx, run_id, view.link_id, seen))
    for page in _pages(rows, ctx.options.inbound_chunk, skip):
        if not _stage_page(ctx, run_id, next_number, page):
            return  # a duplicate of this task is planning the stage: it carries on
        if pipelined:
            ctx.dispatch.inbound_chunk(run_id, next_number)
        else:
            numbers.append(next_number)
        next_number += 1
    vanished = (view.link_id, next_number, reach) if full else None
    if _finish_planning(ctx, run_id, vanished, numbers):
        for number in numbers:
            ctx.dispatch.inbound_chunk(run_id, number)
        stages.close_inbound(ctx, run_id)


def _finish_planning(
    ctx: SyncContext,
    run_id: int,
    vanished: tuple[int, int, ReplicationWindow] | None,
    numbers: list[int],
) -> bool:
    """Mark the stage planned (drift repair: after its chunk of vanished members, added
    to `numbers`); False when another planner of the stage got there first."""
    with transaction(ctx.sessions) as session:
        if vanished is not None:
            link_id, number, reach = vanished
            if not runs.may_add_chunk(session, run_id, Stage.INBOUND.value, number):
                return False
            _stage_vanished(ctx, session, run_id, link_id=link_id, number=number, reach=reach)
            numbers.append(number)
        # A person removed and re-added in Salesforce reads as a deleted and a live row;
        # applying the stale deletion (before the live row, or in another chunk) would
        # compare Conversion's value with a state Salesforce has since left.
        staging.drop_superseded_deletions(session, run_id, Stage.INBOUND.value)
        run_row = runs.get_run(session, run_id)
        if run_row is not None:
            run_row.stage_planned = True
    return True


def _seen(rows: Iterable[SalesforceMember], ids: set[str]) -> Iterator[SalesforceMember]:
    for row in rows:
        ids.add(row.id)
        yield row


def _skips_to_judge_again(
    ctx: SyncContext, run_id: int, link_id: int, seen: set[str]
) -> Iterator[SalesforceMember]:
    """After the window's rows: the members skipped before the link's mapping or policy
    last changed that the rules now import, read again by id (one query per 500).

    Run lazily, once the window is read: members the window brought are not read twice,
    nor those a planner that died staged already. Re-judged members are either imported
    or skipped again with a fresh record, so each is read again once per change. (A
    skipped member deleted in Salesforce loses its record when the window reads the
    deletion.)
    """
    with transaction(ctx.sessions) as session:
        link = links.get_link(session, link_id)
        if link.rules_changed_at is None:
            return
        rules = rules_store.link_rules(session, link)
        skipped = skips.skipped_before(session, link_id, link.rules_changed_at)
        if not skipped:
            return
        staged = staging.member_ids(session, run_id, Stage.INBOUND.value)
    ids = [
        sf_id
        for status, members in skipped.items()
        if status is not None and rules.inbound(status).status is not None
        for sf_id in members
        if sf_id not in seen and sf_id not in staged
    ]
    if ids:
        yield from ctx.salesforce.members_by_id(ids)


def _stage_page(ctx: SyncContext, run_id: int, number: int, page: list[StagedMember]) -> bool:
    """Stage one page as chunk `number`; False when another planner of the stage is ahead."""
    with transaction(ctx.sessions) as session:
        if not runs.may_add_chunk(session, run_id, Stage.INBOUND.value, number):
            return False
        chunk_id = runs.add_chunk(
            session,
            run_id,
            Stage.INBOUND.value,
            number,
            size=len(page),
            lease=stages.queued_lease(ctx),
        )
        staging.put(session, chunk_id, page)
        top = max(r.system_modstamp for r in page)
        run_row = runs.get_run(session, run_id)
        assert run_row is not None
        if run_row.inbound_max_stamp is None or top > run_row.inbound_max_stamp:
            run_row.inbound_max_stamp = top
        # The attempt limit is for a planner that keeps dying at the same point; one
        # that staged a page made progress (a resume starts after it), so this is
        # its first attempt from here. A read of 100,000 members survives any
        # number of worker kills, one page at a time.
        run_row.stage_attempts = 1
        runs.extend_lease(session, run_id, ctx.options.lease)
    return True


def _missed_removals(since: datetime | None, reach: ReplicationWindow) -> bool:
    """Whether the delete log no longer reaches back to the read's start (None: the
    beginning, as for a link whose Salesforce campaign was empty until the sync wrote)."""
    return since is None or since < reach.earliest_date_available


def _record_reach(ctx: SyncContext, run_id: int, reach: ReplicationWindow, *, full: bool) -> None:
    """Keep, on the run, whether it compares everything and its bookmark's ceiling."""
    with transaction(ctx.sessions) as session:
        run_row = runs.get_run(session, run_id)
        assert run_row is not None
        run_row.full_compare = full
        # The earliest answer wins: rows already staged were read under it.
        covered = run_row.inbound_covered
        if covered is None or reach.latest_date_covered < covered:
            run_row.inbound_covered = reach.latest_date_covered


def _stage_vanished(
    ctx: SyncContext,
    session: Session,
    run_id: int,
    *,
    link_id: int,
    number: int,
    reach: ReplicationWindow,
) -> None:
    """Drift repair's last chunk: a removal for each member the bases hold that the
    whole read did not find (its tombstone purged, or none: a merge), and the compare's
    size and API cost among the run's counts.

    A removal's time is unknown; it happened after the base was agreed, so the base's
    time stands for it: a Conversion change made since then wins the conflict (the
    member is kept), otherwise the removal comes into Conversion. A base recorded after
    what Salesforce says is all visible may be a write still in flight (not in an org,
    where a call's own writes are visible when it returns, but under the emulator's
    `commit-delay`): the next compare judges it.
    """
    seen = staging.salesforce_ids(session, run_id, Stage.INBOUND.value)
    settled_before = reach.latest_date_covered
    vanished = [
        StagedMember(
            salesforce_member_id=known.salesforce_member_id,
            lead_id=known.lead_id,
            contact_id=known.contact_id,
            email=known.email,
            first_name=None,
            last_name=None,
            company=None,
            status=known.status,
            is_deleted=True,
            last_modified=known.synced_at,
            system_modstamp=known.synced_at,
        )
        for known in bases.known_salesforce_members(session, link_id)
        if known.synced_at < settled_before
        and not {known.salesforce_member_id, known.lead_id, known.contact_id} & seen
    ]
    live = staging.count(session, run_id, Stage.INBOUND.value)
    chunk_id = runs.add_chunk(
        session,
        run_id,
        Stage.INBOUND.value,
        number,
        size=len(vanished),
        lease=stages.queued_lease(ctx),
        # One query page per 2,000 members (at least one) and the delete log's reach.
        counts={
            "full_compare_members": live,
            "full_compare_api_calls": max(1, -(-live // PAGE_SIZE)) + 1,
        },
    )
    staging.put(session, chunk_id, vanished)


def _campaign_still_there(
    ctx: SyncContext, run_id: int, salesforce_campaign_id: str, campaign_name: str
) -> bool:
    """False (and the run failed, saying why) when the linked campaign is gone.

    A failed run, not a failed task: no retry can bring the campaign back, and a dead
    letter per scheduled tick would bury the letters that matter.
    """
    gone = _salesforce_campaign_gone(ctx, salesforce_campaign_id, campaign_name)
    if gone is not None:
        stages.fail_run(ctx, run_id, gone)
    return gone is None


def _salesforce_campaign_gone(
    ctx: SyncContext, salesforce_campaign_id: str, campaign_name: str
) -> str | None:
    """Why the run must stop, if the linked Salesforce campaign was deleted or cannot be
    seen (one query a run); None while it is there.

    A deleted campaign takes its members with it, and `queryAll` then reads each of them
    as a removal: without this check the run would remove every Conversion member. The
    scheduler keeps trying each tick, so a campaign restored from the Recycle Bin syncs
    again by itself.
    """
    try:
        ctx.salesforce.get_campaign(salesforce_campaign_id)
    except NotFoundError:
        return (
            f"Salesforce campaign {salesforce_campaign_id} linked to {campaign_name!r} was "
            "deleted or is not visible to the integration user; nothing was removed: restore "
            f"it from the Recycle Bin, or `convsync unlink {shlex.quote(campaign_name)}`"
        )
    return None


def _as_read(row: StagedMember) -> MemberValue:
    """Salesforce's value as Salesforce holds it (its label, untranslated), for people."""
    if row.is_deleted:
        return MemberValue(None, row.system_modstamp)
    return MemberValue(row.status, row.last_modified)


def _salesforce_value(row: StagedMember, status: str | None) -> MemberValue:
    """Salesforce's value in Conversion's language (`status`: the row's, translated)."""
    read = _as_read(row)
    return read if row.is_deleted else MemberValue(status, read.updated_at)


def _conversion_value(
    local: LocalMember | None, base: MemberBase | None, linked_at: datetime
) -> MemberValue:
    if local is None:
        return ABSENT
    if (
        local.removed
        and base is None
        and (local.updated_at is None or local.updated_at < linked_at)
    ):
        # Removed before the campaign was linked: not "on this side" for a first sync.
        # A removal made since (while the initial sync runs) is a tombstone like any other.
        return ABSENT
    return MemberValue(local.status, local.updated_at)


def _agreed_status(base: MemberBase | None) -> str | None:
    return base.status if base is not None and base.synced else None


def _base_value(base: MemberBase | None) -> MemberValue | None:
    if base is None or not base.synced:
        return None
    return MemberValue(base.status)


def _resolve_people(
    session: Session, rows: Sequence[StagedMember]
) -> tuple[dict[str, int], list[StagedMember]]:
    """Salesforce member id → person id: by Lead/Contact id, then email, else a new person.

    A person found by email takes the row's Lead/Contact ids (a Lead converted or merged
    since shows its Contact or master there). Rows without a usable email are returned
    separately (they are skipped).
    """
    by_sf = people.people_by_salesforce_id(
        session, [i for r in rows for i in (r.lead_id, r.contact_id) if i]
    )
    resolved: dict[str, int] = {}
    need_email: list[tuple[StagedMember, str]] = []
    unusable: list[StagedMember] = []
    for row in rows:
        # The member's person is its Contact when it has one: after a conversion the
        # Lead id stays on the row, but the person is the Contact now.
        person = by_sf.get(row.contact_id or row.lead_id or "")
        if person is not None:
            resolved[row.salesforce_member_id] = person
            continue
        try:
            need_email.append((row, normalize_email(row.email or "")))
        except ValidationError:
            unusable.append(row)
    if need_email:
        # The Lead/Contact ids go in with the person (one write, not an insert then an
        # update of the same rows); the lowest id wins when several rows share an email.
        by_email: dict[str, PersonInput] = {}
        for row, email in need_email:
            seen = by_email.get(email)
            lead = None if row.contact_id else row.lead_id
            by_email[email] = PersonInput(
                email,
                row.first_name,
                row.last_name,
                row.company,
                _lowest(seen.salesforce_lead_id if seen else None, lead),
                _lowest(seen.salesforce_contact_id if seen else None, row.contact_id),
            )
        ids = catalog.upsert_people(session, list(by_email.values()))
        for row, email in need_email:
            resolved[row.salesforce_member_id] = ids[email]
    return resolved, unusable


def _lowest(a: str | None, b: str | None) -> str | None:
    return min(a, b) if a and b else a or b


def _superseded(row: StagedMember, base: MemberBase | None) -> bool:
    """A deleted CampaignMember that is no longer the person's member in Salesforce.

    When the sync re-inserts a member deleted in Salesforce (or a user adds the person
    again), the base moves to the new member's id; the old deletion, read again by the
    next run's overlap, is old news about a record that was replaced, not a removal.
    """
    return (
        base is not None
        and base.salesforce_member_id is not None
        and base.salesforce_member_id != row.salesforce_member_id
    )


def _left_by_a_move(
    session: Session,
    link_id: int,
    rows: Sequence[StagedMember],
    persons: dict[str, int],
    known: dict[int, MemberBase],
) -> dict[str, int]:
    """Salesforce member id → the person it belonged to, for members that now belong to
    someone else: a merge reparented the loser's member to the master, or a conversion
    into an existing Contact made the member that Contact's.

    For that person the member is gone from the campaign, as if deleted when it moved
    (its SystemModstamp), and the conflict rule treats it so; the person it moved to
    gets the member like any member read. Only rows whose person does not hold the
    member already are looked up (members new to the campaign, and those that moved).
    """
    unexplained = []
    for row in rows:
        person = persons.get(row.salesforce_member_id)
        if row.is_deleted or person is None:
            continue
        base = known.get(person)
        if base is None or base.salesforce_member_id != row.salesforce_member_id:
            unexplained.append(row.salesforce_member_id)
    if not unexplained:
        return {}
    holders = bases.holders_of_members(session, link_id, unexplained)
    return {sf_id: holder for sf_id, holder in holders.items() if holder != persons[sf_id]}


@dataclass
class _Chunk:
    """The decisions for one staged page, gathered per person, written in one commit."""

    rules: StatusRules
    local: dict[int, LocalMember]
    known: dict[int, MemberBase]
    linked_at: datetime
    writes: dict[int, tuple[int, str | None, datetime]] = field(default_factory=dict)
    bases: dict[int, NewBase] = field(default_factory=dict)
    skips: list[tuple[str, str | None, str | None, str]] = field(default_factory=list)
    imported_ids: list[str] = field(default_factory=list)
    as_default: list[str] = field(default_factory=list)  # Salesforce member ids
    decisions: list[tuple[int, Decision]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def skip(self, row: StagedMember, reason: str) -> None:
        self.skips.append((row.salesforce_member_id, row.email, row.status, reason))
        self.counts["skipped"] += 1

    def _base(self, person: int) -> MemberBase | None:
        pending = self.bases.get(person)
        if pending is None:
            return self.known.get(person)
        return MemberBase(pending.synced, pending.status, pending.salesforce_member_id)

    def decide(self, row: StagedMember, person: int) -> None:
        status = None
        as_default_of = None  # the Salesforce label imported with the type's default
        if not row.is_deleted:
            decision = self.rules.inbound(row.status or "")
            if decision.status is None:
                reason = decision.reason or f"status {row.status!r} is not accepted"
                self.skip(row, reason)
                self.decisions.append(
                    (
                        person,
                        Decision(
                            Stage.INBOUND,
                            DecisionKind.SKIPPED,
                            reason,
                            salesforce=_as_read(row),
                            base=_agreed_status(self._base(person)),
                        ),
                    )
                )
                return
            status = decision.status
            if decision.as_default:
                self.as_default.append(row.salesforce_member_id)
                as_default_of = row.status
        self.imported_ids.append(row.salesforce_member_id)
        base = self._base(person)
        if row.is_deleted and _superseded(row, base):
            return
        salesforce = _salesforce_value(row, status)
        # Salesforce showing a push that was never recorded: the sync's own write, so it
        # is the base (and is recorded as such below, whatever the verdict).
        own_write = landed(base.pushing if base else None, salesforce)
        conversion = _conversion_value(self.local.get(person), base, self.linked_at)
        judged_base = MemberValue(salesforce.status) if own_write else _base_value(base)
        verdict = resolve(conversion, salesforce, judged_base)
        explained = inbound_decision(
            verdict,
            conversion,
            _as_read(row),
            judged_base,
            as_default_of=as_default_of,
        )
        if explained is not None:
            self.decisions.append((person, explained))
        if verdict.conflict and verdict.winner is not None:
            self.counts[f"conflicts_won_by_{verdict.winner.value}"] += 1
        sf_member = None if row.is_deleted else row.salesforce_member_id
        agreed = verdict.value
        if verdict.action is Action.WRITE_CONVERSION:
            at = agreed.updated_at or row.last_modified
            self.counts["imported" if salesforce.present else "removed_in_conversion"] += 1
            self.writes[person] = (person, agreed.status, at)
            self.local[person] = LocalMember(None, person, agreed.status, at, agreed.status is None)
            self.bases[person] = NewBase(person, True, agreed.status, sf_member)
        elif verdict.action is Action.RECORD_BASE:
            self.bases[person] = NewBase(person, True, agreed.status, sf_member)
        elif own_write:
            self.bases[person] = NewBase(person, True, salesforce.status, sf_member)
        elif base is None or base.salesforce_member_id != sf_member:
            # Nothing to import (or Conversion wins and the outbound stage pushes it):
            # remember where the member lives in Salesforce, keep the agreed value.
            synced = base.synced if base else False
            self.bases[person] = NewBase(person, synced, base.status if base else None, sf_member)


def apply_inbound_chunk(
    ctx: SyncContext, run_id: int, number: int, token: str | None = None
) -> None:
    """Apply one staged page: verdicts, bases, skips and the done-marker in one commit."""
    claim = stages.claim(ctx, run_id, Stage.INBOUND, number, token)
    if claim is None:
        return
    with transaction(ctx.sessions) as session:
        view = stages.load_open_run(session, run_id, Stage.INBOUND)
        if view is None:
            return
        link = links.get_link(session, view.link_id)
        campaign = links.campaign_of(session, link)
        rows = staging.rows_of(session, claim.chunk_id)
        persons, unusable = _resolve_people(session, rows)
        known = bases.bases(session, view.link_id, persons.values())
        # Before the first read lands no member is anybody's yet, so none can have
        # moved: the lookup (~15 ms per 1,000 members at 100,000) is saved there.
        left = (
            {}
            if _first_read(link)
            else _left_by_a_move(session, view.link_id, rows, persons, known)
        )
        involved = {*persons.values(), *left.values()}
        chunk = _Chunk(
            rules=rules_store.link_rules(session, link),
            local=members.lock_members(session, campaign.id, involved),
            known={**known, **bases.bases(session, view.link_id, left.values())},
            linked_at=link.linked_at,
        )
        for row in unusable:
            if not row.is_deleted:
                chunk.skip(row, "the Lead/Contact has no valid email")
        for row in rows:
            person = persons.get(row.salesforce_member_id)
            if person is None:
                continue
            previous = left.get(row.salesforce_member_id)
            if previous is not None:
                chunk.decide(replace(row, is_deleted=True), previous)
            chunk.decide(row, person)
        members.write_members(session, campaign.id, campaign.type_id, list(chunk.writes.values()))
        bases.write_bases(session, view.link_id, list(chunk.bases.values()))
        skips.clear_skips(session, view.link_id, chunk.imported_ids)
        skips.record_skips(session, view.link_id, run_id, chunk.skips)
        decisions.record(session, view.link_id, run_id, chunk.decisions)
        chunk.counts["read"] = len(rows)
        if chunk.as_default:
            chunk.counts["as_default"] = len(chunk.as_default)
        stages.complete(session, claim, dict(chunk.counts))
        staging.drop(session, [claim.chunk_id])
    ctx.observer.chunk_applied(Stage.INBOUND, chunk.counts)
    if chunk.as_default:
        log.warning(
            "members imported with the type's default status",
            count=len(chunk.as_default),
            salesforce_member_ids=chunk.as_default[:LOGGED_MEMBER_IDS],
            policy="inbound-unknown=default",
        )
    stages.close_inbound(ctx, run_id)
