"""The outbound stage: Conversion → Salesforce.

The stage task reads the Salesforce campaign's statuses once, then splits the members
whose Conversion value differs from the base into id-range chunks. A chunk task checks
every status *before* writing (a status the campaign lacks is dead-lettered, costing no
API call), resolves people to Contacts or Leads in batches, and writes members with
collection calls of 200 (Bulk API 2.0 past the configured threshold).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import structlog

from convsync.domain.conflict import landed
from convsync.domain.decisions import Decision, DecisionKind
from convsync.domain.errors import SalesforceError, TransientSalesforceError
from convsync.domain.model import MemberStatus, MemberValue, Stage
from convsync.domain.outcomes import RecordResult, WriteOutcome
from convsync.domain.status_rules import (
    OutboundAction,
    OutboundUnknown,
    StatusRules,
    statuses_to_create,
)
from convsync.salesforce.records import (
    MemberChange,
    NewLead,
    NewMember,
    PersonKind,
    SalesforceMember,
    SalesforcePerson,
)
from convsync.store import (
    added_members,
    bases,
    dead_letters,
    decisions,
    links,
    pending_pushes,
    people,
    runs,
)
from convsync.store import status_rules as rules_store
from convsync.store.bases import NewBase
from convsync.store.db import transaction, utcnow
from convsync.store.dead_letters import NewLetter
from convsync.store.pending_pushes import PushCandidate
from convsync.sync import stages
from convsync.sync.context import SyncContext, SyncOptions
from convsync.sync.ports import SalesforcePort

STATUS_NOT_ON_CAMPAIGN = "STATUS_NOT_ON_CAMPAIGN"
# A Bulk API 2.0 job costs ~7 API calls (create, upload, close, poll, poll, results x2):
# fewer records than 7 collection calls carry are cheaper without it.
BULK_MIN_RECORDS = 7 * 200
NO_SALESFORCE_PERSON = "NO_SALESFORCE_PERSON"
_EDITED_SINCE_READ = "edited in Salesforce after this run read it: the next run judges it"
# Member ids named in a dead-letter log line; `convsync dlq list` has them all.
LOGGED_MEMBER_IDS = 20

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
    # One API call: the statuses every member of this stage is checked against.
    existing = [s for _, s in ctx.salesforce.campaign_statuses(view.salesforce_campaign_id)]
    created = _create_missing_statuses(ctx, view, existing)
    labels = sorted({s.label for s in (*existing, *created)})
    with transaction(ctx.sessions) as session:
        if not runs.may_add_chunk(session, run_id, Stage.OUTBOUND.value, 0):
            return  # a duplicate of this task planned the stage meanwhile: it goes on
        run = runs.get_run(session, run_id)
        assert run is not None
        # First: every edit up to this count is then visible to the read below.
        run.edit_count = links.edits_planned(session, view.link_id)
        ids = pending_pushes.push_candidate_ids(session, view.link_id, view.campaign_id)
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
        run.salesforce_statuses = labels
        run.stage_planned = True
        runs.mark_links(session, view.link_id, status_mark=utcnow())
    for number in numbers:
        ctx.dispatch.outbound_chunk(run_id, number)
    stages.close_outbound(ctx, run_id)


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


def _bulk_pays(bulk: int | None, records: int) -> bool:
    return bulk is not None and records >= bulk


@dataclass
class _Outcome:
    """What one chunk did, gathered across its Salesforce calls, written in one commit."""

    bases: dict[int, NewBase] = field(default_factory=dict)
    letters: dict[int, NewLetter] = field(default_factory=dict)
    people: list[tuple[int, PersonKind, str]] = field(default_factory=list)
    # (person id, the Lead/Contact id Salesforce refused, kind, the id to use instead)
    moved_people: list[tuple[int, str, PersonKind, str]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    decisions: dict[int, Decision] = field(default_factory=dict)
    transient: int = 0
    # person id → the CampaignMember id this chunk's insert created ("added by the sync").
    added: dict[int, str] = field(default_factory=dict)

    def synced(self, member: PushCandidate, salesforce_member_id: str | None) -> None:
        self.bases[member.person_id] = NewBase(
            member.person_id, True, member.status, salesforce_member_id
        )
        kind = DecisionKind.PUSHED if member.status else DecisionKind.REMOVED_IN_SALESFORCE
        self._decide(member, kind, "Conversion's value differs from the last synced value")

    def defer(self, member: PushCandidate, why: str) -> None:
        self.counts["deferred"] += 1
        self._decide(member, DecisionKind.DEFERRED, why)

    def _decide(self, member: PushCandidate, kind: DecisionKind, rule: str) -> None:
        self.decisions[member.person_id] = Decision(
            Stage.OUTBOUND, kind, rule, conversion=MemberValue(member.status, member.updated_at)
        )

    def dead_letter(self, member: PushCandidate, code: str, message: str) -> None:
        self.letters[member.person_id] = NewLetter(
            member.person_id,
            code,
            message,
            {"email": member.email, "status": member.status, "member_id": member.member_id},
        )
        self.counts["dead_lettered"] += 1
        self._decide(member, DecisionKind.DEAD_LETTERED, f"{code}: {message}")

    def failed(self, member: PushCandidate, result: RecordResult) -> None:
        if result.outcome is WriteOutcome.TRANSIENT:
            self.transient += 1
        elif result.outcome is WriteOutcome.STATUS_NOT_ON_CAMPAIGN:
            self.dead_letter(
                member,
                STATUS_NOT_ON_CAMPAIGN,
                result.message or f"status {member.status!r} is not on the campaign",
            )
        else:
            self.dead_letter(
                member,
                result.code or result.outcome.value.upper(),
                result.message or "Salesforce refused the record",
            )


def _person(member: PushCandidate) -> SalesforcePerson | None:
    if member.contact_id:
        return SalesforcePerson(member.contact_id, "Contact", member.email)
    if member.lead_id:
        return SalesforcePerson(member.lead_id, "Lead", member.email)
    return None


def _known_people(
    sf: SalesforcePort, members: Sequence[PushCandidate], out: _Outcome
) -> tuple[dict[int, SalesforcePerson], list[PushCandidate]]:
    """Person → Contact/Lead from ids already known, then one batched email lookup."""
    people = {m.person_id: p for m in members if (p := _person(m)) is not None}
    unknown = [m for m in members if m.person_id not in people]
    found = sf.find_people_by_email([m.email for m in unknown]) if unknown else {}
    missing: list[PushCandidate] = []
    for member in unknown:
        match = found.get(member.email)
        if match is None:
            missing.append(member)
            continue
        people[member.person_id] = match
        out.people.append((member.person_id, match.kind, match.id))
    return people, missing


def _resolve_people(
    ctx: SyncContext,
    sf: SalesforcePort,
    members: Sequence[PushCandidate],
    out: _Outcome,
    *,
    bulk: int | None,
) -> dict[int, SalesforcePerson]:
    """Person → Contact/Lead; people Salesforce does not know become Leads (configurable)."""
    people, missing = _known_people(sf, members, out)
    if not missing:
        return people
    if not ctx.options.create_missing_leads:
        for member in missing:
            out.dead_letter(
                member,
                NO_SALESFORCE_PERSON,
                f"no Contact or Lead with email {member.email} in Salesforce",
            )
        return people
    leads = [NewLead(m.email, m.first_name, m.last_name, m.company) for m in missing]
    results = sf.create_leads(leads, use_bulk=_bulk_pays(bulk, len(leads)))
    for member, result in zip(missing, results, strict=True):
        if result.ok and result.salesforce_id:
            people[member.person_id] = SalesforcePerson(result.salesforce_id, "Lead", member.email)
            out.people.append((member.person_id, "Lead", result.salesforce_id))
            out.counts["leads_created"] += 1
        else:
            out.failed(member, result)
    return people


def _insert(
    ctx: SyncContext,
    sf: SalesforcePort,
    campaign: str,
    members: Sequence[PushCandidate],
    out: _Outcome,
    *,
    bulk: int | None,
    rules: StatusRules,
) -> list[tuple[PushCandidate, str]]:
    """Insert new members; returns duplicates found already there (member, person id)."""
    people = _resolve_people(ctx, sf, members, out, bulk=bulk)
    ready = [m for m in members if m.person_id in people]
    rows = [
        NewMember.for_person(campaign, people[m.person_id], rules.salesforce_label(m.status or ""))
        for m in ready
    ]
    duplicates: list[tuple[PushCandidate, str]] = []
    moved: list[tuple[PushCandidate, RecordResult]] = []
    use_bulk = _bulk_pays(bulk, len(rows))
    for member, result in zip(ready, sf.insert_members(rows, use_bulk=use_bulk), strict=True):
        if result.outcome is WriteOutcome.PERSON_MOVED:
            moved.append((member, result))
        else:
            _inserted(member, people[member.person_id], result, out, duplicates)
    if moved:
        _insert_moved(
            ctx, sf, campaign, moved, people=people, out=out, duplicates=duplicates, rules=rules
        )
    return duplicates


def _inserted(
    member: PushCandidate,
    person: SalesforcePerson,
    result: RecordResult,
    out: _Outcome,
    duplicates: list[tuple[PushCandidate, str]],
) -> None:
    if result.ok:
        out.synced(member, result.salesforce_id)
        out.counts["pushed"] += 1
        if result.salesforce_id:
            out.added[member.person_id] = result.salesforce_id
    elif result.outcome is WriteOutcome.DUPLICATE:
        duplicates.append((member, person.id))
    else:
        out.failed(member, result)


def _insert_moved(
    ctx: SyncContext,
    sf: SalesforcePort,
    campaign: str,
    moved: Sequence[tuple[PushCandidate, RecordResult]],
    *,
    people: dict[int, SalesforcePerson],
    out: _Outcome,
    duplicates: list[tuple[PushCandidate, str]],
    rules: StatusRules,
) -> None:
    """Inserts Salesforce refused because the person's Lead was converted, or their
    Lead/Contact merged or deleted: find the person again and insert once more.

    Where the record went first (the Contact a Lead became, the master a merge kept),
    else by email (unconverted Leads and Contacts; a Lead is created if allowed). The
    person's stale id is replaced, so later writes go to the right record at once. A
    second refusal is a dead letter; the write that was refused never happened, so
    writing again is safe.
    """
    stale = {m.person_id: people[m.person_id] for m, _ in moved}
    followed = sf.follow_people(list(stale.values()))
    again: dict[int, SalesforcePerson] = {}
    by_email: list[PushCandidate] = []
    for member, result in moved:
        found = followed.get(stale[member.person_id].id)
        if found is None:
            by_email.append(replace(member, lead_id=None, contact_id=None))
        elif found.id != stale[member.person_id].id:
            again[member.person_id] = found
        else:
            out.failed(member, result)  # live and unconverted: not the person's doing
    if by_email:
        # Found by email, or a new Lead; `_resolve_people` records the rest itself (a
        # dead letter, or a transient failure the chunk's retry takes up).
        again.update(_resolve_people(ctx, sf, by_email, out, bulk=None))
    retry = [(m, again[m.person_id]) for m, _ in moved if m.person_id in again]
    rows = [
        NewMember.for_person(campaign, person, rules.salesforce_label(m.status or ""))
        for m, person in retry
    ]
    for (member, person), result in zip(retry, sf.insert_members(rows), strict=True):
        out.moved_people.append(
            (member.person_id, stale[member.person_id].id, person.kind, person.id)
        )
        out.counts["people_found_again"] += 1
        _inserted(member, person, result, out, duplicates)


def _reconcile_duplicates(
    sf: SalesforcePort,
    campaign: str,
    duplicates: Sequence[tuple[PushCandidate, str]],
    out: _Outcome,
    *,
    run_started: datetime,
    rules: StatusRules,
) -> list[tuple[PushCandidate, str]]:
    """ "Already a campaign member": find it, and update its status if it differs.

    Unless it changed after this run started (so, maybe, after its inbound read): the
    conflict rule may never have seen that value, which may well be later than
    Conversion's (a member added or edited in Salesforce while the run ran, or after a
    killed attempt of this chunk inserted it). Overwriting it would lose it for good;
    the next run's inbound stage reads it and decides, and its id is remembered.
    """
    if not duplicates:
        return []
    existing = {m.person_id: m for m in sf.find_members(campaign, [p for _, p in duplicates])}
    updates: list[tuple[PushCandidate, str]] = []
    for member, person_id in duplicates:
        found = existing.get(person_id)
        if found is None:
            out.transient += 1  # deleted again meanwhile: the retry will insert it
        elif _holds(found, member.status, rules):
            out.synced(member, found.id)
            out.counts["pushed"] += 1
            # Salesforce holds member.status (under its label): was that our own write?
            if landed(member.pushing, MemberValue(member.status)):
                out.added[member.person_id] = found.id  # an earlier attempt's insert
        elif _edited_since_read(found, member, run_started, rules):
            out.bases[member.person_id] = NewBase(member.person_id, False, None, found.id)
            out.defer(member, _EDITED_SINCE_READ)
        else:
            updates.append((member, found.id))
    return updates


def _holds(found: SalesforceMember, status: str | None, rules: StatusRules) -> bool:
    """Whether Salesforce's member holds this Conversion status (under its label)."""
    return status is not None and found.status == rules.salesforce_label(status)


