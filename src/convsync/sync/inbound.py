"""The inbound stage: Salesforce → Conversion.

The stage task pages the Salesforce campaign's members changed since the bookmark
(capped at the run's start), stages each page as a chunk in PostgreSQL and, once every
page is staged, enqueues a chunk task per page. A chunk task applies the conflict rule
to each member and writes the verdicts, the new bases and the chunk's done-marker in one
transaction.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from itertools import chain

import structlog

from convsync.domain.errors import NotFoundError
from convsync.domain.model import Stage
from convsync.domain.watermark import query_window, read_bound
from convsync.salesforce.records import ReplicationWindow, SalesforceMember
from convsync.salesforce.streams import PAGE_SIZE
from convsync.store import bases, links, runs, skips, staging
from convsync.store import status_rules as rules_store
from convsync.store.db import Session, transaction
from convsync.store.staging import StagedMember
from convsync.sync import stages
from convsync.sync.context import SyncContext
from convsync.sync.inbound_chunks import apply_inbound_chunk, is_first_read

__all__ = [
    "apply_inbound_chunk",
    "campaign_gone_reason",
    "finish_planning",
    "missed_removals",
    "pages",
    "plan_inbound",
    "read_window",
    "record_reach",
    "skips_to_judge_again",
    "stage_page",
]

_RESUME_SLACK = timedelta(milliseconds=1)

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


def pages(
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


def read_window(
    link: links.Link, run: runs.Run, overlap: timedelta
) -> tuple[datetime | None, datetime]:
    """The run's incremental read, `(since, until]`: from the bookmark less the overlap
    (None: from the beginning) to the run's start rounded up to a whole second."""
    since, signpost = query_window(link.inbound_mark, run.started_at, overlap)
    return since, read_bound(signpost)


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
        first_read = is_first_read(link)
        deleted_since = link.linked_at if first_read else None
        since, bound = read_window(link, run, ctx.options.overlap)
        until: datetime | None = bound
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
    full = full or (not existing and not first_read and missed_removals(since, reach))
    record_reach(ctx, run_id, reach, full=full)
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
    rows = chain(window, skips_to_judge_again(ctx, run_id, view.link_id, seen))
    for page in pages(rows, ctx.options.inbound_chunk, skip):
        if not stage_page(ctx, run_id, next_number, page):
            return  # a duplicate of this task is planning the stage: it carries on
        if pipelined:
            ctx.dispatch.inbound_chunk(run_id, next_number)
        else:
            numbers.append(next_number)
        next_number += 1
    vanished = (view.link_id, next_number, reach) if full else None
    if finish_planning(ctx, run_id, vanished, numbers):
        for number in numbers:
            ctx.dispatch.inbound_chunk(run_id, number)
        stages.close_inbound(ctx, run_id)


def finish_planning(
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


def skips_to_judge_again(
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


def stage_page(ctx: SyncContext, run_id: int, number: int, page: list[StagedMember]) -> bool:
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


def missed_removals(since: datetime | None, reach: ReplicationWindow) -> bool:
    """Whether the delete log no longer reaches back to the read's start (None: the
    beginning, as for a link whose Salesforce campaign was empty until the sync wrote)."""
    return since is None or since < reach.earliest_date_available


def record_reach(ctx: SyncContext, run_id: int, reach: ReplicationWindow, *, full: bool) -> None:
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
        return campaign_gone_reason(salesforce_campaign_id, campaign_name)
    return None


def campaign_gone_reason(salesforce_campaign_id: str, campaign_name: str) -> str:
    """What a run whose linked Salesforce campaign is gone fails with."""
    return (
        f"Salesforce campaign {salesforce_campaign_id} linked to {campaign_name!r} was "
        "deleted or is not visible to the integration user; nothing was removed: restore "
        f"it from the Recycle Bin, or `convsync unlink {shlex.quote(campaign_name)}`"
    )
