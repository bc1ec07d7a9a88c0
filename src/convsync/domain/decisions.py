"""Every decision about a member, kept so that `convsync explain` can answer "why?".

A decision names what happened (imported, pushed, skipped, ...), both sides' values with
their times as the sync saw them, the base, and the rule that decided, in words. The
stages build them where they decide; the store keeps them for
`CONVSYNC_DECISION_RETENTION_DAYS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from convsync.domain.conflict import Action, Verdict
from convsync.domain.model import MemberValue, Stage


class DecisionKind(StrEnum):
    IMPORTED = "imported"  # Salesforce's value written to Conversion
    IMPORTED_AS_DEFAULT = "imported_as_default"  # ... with the type's default status
    REMOVED_IN_CONVERSION = "removed_in_conversion"
    # Both sides changed and Conversion's value won: the outbound stage pushes it.
    KEPT_CONVERSION = "kept_conversion"
    AGREED = "agreed"  # both sides hold the same value: recorded as the base
    SKIPPED = "skipped"
    PUSHED = "pushed"
    REMOVED_IN_SALESFORCE = "removed_in_salesforce"
    DEAD_LETTERED = "dead_lettered"
    DEFERRED = "deferred"  # left for the next run's inbound stage to judge


@dataclass(frozen=True, slots=True)
class Decision:
    stage: Stage
    kind: DecisionKind
    rule: str
    conversion: MemberValue | None = None
    salesforce: MemberValue | None = None
    base: str | None = None
    conflict: bool = False


@dataclass(frozen=True, slots=True)
class RecordedDecision:
    """A decision as kept: when, in which run, about which member."""

    decided_at: datetime
    run_id: int | None
    decision: Decision


def inbound_decision(
    verdict: Verdict,
    conversion: MemberValue,
    salesforce: MemberValue,
    base: MemberValue | None,
    *,
    as_default_of: str | None = None,
) -> Decision | None:
    """The decision an inbound verdict records, or None when nothing happened here (the
    common case of a row read again by the window's overlap, or a Conversion change
    that the outbound stage pushes and records).

    `as_default_of`: the Salesforce label a member imported with the default status held.
    """
    kind: DecisionKind | None
    if verdict.action is Action.WRITE_CONVERSION:
        if not verdict.value.present:
            kind = DecisionKind.REMOVED_IN_CONVERSION
        elif as_default_of is not None:
            kind = DecisionKind.IMPORTED_AS_DEFAULT
        else:
            kind = DecisionKind.IMPORTED
    elif verdict.action is Action.WRITE_SALESFORCE and verdict.conflict:
        # Without a conflict the outbound stage's push is the decision worth keeping.
        kind = DecisionKind.KEPT_CONVERSION
    elif verdict.action is Action.RECORD_BASE:
        kind = DecisionKind.AGREED
    else:
        kind = None
    if kind is None:
        return None
    rule = verdict.rule.value
    if as_default_of is not None:
        rule += f"; Salesforce's {as_default_of!r} is not in the type (policy: default)"
    return Decision(
        Stage.INBOUND,
        kind,
        rule,
        conversion,
        salesforce,
        base.status if base else None,
        verdict.conflict,
    )