def _edited_since_read(
    found: SalesforceMember, member: PushCandidate, run_started: datetime, rules: StatusRules
) -> bool:
    """Whether Salesforce's value may be an edit this run's conflict rule never judged:
    made after the run started (its read came later, but a row stamped since may or may
    not have made it in: better judged again by the next run than overwritten), and not
    the value an earlier attempt of ours was writing."""
    pushing = member.pushing
    ours = pushing is not None and _holds(found, pushing.status, rules)
    stamp = found.system_modstamp
    return not ours and stamp is not None and stamp > run_started


def _recheck_unfinished(
    sf: SalesforcePort,
    updates: Sequence[tuple[PushCandidate, str]],
    out: _Outcome,
    *,
    run_started: datetime,
    rules: StatusRules,
) -> list[tuple[PushCandidate, str]]:
    """Before repeating updates a killed attempt may have made, read those members.

    A retry long after the run's read (a kill costs a lease period) would otherwise
    overwrite an edit made in Salesforce meanwhile, which a run that was never killed
    would have left for the next run to judge: a kill must not change the outcome.
    One query per 500 such members, and only for them.
    """
    unsure = [(m, sf_id) for m, sf_id in updates if m.pushing is not None]
    if not unsure:
        return list(updates)
    now = {row.id: row for row in sf.members_by_id([sf_id for _, sf_id in unsure])}
    still = [(m, sf_id) for m, sf_id in updates if m.pushing is None]
    for member, sf_id in unsure:
        found = now.get(sf_id)
        if found is not None and _holds(found, member.status, rules):
            out.synced(member, sf_id)
            out.counts["pushed"] += 1
        elif found is not None and _edited_since_read(found, member, run_started, rules):
            out.defer(member, _EDITED_SINCE_READ)  # the next run reads it and the rule decides
        else:
            still.append((member, sf_id))  # unchanged, or deleted (the update says so)
    return still


