"""Status compatibility between a Conversion campaign type and a Salesforce campaign.

Three uses: the gap (which labels each side lacks), the pre-flight summary shown before
linking (how many members each gap would skip or dead-letter), and the plan that makes a
newly created Salesforce campaign's CampaignMemberStatus rows match the type exactly.

Labels are compared *exactly*: no trimming, no case folding. Salesforce stores the
status label a member holds verbatim and the sync writes it verbatim, so "Sent" and
"sent" are different statuses as far as a member is concerned; folding them here would
promise a compatibility the writes could not keep.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from convsync.domain.errors import ValidationError
from convsync.domain.model import CampaignType, MemberStatus
from convsync.domain.status_rules import SPEC_POLICY, InboundUnknown, StatusPolicy, StatusRules


def _labels(statuses: Iterable[MemberStatus]) -> tuple[str, ...]:
    """Labels in the order given, each once."""
    return tuple(dict.fromkeys(s.label for s in statuses))


@dataclass(frozen=True, slots=True)
class StatusGap:
    """Labels one side has and the other lacks, in each side's own order."""

    missing_in_salesforce: tuple[str, ...]  # outbound members with these → dead letter
    missing_in_conversion: tuple[str, ...]  # inbound members with these → skipped
    # Conversion status → the Salesforce label it is written with, where they differ.
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)

    @property
    def is_compatible(self) -> bool:
        return not self.missing_in_salesforce and not self.missing_in_conversion


def check_statuses(
    type_statuses: Iterable[MemberStatus],
    campaign_statuses: Iterable[MemberStatus],
    rules: StatusRules | None = None,
) -> StatusGap:
    """Compare a type's statuses with a Salesforce campaign's, by exact label, each
    Conversion status under the Salesforce label the link's mapping gives it."""
    type_labels = _labels(type_statuses)
    campaign_labels = _labels(campaign_statuses)

    def label(status: str) -> str:
        return rules.salesforce_label(status) if rules is not None else status

    def known(salesforce_label: str) -> bool:
        if rules is not None:
            return rules.conversion_status(salesforce_label) is not None
        return salesforce_label in type_labels

    return StatusGap(
        missing_in_salesforce=tuple(s for s in type_labels if label(s) not in campaign_labels),
        missing_in_conversion=tuple(lbl for lbl in campaign_labels if not known(lbl)),
        labels=MappingProxyType({s: label(s) for s in type_labels if label(s) != s}),
    )


def _frozen(counts: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(counts))


@dataclass(frozen=True, slots=True)
class Preflight:
    """What linking would do to members, before anything is linked.

    Every label of the gap is listed, with 0 when no member holds it, so the user sees
    the whole gap and not only the part in use today.
    """

    gap: StatusGap
    skipped_inbound: Mapping[str, int] = field(hash=False)
    dead_letter_outbound: Mapping[str, int] = field(hash=False)
    # The link's policies say what happens to those members instead (skip or default,
    # dead-letter or create).
    policy: StatusPolicy = SPEC_POLICY

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped_inbound.values())

    @property
    def dead_letter_total(self) -> int:
        return sum(self.dead_letter_outbound.values())


def preflight(
    gap: StatusGap,
    salesforce_member_counts: Mapping[str, int],
    conversion_member_counts: Mapping[str, int],
    policy: StatusPolicy = SPEC_POLICY,
) -> Preflight:
    """Count, per missing label, the members each side of the gap would leave behind."""
    return Preflight(
        gap=gap,
        policy=policy,
        skipped_inbound=_frozen(
            {lbl: salesforce_member_counts.get(lbl, 0) for lbl in gap.missing_in_conversion}
        ),
        dead_letter_outbound=_frozen(
            {lbl: conversion_member_counts.get(lbl, 0) for lbl in gap.missing_in_salesforce}
        ),
    )


