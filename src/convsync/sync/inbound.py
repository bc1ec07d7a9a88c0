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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from convsync.domain.conflict import Action, landed, resolve
from convsync.domain.errors import NotFoundError, ValidationError
from convsync.domain.model import ABSENT, MemberValue, Stage, normalize_email
from convsync.domain.watermark import query_window, read_bound
from convsync.salesforce.records import SalesforceMember
from convsync.store import catalog, links, member_sync, runs
from convsync.store.catalog import PersonInput
from convsync.store.db import transaction
from convsync.store.member_sync import Base, LocalMember, StagedMember
from convsync.store.tables import ChunkRow, RunRow
from convsync.sync import stages
from convsync.sync.context import SyncContext

_RESUME_SLACK = timedelta(milliseconds=1)


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
        first_read = not (link.initial_sync_done or link.inbound_mark is not None)
        deleted_since = link.linked_at if first_read else None
        since, signpost = query_window(link.inbound_mark, run.started_at, ctx.options.overlap)
        until = read_bound(signpost)
        existing = session.execute(
            select(ChunkRow.id, ChunkRow.number).where(
                ChunkRow.run_id == run_id, ChunkRow.stage == Stage.INBOUND.value
            )
        ).all()
        planned = view.stage_planned
        skip: set[str] = set()
        if existing and run.inbound_max_stamp is not None:
            # Resume after the last staged row; rows sharing its stamp are de-duplicated.
            since = run.inbound_max_stamp - _RESUME_SLACK
            skip = member_sync.staged_since(session, [c.id for c in existing], since)
        next_number = max((c.number for c in existing), default=-1) + 1
    if planned:
        stages.resume_planned(ctx, run_id, Stage.INBOUND, pending)
        return
    gone = _salesforce_campaign_gone(ctx, view.salesforce_campaign_id, campaign_name)
    if gone is not None:
        # A failed run, not a failed task: no retry can bring the campaign back, and a
        # dead letter per scheduled tick would bury the letters that matter.
        stages.fail_run(ctx, run_id, gone)
        return
    # Chunks are enqueued once the whole stage is staged (including those staged before a
    # crash): a chunk may only be applied when every row of its people is known. The very
    # first read goes faster: each chunk goes as soon as it is staged and is applied while
    # the next pages are read. Its only deleted rows are removals made since the link
    # (rare); a person removed and added again then reads as a deleted row followed by a
    # live one, and either order of applying them ends on the live value (a deletion
    # applied after it is superseded; before it, it is the base the live row changes).
    pipelined = first_read
    numbers = list(pending)
    rows = ctx.salesforce.iter_members(
        view.salesforce_campaign_id,
        since=since,
        until=until,
        include_deleted=True,
        deleted_since=deleted_since,
    )
    for page in _pages(rows, ctx.options.inbound_chunk, skip):
        with transaction(ctx.sessions) as session:
            if not runs.may_add_chunk(session, run_id, Stage.INBOUND.value, next_number):
                return  # a duplicate of this task is planning the stage: it carries on
            chunk_id = runs.add_chunk(
                session,
                run_id,
                Stage.INBOUND.value,
                next_number,
                size=len(page),
                lease=stages.queued_lease(ctx),
            )
            member_sync.stage(session, chunk_id, page)
            top = max(r.system_modstamp for r in page)
            run_row = session.get(RunRow, run_id)
            assert run_row is not None
            if run_row.inbound_max_stamp is None or top > run_row.inbound_max_stamp:
                run_row.inbound_max_stamp = top
            # The attempt limit is for a planner that keeps dying at the same point; one
            # that staged a page made progress (a resume starts after it), so this is
            # its first attempt from here. A read of 100,000 members survives any
            # number of worker kills, one page at a time.
            run_row.stage_attempts = 1
            runs.extend_lease(session, run_id, ctx.options.lease)
        if pipelined:
            ctx.dispatch.inbound_chunk(run_id, next_number)
        else:
            numbers.append(next_number)
        next_number += 1
    with transaction(ctx.sessions) as session:
        # A person removed and re-added in Salesforce reads as a deleted and a live row;
        # applying the stale deletion (before the live row, or in another chunk) would
        # compare Conversion's value with a state Salesforce has since left.
        member_sync.drop_superseded_deletions(session, run_id, Stage.INBOUND.value)
        run_row = session.get(RunRow, run_id)
        if run_row is not None:
            run_row.stage_planned = True
    for number in numbers:
        ctx.dispatch.inbound_chunk(run_id, number)
    stages.close_inbound(ctx, run_id)


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


def _salesforce_value(row: StagedMember) -> MemberValue:
    if row.is_deleted:
        return MemberValue(None, row.system_modstamp)
    return MemberValue(row.status, row.last_modified)