def _update(
    sf: SalesforcePort,
    pairs: Sequence[tuple[PushCandidate, str]],
    out: _Outcome,
    *,
    bulk: int | None,
    rules: StatusRules,
) -> None:
    if not pairs:
        return
    changes = [MemberChange(sf_id, rules.salesforce_label(m.status or "")) for m, sf_id in pairs]
    use_bulk = _bulk_pays(bulk, len(changes))
    for (member, sf_id), result in zip(
        pairs, sf.update_members(changes, use_bulk=use_bulk), strict=True
    ):
        if result.ok:
            out.synced(member, sf_id)
            out.counts["pushed"] += 1
        elif result.outcome is WriteOutcome.NOT_FOUND:
            # Deleted in Salesforce since we last read it: the next inbound stage sees the
            # deletion and the conflict rule decides; forget the stale id meanwhile.
            out.bases[member.person_id] = NewBase(member.person_id, False, None, None)
            out.defer(member, "deleted in Salesforce since it was read: the next run judges it")
        else:
            out.failed(member, result)


def _delete(
    sf: SalesforcePort, members: Sequence[PushCandidate], out: _Outcome, *, bulk: int | None
) -> None:
    if not members:
        return
    ids = [m.salesforce_member_id or "" for m in members]
    use_bulk = _bulk_pays(bulk, len(ids))
    for member, result in zip(members, sf.delete_members(ids, use_bulk=use_bulk), strict=True):
        if result.ok or result.outcome is WriteOutcome.NOT_FOUND:
            out.synced(member, None)
            out.counts["removed_in_salesforce"] += 1
        else:
            out.failed(member, result)


