"""The conflict rule: one pure function that decides, per member, what the sync does.

See "The conflict rule" in DESIGN.md. Everything that moves members applies a
`Verdict`; nothing else decides who wins.

Decisions recorded here (and in DESIGN.md):

- *Change* is detected by comparing statuses with the base, never timestamps, so a
  value the sync wrote (equal to the base) cannot echo back as a change.
- With no base (first sync), a side counts as changed unless it is `ABSENT`
  (no status and no time: "never existed here"). A tombstone that carries a removal
  time is a value like any other and competes by time, even on the first sync.
- Both changed to different values: the later `updated_at` wins; an exact tie goes to
  Salesforce (the side that lands first); a side without a time loses to one with a
  time; both without a time → Salesforce.
- A value the sync was writing to Salesforce when it stopped (killed after the write,
  before recording the base) is the base once Salesforce shows it: see `landed`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from convsync.domain.model import MemberValue, Side


class Action(StrEnum):
    """What applying a verdict does. `WRITE_<SIDE>` writes the agreed value *to* that side."""

    NOTHING = "nothing"
    WRITE_CONVERSION = "write_conversion"
    WRITE_SALESFORCE = "write_salesforce"
    RECORD_BASE = "record_base"


class Rule(StrEnum):
    """Which part of the rule decided a verdict, in words a user reads (`convsync explain`)."""

    AGREE = "both sides hold the same status"
    ONLY_CONVERSION_CHANGED = "only Conversion changed since the last sync"
    ONLY_SALESFORCE_CHANGED = "only Salesforce changed since the last sync"
    LATER_WINS = "both sides changed: the later change wins"
    TIE_GOES_TO_SALESFORCE = "both sides changed at the same instant: ties go to Salesforce"
    UNTIMED_LOSES = "both sides changed: a side without a time loses to one with a time"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The decision for one member.

    `value` is the agreed value once the verdict is applied, i.e. the new base
    (`status=None` means removed). For `NOTHING` with an existing base it is that base.
    `winner` is set only when a value moves; `conflict` is true when both sides changed
    to different values (reported as "conflicts won by <winner>").
    """

    action: Action
    value: MemberValue
    winner: Side | None
    conflict: bool
    # Why, for people (`convsync explain`); not part of what the verdict *does*.
    rule: Rule = field(default=Rule.AGREE, compare=False)

    @property
    def writes(self) -> bool:
        return self.action in (Action.WRITE_CONVERSION, Action.WRITE_SALESFORCE)


def counts_as_change(value: MemberValue, base: MemberValue | None) -> bool:
    """Whether `value` is news relative to `base`.

    Values, not clocks: a write the sync made carries a fresh timestamp but the base's
    status, so it is not a change. Without a base every side that holds something (a
    status, or a tombstone with its time) is news; `ABSENT` never is.
    """
    if base is None:
        return value.present or value.updated_at is not None
    return value.status != base.status


def landed(pushing: MemberValue | None, salesforce: MemberValue) -> bool:
    """Whether Salesforce holds the value an unfinished push was writing (`pushing`).

    The outbound stage records what it is about to write before writing it. If the
    chunk dies after the write but before recording the new base, Salesforce then holds
    a value with a fresh time that no user chose: judged against the old base it would
    look like a newer Salesforce change and overwrite a Conversion edit made meanwhile.
    Seeing that value, the sync knows it as its own write: it is the base.
    """
    return pushing is not None and pushing.status == salesforce.status


def _salesforce_wins_by_time(conversion: MemberValue, salesforce: MemberValue) -> bool:
    """Later `updated_at` wins; ties, and a missing Conversion time, go to Salesforce.

    Salesforce takes ties because its stage lands first: the value already imported is
    the one left standing, so a tie never causes a write back to Salesforce.
    """
    c_time, s_time = conversion.updated_at, salesforce.updated_at
    if c_time is None:
        return True
    if s_time is None:
        return False
    return s_time >= c_time


def _later(conversion: MemberValue, salesforce: MemberValue) -> MemberValue:
    return salesforce if _salesforce_wins_by_time(conversion, salesforce) else conversion


def _moves(
    winner: Side, conversion: MemberValue, salesforce: MemberValue, *, conflict: bool, rule: Rule
) -> Verdict:
    if winner is Side.CONVERSION:
        return Verdict(Action.WRITE_SALESFORCE, conversion, Side.CONVERSION, conflict, rule)
    return Verdict(Action.WRITE_CONVERSION, salesforce, Side.SALESFORCE, conflict, rule)


def _timed_rule(conversion: MemberValue, salesforce: MemberValue) -> Rule:
    if conversion.updated_at is None or salesforce.updated_at is None:
        return Rule.UNTIMED_LOSES
    if conversion.updated_at == salesforce.updated_at:
        return Rule.TIE_GOES_TO_SALESFORCE
    return Rule.LATER_WINS


def _agree(conversion: MemberValue, salesforce: MemberValue, base: MemberValue | None) -> Verdict:
    """Both sides hold the same status: nothing moves; remember the agreement if it is new."""
    agreed = _later(conversion, salesforce)
    if base is None:
        # Both sides never had the member: there is nothing to remember either.
        action = Action.NOTHING if agreed.status is None else Action.RECORD_BASE
        return Verdict(action, agreed, None, conflict=False)
    if base.status == agreed.status:
        return Verdict(Action.NOTHING, base, None, conflict=False)
    return Verdict(Action.RECORD_BASE, agreed, None, conflict=False)


def resolve(conversion: MemberValue, salesforce: MemberValue, base: MemberValue | None) -> Verdict:
    """Decide what happens to one member, given both sides and the last agreed value."""
    if conversion.status == salesforce.status:
        return _agree(conversion, salesforce, base)
    # The statuses differ, so at least one side differs from the base (or, with no base,
    # at least one side holds something): at least one side changed.
    if not counts_as_change(salesforce, base):
        return _moves(
            Side.CONVERSION,
            conversion,
            salesforce,
            conflict=False,
            rule=Rule.ONLY_CONVERSION_CHANGED,
        )
    if not counts_as_change(conversion, base):
        return _moves(
            Side.SALESFORCE,
            conversion,
            salesforce,
            conflict=False,
            rule=Rule.ONLY_SALESFORCE_CHANGED,
        )
    salesforce_wins = _salesforce_wins_by_time(conversion, salesforce)
    winner = Side.SALESFORCE if salesforce_wins else Side.CONVERSION
    return _moves(
        winner, conversion, salesforce, conflict=True, rule=_timed_rule(conversion, salesforce)
    )