def _conversion_value(
    local: LocalMember | None, base: Base | None, linked_at: datetime
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


def _base_value(base: Base | None) -> MemberValue | None:
    if base is None or not base.synced:
        return None
    return MemberValue(base.status)


def _resolve_people(
    session: Session, rows: Sequence[StagedMember]
) -> tuple[dict[str, int], list[StagedMember]]:
    """Salesforce member id → person id: by Lead/Contact id, then email, else a new person.

    Rows without a usable email are returned separately (they are skipped).
    """
    by_sf = member_sync.people_by_salesforce_id(
        session, [i for r in rows for i in (r.lead_id, r.contact_id) if i]
    )
    resolved: dict[str, int] = {}
    need_email: list[tuple[StagedMember, str]] = []
    unusable: list[StagedMember] = []
    for row in rows:
        person = by_sf.get(row.contact_id or "") or by_sf.get(row.lead_id or "")
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
        people: dict[str, PersonInput] = {}
        for row, email in need_email:
            seen = people.get(email)
            lead = None if row.contact_id else row.lead_id
            people[email] = PersonInput(
                email,
                row.first_name,
                row.last_name,
                row.company,
                _lowest(seen.salesforce_lead_id if seen else None, lead),
                _lowest(seen.salesforce_contact_id if seen else None, row.contact_id),
            )
        ids = catalog.upsert_people(session, list(people.values()))
        for row, email in need_email:
            resolved[row.salesforce_member_id] = ids[email]
    return resolved, unusable


def _lowest(a: str | None, b: str | None) -> str | None:
    return min(a, b) if a and b else a or b


def _superseded(row: StagedMember, base: Base | None) -> bool:
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


@dataclass
class _Chunk:
    """The decisions for one staged page, gathered per person, written in one commit."""

    allowed: frozenset[str]
    local: dict[int, LocalMember]
    known: dict[int, Base]
    linked_at: datetime
    writes: dict[int, tuple[int, str | None, datetime]] = field(default_factory=dict)
    bases: dict[int, tuple[int, bool, str | None, str | None]] = field(default_factory=dict)
    skips: list[tuple[str, str | None, str | None, str]] = field(default_factory=list)
    imported_ids: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def skip(self, row: StagedMember, reason: str) -> None:
        self.skips.append((row.salesforce_member_id, row.email, row.status, reason))
        self.counts["skipped"] += 1

    def _base(self, person: int) -> Base | None:
        pending = self.bases.get(person)
        return Base(pending[1], pending[2], pending[3]) if pending else self.known.get(person)

    def decide(self, row: StagedMember, person: int) -> None:
        if not row.is_deleted and row.status not in self.allowed:
            self.skip(row, f"status {row.status!r} is not in the campaign type")
            return
        self.imported_ids.append(row.salesforce_member_id)
        base = self._base(person)
        if row.is_deleted and _superseded(row, base):
            return
        salesforce = _salesforce_value(row)
        # Salesforce showing a push that was never recorded: the sync's own write, so it
        # is the base (and is recorded as such below, whatever the verdict).
        own_write = landed(base.pushing if base else None, salesforce)
        verdict = resolve(
            _conversion_value(self.local.get(person), base, self.linked_at),
            salesforce,
            MemberValue(salesforce.status) if own_write else _base_value(base),
        )
        if verdict.conflict and verdict.winner is not None:
            self.counts[f"conflicts_won_by_{verdict.winner.value}"] += 1
        sf_member = None if row.is_deleted else row.salesforce_member_id
        agreed = verdict.value
        if verdict.action is Action.WRITE_CONVERSION:
            at = agreed.updated_at or row.last_modified
            self.counts["imported" if salesforce.present else "removed_in_conversion"] += 1
            self.writes[person] = (person, agreed.status, at)
            self.local[person] = LocalMember(None, person, agreed.status, at, agreed.status is None)
            self.bases[person] = (person, True, agreed.status, sf_member)
        elif verdict.action is Action.RECORD_BASE:
            self.bases[person] = (person, True, agreed.status, sf_member)
        elif own_write:
            self.bases[person] = (person, True, salesforce.status, sf_member)
        elif base is None or base.salesforce_member_id != sf_member:
            # Nothing to import (or Conversion wins and the outbound stage pushes it):
            # remember where the member lives in Salesforce, keep the agreed value.
            synced = base.synced if base else False
            self.bases[person] = (person, synced, base.status if base else None, sf_member)


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
        rows = member_sync.staged(session, claim.chunk_id)
        persons, unusable = _resolve_people(session, rows)
        chunk = _Chunk(
            allowed=catalog.type_of_campaign(session, campaign.id).labels,
            local=member_sync.lock_members(session, campaign.id, persons.values()),
            known=member_sync.bases(session, view.link_id, persons.values()),
            linked_at=link.linked_at,
        )
        for row in unusable:
            if not row.is_deleted:
                chunk.skip(row, "the Lead/Contact has no valid email")
        for row in rows:
            person = persons.get(row.salesforce_member_id)
            if person is not None:
                chunk.decide(row, person)
        member_sync.write_members(
            session, campaign.id, campaign.type_id, list(chunk.writes.values())
        )
        member_sync.write_bases(session, view.link_id, list(chunk.bases.values()))
        member_sync.clear_skips(session, view.link_id, chunk.imported_ids)
        member_sync.record_skips(session, view.link_id, run_id, chunk.skips)
        chunk.counts["read"] = len(rows)
        stages.complete(session, claim, dict(chunk.counts))
        member_sync.drop_staged(session, [claim.chunk_id])
    ctx.observer.chunk_applied(Stage.INBOUND, chunk.counts)
    stages.close_inbound(ctx, run_id)
