"""The outbound stage: Conversion → Salesforce.

The stage task reads the Salesforce campaign's statuses once, then splits the members
whose Conversion value differs from the base into id-range chunks. A chunk task checks
every status *before* writing (a status the campaign lacks is dead-lettered, costing no
API call), resolves people to Contacts or Leads in batches, and writes members with
collection calls of 200 (Bulk API 2.0 past the configured threshold).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog

from convsync.domain.errors import SalesforceError, TransientSalesforceError
from convsync.domain.model import MemberStatus, Stage
from convsync.domain.status_rules import (
    OutboundAction,
    OutboundUnknown,
    StatusRules,
    statuses_to_create,
)
from convsync.store import (
    bases,
    dead_letters,
    links,
    pending_pushes,
    runs,
)
from convsync.store import status_rules as rules_store
from convsync.store.bases import StartedPush
from convsync.store.db import transaction, utcnow
from convsync.store.pending_pushes import PushCandidate
from convsync.sync import read_ahead, stages, update_pool
from convsync.sync.context import SyncContext, SyncOptions
from convsync.sync.outbound_writes import (
    NO_SALESFORCE_PERSON,
    STATUS_NOT_ON_CAMPAIGN,
    Outcome,
    delete_members,
    insert_members,
    recheck_unfinished,
    reconcile_duplicates,
    record_outcome,
    update_members,
)

__all__ = ["NO_SALESFORCE_PERSON", "STATUS_NOT_ON_CAMPAIGN", "plan_outbound", "push_outbound_chunk"]

# A Bulk API 2.0 job costs ~7 API calls (create, upload, close, poll, poll, results x2):
# fewer records than 7 collection calls carry are cheaper without it.
BULK_MIN_RECORDS = 7 * 200

log = structlog.get_logger(__name__)


def plan_outbound(ctx: SyncContext, run_id: int) -> None:
    with transaction(ctx.sessions) as session:
        opened = stages.start_planning(ctx, session, run_id, Stage.OUTBOUND)
        if opened is None:
            return
        view, _, pending = opened
    if view.stage_planned:
        stages.resume_planned(ctx, run_id, Stage.OUTBOUND, pending)
        return
    # A stage with nothing to push (most runs after a Salesforce-only change, and every
    # run that reads back the sync's own writes) spends no call on the statuses.
    with transaction(ctx.sessions) as session:
        anything = pending_pushes.has_push_candidates(session, view.link_id, view.campaign_id)
    labels = _statuses_to_check(ctx, view) if anything else None
    try:
        numbers = _plan_chunks(ctx, run_id, view, labels)
    except _StatusesNotReadError:
        # Members to push appeared after the look (an edit meanwhile): read the statuses.
        numbers = _plan_chunks(ctx, run_id, view, _statuses_to_check(ctx, view))
    if numbers is None:
        return  # a duplicate of this task planned the stage meanwhile: it goes on
    for number in numbers:
        ctx.dispatch.outbound_chunk(run_id, number)
    stages.close_outbound(ctx, run_id)


class _StatusesNotReadError(Exception):
    """Planning found members to push without the statuses read: nothing was written."""


@dataclass(frozen=True, slots=True)
class _CheckedStatuses:
    """The labels every member of the stage is checked against, as read at `read_at`."""

    labels: list[str]
    read_at: datetime


def _statuses_to_check(ctx: SyncContext, view: stages.RunView) -> _CheckedStatuses:
    """The campaign's statuses: those the tick read ahead for the run while fresh, else
    read now (one API call); plus one call per status the `create` policy adds."""
    kept = read_ahead.statuses_for(ctx, view.run_id)
    if kept is not None:
        existing, read_at = kept
    else:
        read_at = utcnow()
        existing = [s for _, s in ctx.salesforce.campaign_statuses(view.salesforce_campaign_id)]
    created = _create_missing_statuses(ctx, view, existing)
    return _CheckedStatuses(sorted({s.label for s in (*existing, *created)}), read_at)


def _plan_chunks(
    ctx: SyncContext, run_id: int, view: stages.RunView, labels: _CheckedStatuses | None
) -> list[int] | None:
    """Add the stage's chunks and mark it planned, in one transaction; the chunk numbers
    (None when a duplicate of this task planned it first). `labels` None: the statuses
    were not read, so members to push raise `_StatusesNotReadError` and nothing is written."""
    with transaction(ctx.sessions) as session:
        if not runs.may_add_chunk(session, run_id, Stage.OUTBOUND.value, 0):
            return None
        run = runs.get_run(session, run_id)
        assert run is not None
        # First: every edit up to this count is then visible to the read below.
        run.edit_count = links.edits_planned(session, view.link_id)
        ids = pending_pushes.push_candidate_ids(session, view.link_id, view.campaign_id)
        if ids and labels is None:
            raise _StatusesNotReadError
        dead_letters.resolve_settled_dead_letters(session, view.link_id, view.campaign_id)
        size = outbound_chunk_size(len(ids), ctx.options)
        numbers = []
        for number, start in enumerate(range(0, len(ids), size)):
            piece = ids[start : start + size]
            runs.add_chunk(
                session,
                run_id,
                Stage.OUTBOUND.value,
                number,
                size=len(piece),
                lease=stages.queued_lease(ctx),
                lo=piece[0],
                hi=piece[-1],
            )
            numbers.append(number)
        run.stage_planned = True
        if labels is not None:
            run.salesforce_statuses = labels.labels
            # A status added in Salesforce after the read is newer than the mark, so a
            # member dead-lettered for lacking it is tried again (sync.schedule).
            runs.mark_links(session, view.link_id, status_mark=labels.read_at)
    return numbers


def _create_missing_statuses(
    ctx: SyncContext, view: stages.RunView, existing: Sequence[MemberStatus]
) -> tuple[MemberStatus, ...]:
    """Under the `create` policy, add the labels this stage's members need and the
    Salesforce campaign lacks (one call each); under `dead-letter`, nothing."""
    with transaction(ctx.sessions) as session:
        rules = rules_store.link_rules(session, links.get_link(session, view.link_id))
        if rules.policy.outbound_unknown is not OutboundUnknown.CREATE:
            return ()
        needed = pending_pushes.push_candidate_statuses(session, view.link_id, view.campaign_id)
    missing = statuses_to_create(rules, needed, existing)
    for status in missing:
        try:
            ctx.salesforce.create_status(view.salesforce_campaign_id, status)
        except SalesforceError as error:
            if error.code != "DUPLICATE_VALUE":
                raise
            continue  # a duplicate of this planner (or a user) added it meanwhile
        log.warning("member status created in Salesforce", label=status.label)
    return missing


def outbound_chunk_size(candidates: int, options: SyncOptions) -> int:
    """Members per chunk. A stage with at least `bulk_threshold` members to push goes
    through Bulk API 2.0, in chunks of at least `max(bulk_threshold, bulk_chunk)`; a
    smaller one uses collections of 200, in chunks of `outbound_chunk`.

    So a chunk of at least `bulk_threshold` members is exactly a chunk of a bulk stage
    (`bulk_from`), and a redelivered chunk takes the path its stage was planned with.
    """
    if candidates < options.bulk_threshold:
        return options.outbound_chunk
    pieces = max(1, candidates // max(options.bulk_threshold, options.bulk_chunk))
    return -(-candidates // pieces)


def bulk_from(claim: runs.ChunkClaim, options: SyncOptions) -> int | None:
    """For a chunk of a bulk stage, the fewest records worth a Bulk API job; else None.

    A job costs ~7 calls, so a write smaller than `BULK_MIN_RECORDS` goes in collections
    even in a bulk stage, unless the threshold was set lower still.
    """
    if claim.size < options.bulk_threshold:
        return None
    return min(options.bulk_threshold, BULK_MIN_RECORDS)


def _sort(
    members: Sequence[PushCandidate],
    on_campaign: set[str],
    campaign: str,
    out: Outcome,
    rules: StatusRules,
) -> tuple[list[PushCandidate], list[tuple[PushCandidate, str]], list[PushCandidate]]:
    """Inserts, updates (with the member's Salesforce id) and deletes; a status the
    campaign lacks (under the link's mapping) is dead-lettered and a removal Salesforce
    never saw settled, here."""
    inserts: list[PushCandidate] = []
    updates: list[tuple[PushCandidate, str]] = []
    deletes: list[PushCandidate] = []
    for member in members:
        if member.status is None:
            if member.salesforce_member_id:
                deletes.append(member)
            else:
                out.synced(member, None)  # never reached Salesforce: nothing to remove
        elif (decision := rules.outbound(member.status, on_campaign)).action is not (
            OutboundAction.WRITE
        ):
            # Under the `create` policy the stage created every label its members needed;
            # a status changed to since then waits here for the next run like any other.
            known_as = "" if decision.label == member.status else f" (as {decision.label!r})"
            out.dead_letter(
                member,
                STATUS_NOT_ON_CAMPAIGN,
                f"status {member.status!r}{known_as} does not exist on Salesforce campaign "
                f"{campaign}; add it there (or map the status), then replay",
            )
        elif member.salesforce_member_id:
            updates.append((member, member.salesforce_member_id))
        else:
            inserts.append(member)
    return inserts, updates, deletes


def push_outbound_chunk(
    ctx: SyncContext, run_id: int, number: int, token: str | None = None
) -> None:
    claim = stages.claim(ctx, run_id, Stage.OUTBOUND, number, token)
    if claim is None:
        return
    with transaction(ctx.sessions) as session:
        view = stages.load_open_run(session, run_id, Stage.OUTBOUND)
        if view is None:
            return
        run = runs.get_run(session, run_id)
        assert run is not None
        assert claim.member_id_lo is not None
        on_campaign = set(run.salesforce_statuses or [])
        started_at = run.started_at
        rules = rules_store.link_rules(session, links.get_link(session, view.link_id))
        members = pending_pushes.push_candidates(
            session, view.link_id, view.campaign_id, claim.member_id_lo, claim.member_id_hi or 0
        )
        out = Outcome()
        inserts, updates, deletes = _sort(
            members, on_campaign, view.salesforce_campaign_id, out, rules
        )
        # Committed before any write: see bases.mark_pushing.
        bases.mark_pushing(
            session,
            view.link_id,
            [
                StartedPush(m.person_id, m.status, m.salesforce_member_id)
                for m in (*inserts, *(m for m, _ in updates), *deletes)
            ],
        )
    if inserts or updates or deletes:
        sf = ctx.salesforce
        campaign = view.salesforce_campaign_id
        try:
            with stages.keep_leased(ctx, run_id, claim):
                bulk = bulk_from(claim, ctx.options)
                duplicates = insert_members(ctx, sf, campaign, inserts, out, bulk=bulk, rules=rules)
                updates = recheck_unfinished(sf, updates, out, run_started=started_at, rules=rules)
                updates.extend(
                    reconcile_duplicates(
                        sf, campaign, duplicates, out, run_started=started_at, rules=rules
                    )
                )
                if update_pool.poolable(
                    ctx, out, updates=len(updates), bulk=bulk, others=len(inserts) + len(deletes)
                ):
                    # Written with other runs' updates; the flush completes the chunk.
                    update_pool.pool_updates(ctx, claim, updates, rules)
                    return
                update_members(sf, updates, out, bulk=bulk, rules=rules)
                delete_members(sf, deletes, out, bulk=bulk)
        except Exception:
            # Keep what landed: the retry then pushes only the members still different.
            record_outcome(ctx, view.link_id, run_id, out, claim=None)
            raise
    record_outcome(ctx, view.link_id, run_id, out, claim=claim if out.transient == 0 else None)
    if out.transient:
        raise TransientSalesforceError(
            f"{out.transient} member(s) hit a transient Salesforce error; retrying the chunk",
            code="TRANSIENT_RECORDS",
        )
    stages.close_outbound(ctx, run_id)
