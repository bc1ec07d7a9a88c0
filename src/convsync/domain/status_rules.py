"""How a member status crosses between Conversion and Salesforce, per link.

Two things the spec leaves fixed become choices here:

- **Translation**: a Conversion status may be known in Salesforce by another label
  (`Attended` ↔ `Attended - Webinar`), both ways. Every type status has exactly one
  Salesforce label (its mapped one, else its own name) and no two share one, so a label
  read from Salesforce names at most one Conversion status.
- **Policies** for a status the other side lacks: inbound, `skip` (the spec's rule:
  record the member, do not import it) or `default` (import it with the type's default
  status, and say so); outbound, `dead-letter` (the spec's rule) or `create` (add the
  missing CampaignMemberStatus to the Salesforce campaign, then push).

Values are kept in Conversion's language everywhere but at Salesforce's door: the base
of the conflict rule, the pending push and the dead letters all hold Conversion
statuses, so changing a mapping never makes an agreed member look changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType

from convsync.domain import names
from convsync.domain.errors import ValidationError
from convsync.domain.model import MAX_STATUS_LENGTH, CampaignType, MemberStatus


class InboundUnknown(StrEnum):
    """What to do with a Salesforce member whose status the type lacks."""

    SKIP = "skip"
    DEFAULT = "default"


class OutboundUnknown(StrEnum):
    """What to do with a Conversion member whose status the Salesforce campaign lacks."""

    DEAD_LETTER = "dead-letter"
    CREATE = "create"


@dataclass(frozen=True, slots=True)
class StatusPolicy:
    inbound_unknown: InboundUnknown = InboundUnknown.SKIP
    outbound_unknown: OutboundUnknown = OutboundUnknown.DEAD_LETTER


SPEC_POLICY = StatusPolicy()


def _empty() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class StatusRules:
    """One link's translation and policies, applied to the statuses of its type.

    Build it with `status_rules` (which validates); `mapping` holds only the statuses
    whose Salesforce label differs from their name.
    """

    campaign_type: CampaignType
    mapping: Mapping[str, str] = field(default_factory=_empty, hash=False)
    policy: StatusPolicy = SPEC_POLICY

    def salesforce_label(self, status: str) -> str:
        """The label a Conversion status is written with in Salesforce."""
        return self.mapping.get(status, status)

    def in_salesforce(self) -> CampaignType:
        """The type as a Salesforce campaign should hold it: every status under its label."""
        return replace(
            self.campaign_type,
            statuses=tuple(
                replace(s, label=self.salesforce_label(s.label))
                for s in self.campaign_type.statuses
            ),
        )

    def conversion_status(self, label: str) -> str | None:
        """The Conversion status a Salesforce label stands for, or None (the type lacks it).

        A type status that is mapped away is known in Salesforce only by its mapped label:
        its own name, read from Salesforce, is unknown like any other label.
        """
        for status in self.campaign_type.statuses:
            if self.salesforce_label(status.label) == label:
                return status.label
        return None

    def inbound(self, label: str) -> InboundDecision:
        """The Conversion status a Salesforce member with `label` is imported with."""
        status = self.conversion_status(label)
        if status is not None:
            return InboundDecision(status)
        if self.policy.inbound_unknown is InboundUnknown.DEFAULT:
            default = self.campaign_type.default_status.label
            return InboundDecision(
                default,
                as_default=True,
                reason=f"status {label!r} is not in the campaign type: imported as {default!r}",
            )
        return InboundDecision(None, reason=_not_in_type(label, self.mapping))

    def outbound(self, status: str, campaign_labels: Iterable[str]) -> OutboundDecision:
        """Whether a Conversion status can be written to a campaign holding these labels."""
        label = self.salesforce_label(status)
        if label in set(campaign_labels):
            return OutboundDecision(label, OutboundAction.WRITE)
        if self.policy.outbound_unknown is OutboundUnknown.CREATE:
            return OutboundDecision(label, OutboundAction.CREATE_STATUS)
        return OutboundDecision(label, OutboundAction.DEAD_LETTER)


def _not_in_type(label: str, mapping: Mapping[str, str]) -> str:
    if label in mapping:
        return (
            f"status {label!r} is not in the campaign type (the type's {label!r} is mapped "
            f"to {mapping[label]!r})"
        )
    return f"status {label!r} is not in the campaign type"


@dataclass(frozen=True, slots=True)
class InboundDecision:
    """`status` None: skipped, with the reason recorded for the user."""

    status: str | None
    as_default: bool = False
    reason: str | None = None


class OutboundAction(StrEnum):
    WRITE = "write"
    CREATE_STATUS = "create_status"  # add the label to the campaign first, then write
    DEAD_LETTER = "dead_letter"


@dataclass(frozen=True, slots=True)
class OutboundDecision:
    label: str
    action: OutboundAction


def status_rules(
    campaign_type: CampaignType,
    mapping: Mapping[str, str] | None = None,
    policy: StatusPolicy = SPEC_POLICY,
) -> StatusRules:
    """Validate a link's mapping against its type: every mapped status is in the type,
    every label fits Salesforce, and no two type statuses end up with the same label."""
    pairs: dict[str, str] = {}
    for given, label in (mapping or {}).items():
        # The type's own spelling: a status is matched as names are ("attended").
        status = campaign_type.find(given)
        if status is None:
            raise ValidationError(
                f"{given!r} is not a status of campaign type {campaign_type.name!r}"
            )
        if not label.strip():
            raise ValidationError("a Salesforce label must not be empty")
        if len(label) > MAX_STATUS_LENGTH:
            raise ValidationError(
                f"Salesforce label {label!r} is longer than {MAX_STATUS_LENGTH} characters"
            )
        salesforce_label = names.clean("Salesforce label", label, MAX_STATUS_LENGTH)
        if salesforce_label != status:
            pairs[status] = salesforce_label
    rules = StatusRules(campaign_type, MappingProxyType(pairs), policy)
    owners: dict[str, str] = {}
    for own in campaign_type.statuses:
        label = rules.salesforce_label(own.label)
        other = owners.setdefault(label.casefold(), own.label)
        if other != own.label:
            raise ValidationError(
                f"statuses {other!r} and {own.label!r} would both be {label!r} in "
                "Salesforce; map one of them to another label"
            )
    return rules


def statuses_to_create(
    rules: StatusRules, statuses: Iterable[str], existing: Iterable[MemberStatus]
) -> tuple[MemberStatus, ...]:
    """The CampaignMemberStatus rows to add so that these Conversion statuses can be
    written: each missing label once, never the default (the campaign's stays), responded
    as in the type, sorted after the campaign's current rows in the type's order."""
    have = list(existing)
    labels = {s.label for s in have}
    next_order = max((s.sort_order for s in have), default=0) + 1
    by_label = {s.label: s for s in rules.campaign_type.statuses}
    wanted = sorted({s for s in statuses if s in by_label}, key=lambda s: by_label[s].sort_order)
    created: list[MemberStatus] = []
    for status in wanted:
        decision = rules.outbound(status, labels)
        if decision.action is not OutboundAction.CREATE_STATUS:
            continue
        created.append(
            MemberStatus(
                label=decision.label,
                is_default=False,
                has_responded=by_label[status].has_responded,
                sort_order=next_order,
            )
        )
        labels.add(decision.label)
        next_order += 1
    return tuple(created)