def _sort(
    members: Sequence[PushCandidate],
    on_campaign: set[str],
    campaign: str,
    out: _Outcome,
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
        out = _Outcome()
        inserts, updates, deletes = _sort(
            members, on_campaign, view.salesforce_campaign_id, out, rules
        )
        # Committed before any write: see bases.mark_pushing.
        bases.mark_pushing(
            session,
            view.link_id,
            [
                (m.person_id, m.status, m.salesforce_member_id)
                for m in (*inserts, *(m for m, _ in updates), *deletes)
            ],
        )
    if inserts or updates or deletes:
        sf = ctx.salesforce
        campaign = view.salesforce_campaign_id
        try:
            with stages.keep_leased(ctx, run_id, claim):
                bulk = bulk_from(claim, ctx.options)
                duplicates = _insert(ctx, sf, campaign, inserts, out, bulk=bulk, rules=rules)
                updates = _recheck_unfinished(sf, updates, out, run_started=started_at, rules=rules)
                updates.extend(
                    _reconcile_duplicates(
                        sf, campaign, duplicates, out, run_started=started_at, rules=rules
                    )
                )
                _update(sf, updates, out, bulk=bulk, rules=rules)
                _delete(sf, deletes, out, bulk=bulk)
        except Exception:
            # Keep what landed: the retry then pushes only the members still different.
            _record(ctx, view.link_id, run_id, out, claim=None)
            raise
    _record(ctx, view.link_id, run_id, out, claim=claim if out.transient == 0 else None)
    if out.transient:
        raise TransientSalesforceError(
            f"{out.transient} member(s) hit a transient Salesforce error; retrying the chunk",
            code="TRANSIENT_RECORDS",
        )
    stages.close_outbound(ctx, run_id)


def _record(
    ctx: SyncContext, link_id: int, run_id: int, out: _Outcome, claim: runs.ChunkClaim | None
) -> None:
    """Write bases, people's Salesforce ids and dead letters; with `claim`, the done-marker."""
    with transaction(ctx.sessions) as session:
        people.remember_salesforce_people(session, out.people)
        people.repoint_salesforce_people(session, out.moved_people)
        bases.write_bases(session, link_id, list(out.bases.values()))
        dead_letters.resolve_dead_letters(session, link_id, out.bases.keys())
        dead_letters.record_dead_letters(session, link_id, run_id, list(out.letters.values()))
        added_members.record(session, link_id, run_id, out.added)
        decisions.record(session, link_id, run_id, list(out.decisions.items()))
        if claim is not None:
            stages.complete(session, claim, dict(out.counts))
    ctx.observer.chunk_applied(Stage.OUTBOUND, out.counts)
    _log_dead_letters(out)


def _log_dead_letters(out: _Outcome) -> None:
    """A dead letter is an error (DESIGN.md): one line per chunk says how many and why."""
    if not out.letters:
        return
    letters = list(out.letters.values())
    log.error(
        "members dead-lettered",
        count=len(letters),
        codes=sorted({letter.code for letter in letters}),
        statuses=sorted({str(letter.payload.get("status")) for letter in letters}),
        member_ids=sorted(letter.payload["member_id"] for letter in letters)[:LOGGED_MEMBER_IDS],
        see="convsync dlq list",
    )