def link_refusal(check: Preflight) -> str | None:
    """Why linking should stop (unless forced), or None.

    Only Salesforce statuses *in use* that the type lacks refuse a link: those members
    would silently stay out of Conversion. Statuses the Salesforce campaign lacks do
    not: the members they affect are parked in the dead-letter queue and replayed once
    the status exists, so nothing is lost. Nor does anything under the `default` inbound
    policy, which imports those members with the type's default status.
    """
    if check.policy.inbound_unknown is InboundUnknown.DEFAULT:
        return None
    in_use = [(label, n) for label, n in check.skipped_inbound.items() if n > 0]
    if not in_use:
        return None
    total = sum(n for _, n in in_use)
    listed = ", ".join(f"{label!r} ({n})" for label, n in in_use)
    members = "member" if total == 1 else "members"
    return (
        f"the Salesforce campaign has {total} {members} with statuses the campaign type "
        f"lacks: {listed}; add them to the type (convsync types add-status), map them "
        "(convsync mapping set), link with "
        "--inbound-unknown default to import them with the default status, or link with "
        "--force to skip those members"
    )


# ---------------------------------------------------------------- aligning a new campaign


@dataclass(frozen=True, slots=True)
class SalesforceStatus:
    """A CampaignMemberStatus row as it exists in Salesforce."""

    id: str
    status: MemberStatus

    @property
    def label(self) -> str:
        return self.status.label


@dataclass(frozen=True, slots=True)
class CreateStatus:
    status: MemberStatus


@dataclass(frozen=True, slots=True)
class UpdateStatus:
    id: str
    status: MemberStatus  # the row's full new values


@dataclass(frozen=True, slots=True)
class DeleteStatus:
    id: str


AlignmentStep = CreateStatus | UpdateStatus | DeleteStatus


@dataclass(frozen=True, slots=True)
class AlignmentPlan:
    """Steps to run one by one, in order; Salesforce's invariants hold after each."""

    steps: tuple[AlignmentStep, ...]

    @property
    def creates(self) -> tuple[CreateStatus, ...]:
        return tuple(s for s in self.steps if isinstance(s, CreateStatus))

    @property
    def updates(self) -> tuple[UpdateStatus, ...]:
        return tuple(s for s in self.steps if isinstance(s, UpdateStatus))

    @property
    def deletes(self) -> tuple[DeleteStatus, ...]:
        return tuple(s for s in self.steps if isinstance(s, DeleteStatus))

    @property
    def is_empty(self) -> bool:
        return not self.steps


def _validate_type(campaign_type: CampaignType) -> None:
    """A type Salesforce could not hold is refused up front rather than half-applied."""
    statuses = campaign_type.statuses
    if sum(s.is_default for s in statuses) != 1:
        raise ValidationError(f"campaign type {campaign_type.name!r} needs exactly one default")
    if not any(s.has_responded for s in statuses):
        raise ValidationError(
            f"campaign type {campaign_type.name!r} needs at least one responded status"
        )
    if len({s.label.casefold() for s in statuses}) != len(statuses):
        raise ValidationError(f"campaign type {campaign_type.name!r} repeats a status label")
    if len({s.sort_order for s in statuses}) != len(statuses):
        raise ValidationError(f"campaign type {campaign_type.name!r} repeats a sort order")


class _Rows:
    """The planner's picture of the campaign's rows while steps are chosen.

    Mirrors Salesforce: setting a row as default clears the previous default, and a
    step that would leave no default, no responded status, or a repeated label or
    sort order is refused.
    """

    def __init__(self, existing: Sequence[SalesforceStatus]) -> None:
        self.rows: dict[str, MemberStatus] = {row.id: row.status for row in existing}
        self.steps: list[AlignmentStep] = []

    def _put(self, key: str, status: MemberStatus) -> None:
        if status.is_default:
            for other, value in self.rows.items():
                if other != key and value.is_default:
                    self.rows[other] = replace(value, is_default=False)
        self.rows[key] = status

    def allows(self, key: str | None, status: MemberStatus) -> bool:
        others = {k: v for k, v in self.rows.items() if k != key}
        if any(
            v.label == status.label or v.sort_order == status.sort_order for v in others.values()
        ):
            return False
        current = self.rows.get(key) if key is not None else None
        if current is None:
            return True
        if current.is_default and not status.is_default:
            return False
        return status.has_responded or any(v.has_responded for v in others.values())

    def create(self, status: MemberStatus) -> None:
        self._put(f"new:{status.label}", status)
        self.steps.append(CreateStatus(status))

    def update(self, key: str, status: MemberStatus) -> None:
        self._put(key, status)
        self.steps.append(UpdateStatus(key, status))

    def delete(self, key: str) -> None:
        del self.rows[key]
        self.steps.append(DeleteStatus(key))


