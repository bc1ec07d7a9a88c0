"""The conflict rule, as a table over every combination that matters, plus named cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convsync.domain.conflict import Action, Rule, Verdict, counts_as_change, landed, resolve
from convsync.domain.model import ABSENT, MemberValue, Side

T0 = datetime(2024, 1, 1, tzinfo=UTC)  # when the base was agreed
T1 = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)
T2 = datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
FAR_FUTURE = datetime(2999, 1, 1, tzinfo=UTC)

# ------------------------------------------------------------------ the exhaustive table
#
# Bases: none (never synced), "A" (both held A), removed (both agreed it was removed).
# Each side: A, B, C, R (removed: a tombstone carrying its time), N (absent, never seen
# here: no status, no time). Cells, read row = Conversion, column = Salesforce:
#   -  nothing        =  record the base (both already agree)
#   C  Conversion's value is written to Salesforce (only Conversion changed)
#   S  Salesforce's value is written to Conversion (only Salesforce changed)
#   T  both changed to different values: time decides, and it is a conflict
GRID = {
    "none": """
        A B C R N
      A = T T T C
      B T = T T C
      C T T = T C
      R T T T - -
      N S S S - -
    """,
    "A": """
        A B C R N
      A - S S S S
      B C = T T T
      C C T = T T
      R C T T = =
      N C T T = =
    """,
    "removed": """
        A B C R N
      A = T T C C
      B T = T C C
      C T T = C C
      R S S S - -
      N S S S - -
    """,
}
BASES: dict[str, MemberValue | None] = {
    "none": None,
    "A": MemberValue("A", T0),
    "removed": MemberValue(None, T0),
}
SIDE_STATUS: dict[str, str | None] = {"A": "A", "B": "B", "C": "C", "R": None, "N": None}

# Clocks: (Conversion's time, Salesforce's time). "skew" gives the side that did not
# change a far-future clock (when both changed, Conversion gets it).
TIMINGS = ("c-later", "s-later", "tie", "skew")


def _parse(grid: str) -> dict[tuple[str, str], str]:
    rows = [line.split() for line in grid.strip().splitlines()]
    columns = rows[0]
    return {
        (row[0], col): cell for row in rows[1:] for col, cell in zip(columns, row[1:], strict=True)
    }


def _clocks(timing: str, c_changed: bool, s_changed: bool) -> tuple[datetime, datetime]:
    if timing == "c-later":
        return T2, T1
    if timing == "s-later":
        return T1, T2
    if timing == "tie":
        return T1, T1
    if not s_changed:
        return T1, FAR_FUTURE
    if not c_changed:
        return FAR_FUTURE, T1
    return FAR_FUTURE, T1


def _value(code: str, at: datetime) -> MemberValue:
    return ABSENT if code == "N" else MemberValue(SIDE_STATUS[code], at)


@dataclass(frozen=True)
class Case:
    base: MemberValue | None
    conversion: MemberValue
    salesforce: MemberValue
    expected_action: Action
    expected_winner: Side | None
    expected_conflict: bool
    expected_status: str | None


def _by_time(conversion: MemberValue, salesforce: MemberValue) -> Side:
    """The documented tie rule, spelled out: later wins, tie/no time → Salesforce."""
    if conversion.updated_at is None:
        return Side.SALESFORCE
    if salesforce.updated_at is None:
        return Side.CONVERSION
    return Side.CONVERSION if conversion.updated_at > salesforce.updated_at else Side.SALESFORCE


def _case(base_name: str, c_code: str, s_code: str, cell: str, timing: str) -> Case:
    base = BASES[base_name]
    c_changed = cell in "CT"
    s_changed = cell in "ST"
    c_time, s_time = _clocks(timing, c_changed, s_changed)
    conversion, salesforce = _value(c_code, c_time), _value(s_code, s_time)
    if cell == "-":
        return Case(base, conversion, salesforce, Action.NOTHING, None, False, SIDE_STATUS[c_code])
    if cell == "=":
        status = SIDE_STATUS[c_code]
        return Case(base, conversion, salesforce, Action.RECORD_BASE, None, False, status)
    winner = {"C": Side.CONVERSION, "S": Side.SALESFORCE}.get(cell) or _by_time(
        conversion, salesforce
    )
    action = Action.WRITE_SALESFORCE if winner is Side.CONVERSION else Action.WRITE_CONVERSION
    won = conversion if winner is Side.CONVERSION else salesforce
    return Case(base, conversion, salesforce, action, winner, cell == "T", won.status)


TABLE = [
    pytest.param(
        _case(base_name, c_code, s_code, cell, timing),
        id=f"base={base_name}|c={c_code}|s={s_code}|{timing}",
    )
    for base_name, grid in GRID.items()
    for (c_code, s_code), cell in _parse(grid).items()
    for timing in TIMINGS
]


def test_table_covers_every_combination() -> None:
    assert len(TABLE) == len(BASES) * len(SIDE_STATUS) ** 2 * len(TIMINGS)


@pytest.mark.parametrize("case", TABLE)
def test_conflict_table(case: Case) -> None:
    verdict = resolve(case.conversion, case.salesforce, case.base)
    assert (verdict.action, verdict.winner, verdict.conflict, verdict.value.status) == (
        case.expected_action,
        case.expected_winner,
        case.expected_conflict,
        case.expected_status,
    )


# ------------------------------------------------------------------ named behaviours


def test_value_written_by_sync_never_echoes() -> None:
    base = MemberValue("Responded", T1)
    # The sync wrote "Responded" to Salesforce; the write stamped a newer time there.
    verdict = resolve(MemberValue("Responded", T1), MemberValue("Responded", T2), base)
    assert verdict.action is Action.NOTHING


def test_unchanged_side_never_overwrites_changed_side_even_with_future_clock() -> None:
    base = MemberValue("Sent", T0)
    verdict = resolve(MemberValue("Sent", FAR_FUTURE), MemberValue("Responded", T1), base)
    assert (verdict.action, verdict.value.status) == (Action.WRITE_CONVERSION, "Responded")


def test_exact_tie_goes_to_salesforce() -> None:
    verdict = resolve(
        MemberValue("Opened", T1), MemberValue("Clicked", T1), MemberValue("Sent", T0)
    )
    assert (verdict.winner, verdict.action) == (Side.SALESFORCE, Action.WRITE_CONVERSION)


def test_later_change_wins_when_both_changed() -> None:
    verdict = resolve(
        MemberValue("Opened", T2), MemberValue("Clicked", T1), MemberValue("Sent", T0)
    )
    assert (verdict.winner, verdict.value.status) == (Side.CONVERSION, "Opened")


def test_both_changed_to_different_values_is_a_conflict() -> None:
    verdict = resolve(
        MemberValue("Opened", T2), MemberValue("Clicked", T1), MemberValue("Sent", T0)
    )
    assert verdict.conflict


def test_one_side_changed_is_not_a_conflict() -> None:
    verdict = resolve(MemberValue("Opened", T2), MemberValue("Sent", T1), MemberValue("Sent", T0))
    assert not verdict.conflict


def test_side_without_time_loses_to_side_with_time() -> None:
    verdict = resolve(MemberValue("Opened", None), MemberValue("Clicked", T1), None)
    assert verdict.winner is Side.SALESFORCE


def test_both_without_time_goes_to_salesforce() -> None:
    verdict = resolve(MemberValue("Opened", None), MemberValue("Clicked", None), None)
    assert verdict.winner is Side.SALESFORCE


def test_removal_loses_to_later_change_on_other_side() -> None:
    verdict = resolve(MemberValue(None, T1), MemberValue("Responded", T2), MemberValue("Sent", T0))
    assert (verdict.action, verdict.value.status) == (Action.WRITE_CONVERSION, "Responded")


def test_removal_wins_over_earlier_change() -> None:
    verdict = resolve(MemberValue(None, T2), MemberValue("Responded", T1), MemberValue("Sent", T0))
    assert (verdict.action, verdict.value) == (Action.WRITE_SALESFORCE, MemberValue(None, T2))


def test_removal_on_one_side_is_copied_when_other_side_unchanged() -> None:
    verdict = resolve(MemberValue("Sent", FAR_FUTURE), ABSENT, MemberValue("Sent", T0))
    assert (verdict.action, verdict.value.status) == (Action.WRITE_CONVERSION, None)


def test_member_added_back_after_agreed_removal_is_revived_on_other_side() -> None:
    verdict = resolve(MemberValue("Sent", T1), ABSENT, MemberValue(None, T0))
    assert (verdict.action, verdict.value.status) == (Action.WRITE_SALESFORCE, "Sent")


def test_first_sync_member_only_on_one_side_is_copied() -> None:
    verdict = resolve(ABSENT, MemberValue("Sent", T1), None)
    assert (verdict.action, verdict.winner) == (Action.WRITE_CONVERSION, Side.SALESFORCE)


def test_first_sync_member_only_on_conversion_is_copied_even_without_time() -> None:
    verdict = resolve(MemberValue("Sent", None), ABSENT, None)
    assert verdict.action is Action.WRITE_SALESFORCE


def test_first_sync_member_on_both_sides_with_different_statuses_is_decided_by_time() -> None:
    verdict = resolve(MemberValue("Sent", T1), MemberValue("Responded", T2), None)
    assert (verdict.winner, verdict.conflict) == (Side.SALESFORCE, True)


def test_first_sync_tombstone_competes_by_time() -> None:
    verdict = resolve(MemberValue(None, T2), MemberValue("Sent", T1), None)
    assert (verdict.action, verdict.value.status) == (Action.WRITE_SALESFORCE, None)


def test_first_sync_same_status_on_both_sides_records_the_base() -> None:
    verdict = resolve(MemberValue("Sent", T1), MemberValue("Sent", T2), None)
    assert (verdict.action, verdict.value) == (Action.RECORD_BASE, MemberValue("Sent", T2))


def test_both_absent_without_base_is_nothing() -> None:
    assert resolve(ABSENT, ABSENT, None).action is Action.NOTHING


def test_both_changed_to_same_value_records_the_base_without_writing() -> None:
    verdict = resolve(MemberValue("Opened", T1), MemberValue("Opened", T2), MemberValue("Sent", T0))
    assert (verdict.action, verdict.value.status) == (Action.RECORD_BASE, "Opened")


def test_nothing_keeps_the_existing_base_as_value() -> None:
    base = MemberValue("Sent", T0)
    assert resolve(MemberValue("Sent", T1), MemberValue("Sent", T2), base).value == base


def test_verdict_value_carries_winners_timestamp() -> None:
    verdict = resolve(MemberValue("Opened", T2), MemberValue("Sent", T0), MemberValue("Sent", T0))
    assert verdict.value == MemberValue("Opened", T2)


def test_counts_as_change_compares_status_not_time() -> None:
    assert not counts_as_change(MemberValue("Sent", FAR_FUTURE), MemberValue("Sent", T0))


def test_counts_as_change_without_base_ignores_absent() -> None:
    assert not counts_as_change(ABSENT, None)


def test_counts_as_change_without_base_counts_tombstone_with_time() -> None:
    assert counts_as_change(MemberValue(None, T1), None)


def test_a_push_salesforce_shows_has_landed() -> None:
    assert landed(MemberValue("B"), MemberValue("B", T2))


def test_a_push_salesforce_does_not_show_has_not_landed() -> None:
    assert not landed(MemberValue("B"), MemberValue("C", T2))


def test_a_pushed_removal_has_landed_when_salesforce_shows_the_member_removed() -> None:
    assert landed(MemberValue(None), MemberValue(None, T2))


def test_nothing_pending_never_landed() -> None:
    assert not landed(None, MemberValue(None, T2))


def test_a_landed_push_as_base_lets_a_later_conversion_edit_win_over_it() -> None:
    # Pushed B at T2 (Salesforce's stamp); Conversion changed to C at T1, before the push
    # wrote: Salesforce's B is the sync's own write, not a change.
    salesforce = MemberValue("B", T2)
    verdict = resolve(MemberValue("C", T1), salesforce, MemberValue(salesforce.status))
    assert verdict == Verdict(Action.WRITE_SALESFORCE, MemberValue("C", T1), Side.CONVERSION, False)


# ------------------------------------------------------------------ properties

statuses = st.sampled_from(["Sent", "Opened", "Responded", None])
times = st.one_of(
    st.none(),
    st.datetimes(
        min_value=datetime(2020, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
        max_value=datetime(2030, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
)
values = st.builds(MemberValue, statuses, times)
bases = st.one_of(st.none(), values)


def _apply(
    verdict: Verdict,
    conversion: MemberValue,
    salesforce: MemberValue,
    base: MemberValue | None,
    write_time: datetime | None,
) -> tuple[MemberValue, MemberValue, MemberValue | None]:
    """What the sync does with a verdict; a write stamps the written side with a new time."""
    if verdict.action is Action.NOTHING:
        return conversion, salesforce, base
    if verdict.action is Action.WRITE_CONVERSION:
        conversion = MemberValue(verdict.value.status, write_time)
    elif verdict.action is Action.WRITE_SALESFORCE:
        salesforce = MemberValue(verdict.value.status, write_time)
    return conversion, salesforce, verdict.value


@given(values, values, bases, times)
def test_applying_a_verdict_then_resolving_again_does_nothing(
    conversion: MemberValue,
    salesforce: MemberValue,
    base: MemberValue | None,
    write_time: datetime | None,
) -> None:
    verdict = resolve(conversion, salesforce, base)
    after = _apply(verdict, conversion, salesforce, base, write_time)
    assert resolve(*after).action is Action.NOTHING


@given(values, values, bases)
def test_winners_value_is_one_of_the_inputs(
    conversion: MemberValue, salesforce: MemberValue, base: MemberValue | None
) -> None:
    verdict = resolve(conversion, salesforce, base)
    if verdict.winner is not None:
        expected = conversion if verdict.winner is Side.CONVERSION else salesforce
        assert verdict.value == expected


@given(values, values, bases)
def test_write_goes_to_the_side_that_lost(
    conversion: MemberValue, salesforce: MemberValue, base: MemberValue | None
) -> None:
    verdict = resolve(conversion, salesforce, base)
    if verdict.winner is Side.CONVERSION:
        assert verdict.action is Action.WRITE_SALESFORCE
    elif verdict.winner is Side.SALESFORCE:
        assert verdict.action is Action.WRITE_CONVERSION
    else:
        assert not verdict.writes


@given(st.sampled_from(["Sent", "Opened", None]), values, values)
def test_only_changed_side_wins_whatever_the_clocks(
    base_status: str | None, conversion: MemberValue, salesforce: MemberValue
) -> None:
    base = MemberValue(base_status, T0)
    c_changed = conversion.status != base_status
    s_changed = salesforce.status != base_status
    verdict = resolve(conversion, salesforce, base)
    if c_changed and not s_changed:
        assert verdict.winner is Side.CONVERSION
    elif s_changed and not c_changed:
        assert verdict.winner is Side.SALESFORCE


# ---------------------------------------------------------------- the rule that decided

_T0 = datetime(2026, 1, 1, 9, tzinfo=UTC)
_T1 = datetime(2026, 1, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("conversion", "salesforce", "base", "rule"),
    [
        (MemberValue("A", _T0), MemberValue("A", _T1), MemberValue("B"), Rule.AGREE),
        (MemberValue("A", _T1), MemberValue("B", _T0), MemberValue("B"),
         Rule.ONLY_CONVERSION_CHANGED),
        (MemberValue("B", _T1), MemberValue("A", _T0), MemberValue("B"),
         Rule.ONLY_SALESFORCE_CHANGED),
        (ABSENT, MemberValue("A", _T0), None, Rule.ONLY_SALESFORCE_CHANGED),
        (MemberValue("A", _T1), MemberValue("C", _T0), MemberValue("B"), Rule.LATER_WINS),
        (MemberValue("A", _T1), MemberValue("C", _T1), MemberValue("B"),
         Rule.TIE_GOES_TO_SALESFORCE),
        (MemberValue("A", None), MemberValue("C", _T0), MemberValue("B"), Rule.UNTIMED_LOSES),
    ],
)  # fmt: skip
def test_a_verdict_names_the_part_of_the_rule_that_decided_it(
    conversion: MemberValue, salesforce: MemberValue, base: MemberValue | None, rule: Rule
) -> None:
    assert resolve(conversion, salesforce, base).rule is rule
