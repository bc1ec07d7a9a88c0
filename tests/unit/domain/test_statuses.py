"""Status gaps, the pre-flight summary, and aligning a new campaign's statuses."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convsync.domain.errors import ValidationError
from convsync.domain.model import CampaignType, MemberStatus, build_campaign_type
from convsync.domain.statuses import (
    AlignmentPlan,
    CreateStatus,
    DeleteStatus,
    SalesforceStatus,
    StatusGap,
    UpdateStatus,
    check_statuses,
    link_refusal,
    plan_status_alignment,
    preflight,
)


def _statuses(*labels: str) -> tuple[MemberStatus, ...]:
    return tuple(MemberStatus(label, sort_order=i + 1) for i, label in enumerate(labels))


# ------------------------------------------------------------------ gap


def test_same_labels_are_compatible() -> None:
    gap = check_statuses(_statuses("Sent", "Responded"), _statuses("Responded", "Sent"))
    assert gap.is_compatible


def test_type_label_missing_on_campaign_is_missing_in_salesforce() -> None:
    gap = check_statuses(_statuses("Sent", "Attended"), _statuses("Sent"))
    assert gap == StatusGap(missing_in_salesforce=("Attended",), missing_in_conversion=())


def test_campaign_label_missing_in_type_is_missing_in_conversion() -> None:
    gap = check_statuses(_statuses("Sent"), _statuses("Sent", "No Show"))
    assert gap == StatusGap(missing_in_salesforce=(), missing_in_conversion=("No Show",))


def test_labels_differing_only_in_case_do_not_match() -> None:
    gap = check_statuses(_statuses("sent"), _statuses("Sent"))
    assert gap == StatusGap(missing_in_salesforce=("sent",), missing_in_conversion=("Sent",))


def test_labels_differing_in_whitespace_do_not_match() -> None:
    assert not check_statuses(_statuses("Sent "), _statuses("Sent")).is_compatible


def test_gap_keeps_each_sides_order() -> None:
    gap = check_statuses(_statuses("C", "A", "B"), _statuses("Z", "Y"))
    assert gap.missing_in_salesforce == ("C", "A", "B")


# ------------------------------------------------------------------ pre-flight


def test_preflight_counts_members_each_gap_would_leave_behind() -> None:
    gap = StatusGap(missing_in_salesforce=("Attended",), missing_in_conversion=("No Show",))
    check = preflight(gap, {"No Show": 4, "Sent": 10}, {"Attended": 2, "Sent": 7})
    assert (dict(check.skipped_inbound), dict(check.dead_letter_outbound)) == (
        {"No Show": 4},
        {"Attended": 2},
    )


def test_preflight_lists_unused_missing_labels_with_zero() -> None:
    gap = StatusGap(missing_in_salesforce=("Attended",), missing_in_conversion=())
    assert dict(preflight(gap, {}, {}).dead_letter_outbound) == {"Attended": 0}


def test_preflight_totals() -> None:
    gap = StatusGap(missing_in_salesforce=("A", "B"), missing_in_conversion=("C",))
    check = preflight(gap, {"C": 3}, {"A": 1, "B": 2})
    assert (check.skipped_total, check.dead_letter_total) == (3, 3)


def test_preflight_counts_are_read_only() -> None:
    check = preflight(StatusGap((), ("C",)), {"C": 1}, {})
    with pytest.raises(TypeError):
        check.skipped_inbound["C"] = 2  # type: ignore[index]


def test_link_refused_when_salesforce_statuses_in_use_are_missing_in_type() -> None:
    check = preflight(StatusGap((), ("No Show", "Waitlist")), {"No Show": 3}, {})
    reason = link_refusal(check)
    assert reason is not None
    assert "'No Show' (3)" in reason
    assert "Waitlist" not in reason
    assert "--force" in reason
    assert "\n" not in reason


def test_link_not_refused_when_missing_salesforce_statuses_are_unused() -> None:
    check = preflight(StatusGap((), ("No Show",)), {"No Show": 0}, {})
    assert link_refusal(check) is None


def test_link_not_refused_for_statuses_missing_in_salesforce() -> None:
    check = preflight(StatusGap(("Attended",), ()), {}, {"Attended": 5})
    assert link_refusal(check) is None


# ------------------------------------------------------------------ alignment


class SalesforceRuleError(Exception):
    """A step Salesforce would refuse."""


class FakeCampaignStatuses:
    """CampaignMemberStatus rows of one campaign, with Salesforce's rules.

    Making a row the default clears the previous default. Refused: clearing the default
    flag of the default row, deleting the default or an in-use row, leaving no responded
    status, and repeating a label or a sort order.
    """

    def __init__(self, rows: list[SalesforceStatus], in_use: frozenset[str] = frozenset()):
        self.rows = {row.id: row.status for row in rows}
        self.in_use = in_use
        self._next_id = itertools.count(100)
        self._check()

    def _check(self) -> None:
        values = list(self.rows.values())
        if sum(v.is_default for v in values) != 1:
            raise SalesforceRuleError("exactly one default required")
        if not any(v.has_responded for v in values):
            raise SalesforceRuleError("at least one responded status required")
        if len({v.label for v in values}) != len(values):
            raise SalesforceRuleError("duplicate label")
        if len({v.sort_order for v in values}) != len(values):
            raise SalesforceRuleError("duplicate sort order")

    def _put(self, key: str, status: MemberStatus) -> None:
        if status.is_default:
            for other, value in self.rows.items():
                if other != key:
                    self.rows[other] = replace(value, is_default=False)
        self.rows[key] = status

    def create(self, status: MemberStatus) -> None:
        self._put(f"01Y{next(self._next_id)}", status)
        self._check()

    def update(self, row_id: str, status: MemberStatus) -> None:
        if self.rows[row_id].is_default and not status.is_default:
            raise SalesforceRuleError("cannot clear the default flag of the default status")
        self._put(row_id, status)
        self._check()

    def delete(self, row_id: str) -> None:
        if self.rows[row_id].is_default:
            raise SalesforceRuleError("cannot delete the default status")
        if self.rows[row_id].label in self.in_use:
            raise SalesforceRuleError("cannot delete a status in use")
        del self.rows[row_id]
        self._check()

    def apply(self, plan: AlignmentPlan) -> None:
        for step in plan.steps:
            if isinstance(step, CreateStatus):
                self.create(step.status)
            elif isinstance(step, UpdateStatus):
                self.update(step.id, step.status)
            else:
                self.delete(step.id)

    def statuses(self) -> set[MemberStatus]:
        return set(self.rows.values())


SENT = SalesforceStatus("01Y000000000001", MemberStatus("Sent", is_default=True, sort_order=1))
RESPONDED = SalesforceStatus(
    "01Y000000000002", MemberStatus("Responded", has_responded=True, sort_order=2)
)
SALESFORCE_DEFAULTS = [SENT, RESPONDED]


def _aligned(campaign_type: CampaignType, existing: list[SalesforceStatus]) -> AlignmentPlan:
    """Plan, apply on the fake, and check the campaign now matches the type exactly."""
    plan = plan_status_alignment(campaign_type, existing)
    fake = FakeCampaignStatuses(existing)
    fake.apply(plan)
    assert fake.statuses() == set(campaign_type.statuses)
    return plan


def test_type_identical_to_salesforce_defaults_needs_no_steps() -> None:
    campaign_type = build_campaign_type("Email", ["Sent", "Responded"])
    assert _aligned(campaign_type, SALESFORCE_DEFAULTS).is_empty


def test_type_without_sent_replaces_salesforce_defaults() -> None:
    campaign_type = build_campaign_type(
        "Webinar", ["Invited", "Attended", "No Show"], responded=["Attended"]
    )
    plan = _aligned(campaign_type, SALESFORCE_DEFAULTS)
    assert {d.id for d in plan.deletes} == {SENT.id, RESPONDED.id}


def test_type_where_sent_exists_but_is_not_default_keeps_the_sent_row() -> None:
    campaign_type = build_campaign_type(
        "Event", ["Invited", "Sent", "Responded"], responded=["Responded"]
    )
    plan = _aligned(campaign_type, SALESFORCE_DEFAULTS)
    assert SENT.id not in {d.id for d in plan.deletes}


def test_type_with_one_status_both_default_and_responded() -> None:
    campaign_type = build_campaign_type("Signup", ["Registered"])
    plan = _aligned(campaign_type, SALESFORCE_DEFAULTS)
    assert [c.status.label for c in plan.creates] == ["Registered"]


def test_type_swapping_default_and_responded_between_kept_rows() -> None:
    campaign_type = CampaignType(
        "Odd",
        (
            MemberStatus("Responded", is_default=True, sort_order=1),
            MemberStatus("Sent", has_responded=True, sort_order=2),
        ),
    )
    plan = _aligned(campaign_type, SALESFORCE_DEFAULTS)
    assert not plan.creates
    assert not plan.deletes


def test_type_reusing_existing_sort_orders_for_new_labels() -> None:
    campaign_type = build_campaign_type("Webinar", ["Invited", "Attended"])
    plan = _aligned(campaign_type, SALESFORCE_DEFAULTS)
    assert [c.status.sort_order for c in plan.creates] == [1, 2]


def test_label_differing_only_in_case_is_renamed_not_recreated() -> None:
    campaign_type = build_campaign_type("Email", ["sent", "responded"])
    plan = _aligned(campaign_type, SALESFORCE_DEFAULTS)
    assert (len(plan.updates), plan.creates, plan.deletes) == (2, (), ())


def test_status_only_salesforce_has_is_deleted_even_when_default() -> None:
    existing = [
        *SALESFORCE_DEFAULTS,
        SalesforceStatus("01Y000000000003", MemberStatus("Clicked", sort_order=3)),
    ]
    campaign_type = build_campaign_type("Email", ["Clicked", "Responded"])
    plan = _aligned(campaign_type, existing)
    assert [d.id for d in plan.deletes] == [SENT.id]


def test_plan_creates_and_updates_before_it_deletes() -> None:
    campaign_type = build_campaign_type("Webinar", ["Invited", "Attended"])
    kinds = [type(step) for step in plan_status_alignment(campaign_type, SALESFORCE_DEFAULTS).steps]
    first_delete = kinds.index(DeleteStatus)
    assert all(kind is DeleteStatus for kind in kinds[first_delete:])


def test_type_without_responded_status_is_refused() -> None:
    campaign_type = CampaignType("Bad", (MemberStatus("Sent", is_default=True, sort_order=1),))
    with pytest.raises(ValidationError, match="responded"):
        plan_status_alignment(campaign_type, SALESFORCE_DEFAULTS)


def test_type_without_default_is_refused() -> None:
    campaign_type = CampaignType("Bad", (MemberStatus("Sent", has_responded=True, sort_order=1),))
    with pytest.raises(ValidationError, match="default"):
        plan_status_alignment(campaign_type, SALESFORCE_DEFAULTS)


def test_type_with_repeated_sort_order_is_refused() -> None:
    campaign_type = CampaignType(
        "Bad",
        (
            MemberStatus("Sent", is_default=True, sort_order=1),
            MemberStatus("Responded", has_responded=True, sort_order=1),
        ),
    )
    with pytest.raises(ValidationError, match="sort order"):
        plan_status_alignment(campaign_type, SALESFORCE_DEFAULTS)


LABELS = ["Sent", "Responded", "Invited", "Attended", "No Show", "sent", "Opened"]


@st.composite
def campaign_types(draw: st.DrawFn) -> CampaignType:
    labels = draw(st.lists(st.sampled_from(LABELS), min_size=1, max_size=5, unique_by=str.casefold))
    default = draw(st.sampled_from(labels))
    responded = draw(st.lists(st.sampled_from(labels), max_size=3))
    return build_campaign_type("T", labels, default=default, responded=responded)


@st.composite
def existing_rows(draw: st.DrawFn) -> list[SalesforceStatus]:
    labels = draw(st.lists(st.sampled_from(LABELS), min_size=1, max_size=5, unique=True))
    orders = draw(st.permutations(range(1, len(labels) + 3)))
    default = draw(st.integers(0, len(labels) - 1))
    responded = draw(st.sets(st.integers(0, len(labels) - 1), min_size=1))
    return [
        SalesforceStatus(
            f"01Y{i:012d}",
            MemberStatus(label, i == default, i in responded, orders[i]),
        )
        for i, label in enumerate(labels)
    ]


@given(campaign_types(), existing_rows())
def test_any_plan_keeps_salesforce_rules_at_every_step_and_ends_equal_to_type(
    campaign_type: CampaignType, existing: list[SalesforceStatus]
) -> None:
    _aligned(campaign_type, existing)


@given(campaign_types(), existing_rows())
def test_planning_again_after_applying_needs_no_steps(
    campaign_type: CampaignType, existing: list[SalesforceStatus]
) -> None:
    fake = FakeCampaignStatuses(existing)
    fake.apply(plan_status_alignment(campaign_type, existing))
    after = [SalesforceStatus(key, status) for key, status in fake.rows.items()]
    assert plan_status_alignment(campaign_type, after).is_empty
