"""Outbound writes: one chunk's members written to Salesforce, and what came of each.

`Outcome` gathers, across the chunk's Salesforce calls, the new bases, dead letters,
people's Salesforce ids and decisions that `outbound` then records in one commit. People
are resolved to Contacts or Leads in batches (Leads created when allowed); a duplicate
insert becomes an update; a write an earlier attempt may have made is read back first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import structlog

from convsync.domain.conflict import landed
from convsync.domain.decisions import Decision, DecisionKind
from convsync.domain.model import MemberValue, Stage
from convsync.domain.outcomes import RecordResult, WriteOutcome
from convsync.domain.status_rules import StatusRules
from convsync.salesforce.records import (
    MemberChange,
    NewLead,
    NewMember,
    PersonKind,
    SalesforceMember,
    SalesforcePerson,
)
from convsync.store import added_members, bases, dead_letters, decisions, people, runs
from convsync.store.bases import NewBase
from convsync.store.db import transaction
from convsync.store.dead_letters import NewLetter
from convsync.store.pending_pushes import PushCandidate
from convsync.sync import stages
from convsync.sync.context import SyncContext
from convsync.sync.ports import SalesforcePort

STATUS_NOT_ON_CAMPAIGN = "STATUS_NOT_ON_CAMPAIGN"
NO_SALESFORCE_PERSON = "NO_SALESFORCE_PERSON"
# Member ids named in a dead-letter log line; `convsync dlq list` has them all.
LOGGED_MEMBER_IDS = 20
_EDITED_SINCE_READ = "edited in Salesforce after this run read it: the next run judges it"

log = structlog.get_logger(__name__)


def _bulk_pays(bulk: int | None, records: int) -> bool:
    return bulk is not None and records >= bulk


@dataclass
class Outcome:
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
    sf: SalesforcePort, members: Sequence[PushCandidate], out: Outcome
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
    out: Outcome,
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


def insert_members(
    ctx: SyncContext,
    sf: SalesforcePort,
    campaign: str,
    members: Sequence[PushCandidate],
    out: Outcome,
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
    out: Outcome,
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
    out: Outcome,
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


def reconcile_duplicates(
    sf: SalesforcePort,
    campaign: str,
    duplicates: Sequence[tuple[PushCandidate, str]],
    out: Outcome,
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


def recheck_unfinished(
    sf: SalesforcePort,
    updates: Sequence[tuple[PushCandidate, str]],
    out: Outcome,
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


def update_members(
    sf: SalesforcePort,
    pairs: Sequence[tuple[PushCandidate, str]],
    out: Outcome,
    *,
    bulk: int | None,
    rules: StatusRules,
) -> None:
    if not pairs:
        return
    changes = [MemberChange(sf_id, rules.salesforce_label(m.status or "")) for m, sf_id in pairs]
    use_bulk = _bulk_pays(bulk, len(changes))
    updated(pairs, sf.update_members(changes, use_bulk=use_bulk), out)


def updated(
    pairs: Sequence[tuple[PushCandidate, str]], results: Sequence[RecordResult], out: Outcome
) -> None:
    """What came of each member's update, into `out`."""
    for (member, sf_id), result in zip(pairs, results, strict=True):
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


def delete_members(
    sf: SalesforcePort, members: Sequence[PushCandidate], out: Outcome, *, bulk: int | None
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


def record_outcome(
    ctx: SyncContext, link_id: int, run_id: int, out: Outcome, claim: runs.ChunkClaim | None
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


def _log_dead_letters(out: Outcome) -> None:
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