def _match(
    targets: Sequence[MemberStatus], existing: Sequence[SalesforceStatus]
) -> dict[str, MemberStatus]:
    """Existing row id → the type status it becomes: exact label first, then case-only.

    A case-only difference becomes a rename, not a create plus delete, because
    Salesforce may treat labels that differ only in case as duplicates.
    """
    matched: dict[str, MemberStatus] = {}
    for target in targets:
        for row in existing:
            if row.id not in matched and row.label == target.label:
                matched[row.id] = target
                break
    taken = {t.label for t in matched.values()}
    for target in targets:
        if target.label in taken:
            continue
        for row in existing:
            if row.id not in matched and row.label.casefold() == target.label.casefold():
                matched[row.id] = target
                taken.add(target.label)
                break
    return matched


def plan_status_alignment(
    campaign_type: CampaignType, existing: Sequence[SalesforceStatus]
) -> AlignmentPlan:
    """Steps that make a new Salesforce campaign's statuses equal the type's, exactly.

    Labels, default, responded flags and sort order all end up as in the type; rows the
    type lacks (Salesforce's automatic "Sent"/"Responded" included) are deleted. Order:

    1. move rows that sit on a sort order the type needs elsewhere to free numbers;
    2. create the missing statuses (with their final values);
    3. update kept rows, gaining flags before losing them, so a default and a
       responded status exist at every step;
    4. delete the rows the type lacks, now neither default nor the last responded.

    Relies on Salesforce clearing the previous default when another row becomes the
    default; there is no other way to move the default without a moment of two.
    """
    _validate_type(campaign_type)
    targets = sorted(campaign_type.statuses, key=lambda s: s.sort_order)
    matched = _match(targets, existing)
    rows = _Rows(existing)

    finals = {t.sort_order for t in targets}
    spare = max([*finals, *(row.status.sort_order for row in existing)], default=0) + 1
    for row in sorted(existing, key=lambda r: r.status.sort_order):
        own = matched.get(row.id)
        if row.status.sort_order in finals and (
            own is None or own.sort_order != row.status.sort_order
        ):
            rows.update(row.id, replace(rows.rows[row.id], sort_order=spare))
            spare += 1

    matched_labels = {t.label for t in matched.values()}
    for target in targets:
        if target.label not in matched_labels:
            rows.create(target)

    pending = dict(matched)
    while True:
        # Drop rows already right, including those an automatic default move fixed.
        pending = {key: target for key, target in pending.items() if rows.rows[key] != target}
        if not pending:
            break
        key = _next_update(rows, pending)
        if key is not None:
            rows.update(key, pending.pop(key))
            continue
        # Every remaining update would drop the default or the last responded status:
        # first give a row the flag it is about to gain, then retry.
        key, partial = _gain_one_flag(rows, pending)
        rows.update(key, partial)

    for row in existing:
        if row.id not in matched:
            rows.delete(row.id)
    return AlignmentPlan(tuple(rows.steps))


def _next_update(rows: _Rows, pending: Mapping[str, MemberStatus]) -> str | None:
    """The first pending update (default-gainers, then responded-gainers) that is safe now."""

    def priority(key: str) -> tuple[int, int]:
        current, target = rows.rows[key], pending[key]
        if target.is_default and not current.is_default:
            return 0, target.sort_order
        if target.has_responded and not current.has_responded:
            return 1, target.sort_order
        return 2, target.sort_order

    for key in sorted(pending, key=priority):
        if rows.allows(key, pending[key]):
            return key
    return None


def _gain_one_flag(rows: _Rows, pending: Mapping[str, MemberStatus]) -> tuple[str, MemberStatus]:
    for key, target in sorted(pending.items(), key=lambda kv: kv[1].sort_order):
        current = rows.rows[key]
        if target.is_default and not current.is_default:
            return key, replace(current, is_default=True)
        if target.has_responded and not current.has_responded:
            return key, replace(current, has_responded=True)
    raise AssertionError("no safe step: the type or the existing rows break an invariant")
