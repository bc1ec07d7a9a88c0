"""Status translation and policies per link: the pure rules, as tables."""

from __future__ import annotations

import pytest

from convsync.domain.errors import ValidationError
from convsync.domain.model import MemberStatus, build_campaign_type
from convsync.domain.status_rules import (
    InboundUnknown,
    OutboundAction,
    OutboundUnknown,
    StatusPolicy,
    status_rules,
    statuses_to_create,
)
from convsync.domain.statuses import check_statuses, link_refusal, preflight

WEBINAR = build_campaign_type("Webinar", ["Invited", "Registered", "Attended"])
MAPPED = {"Attended": "Attended - Webinar"}
SF = [MemberStatus("Invited", is_default=True), MemberStatus("Registered", sort_order=2)]


@pytest.mark.parametrize(
    ("status", "label"),
    [
        ("Attended", "Attended - Webinar"),  # mapped
        ("Invited", "Invited"),  # unmapped: its own name
    ],
)
def test_a_conversion_status_is_written_under_its_mapped_label_or_its_own_name(
    status: str, label: str
) -> None:
    assert status_rules(WEBINAR, MAPPED).salesforce_label(status) == label


@pytest.mark.parametrize(
    ("label", "status"),
    [
        ("Attended - Webinar", "Attended"),  # the mapped label reads back as its status
        ("Registered", "Registered"),  # an unmapped status reads as itself
        ("Attended", None),  # a status mapped away is known only by its label
        ("Waitlisted", None),  # not in the type
        ("attended - webinar", None),  # labels are compared exactly
    ],
)
def test_a_salesforce_label_reads_back_as_at_most_one_conversion_status(
    label: str, status: str | None
) -> None:
    assert status_rules(WEBINAR, MAPPED).conversion_status(label) == status


@pytest.mark.parametrize(
    ("policy", "label", "status", "as_default"),
    [
        (InboundUnknown.SKIP, "Attended - Webinar", "Attended", False),
        (InboundUnknown.SKIP, "Waitlisted", None, False),
        (InboundUnknown.DEFAULT, "Waitlisted", "Invited", True),
        (InboundUnknown.DEFAULT, "Registered", "Registered", False),
    ],
)
def test_inbound_a_status_the_type_lacks_is_skipped_or_imported_as_the_default(
    policy: InboundUnknown, label: str, status: str | None, as_default: bool
) -> None:
    rules = status_rules(WEBINAR, MAPPED, StatusPolicy(inbound_unknown=policy))

    decision = rules.inbound(label)

    assert (decision.status, decision.as_default) == (status, as_default)
    assert (decision.reason is None) == (status is not None and not as_default)


def test_a_skip_of_a_status_mapped_away_says_where_it_went() -> None:
    reason = status_rules(WEBINAR, MAPPED).inbound("Attended").reason

    assert reason is not None
    assert "mapped to 'Attended - Webinar'" in reason


@pytest.mark.parametrize(
    ("policy", "status", "on_campaign", "label", "action"),
    [
        (OutboundUnknown.DEAD_LETTER, "Attended", ["Attended - Webinar"], "Attended - Webinar",
         OutboundAction.WRITE),
        (OutboundUnknown.DEAD_LETTER, "Attended", ["Attended"], "Attended - Webinar",
         OutboundAction.DEAD_LETTER),
        (OutboundUnknown.CREATE, "Attended", ["Invited"], "Attended - Webinar",
         OutboundAction.CREATE_STATUS),
        (OutboundUnknown.CREATE, "Invited", ["Invited"], "Invited", OutboundAction.WRITE),
    ],
)  # fmt: skip
def test_outbound_a_status_the_campaign_lacks_is_dead_lettered_or_created(
    policy: OutboundUnknown,
    status: str,
    on_campaign: list[str],
    label: str,
    action: OutboundAction,
) -> None:
    rules = status_rules(WEBINAR, MAPPED, StatusPolicy(outbound_unknown=policy))

    decision = rules.outbound(status, on_campaign)

    assert (decision.label, decision.action) == (label, action)


@pytest.mark.parametrize(
    ("mapping", "error"),
    [
        ({"Waitlisted": "Wait"}, "'Waitlisted' is not a status of campaign type 'Webinar'"),
        ({"Attended": "  "}, "must not be empty"),
        ({"Attended": "x" * 41}, "longer than 40 characters"),
        ({"Attended": "Registered"}, "'Registered' and 'Attended' would both be 'Registered'"),
        ({"Attended": "Done", "Registered": "done"}, "would both be"),
    ],
)
def test_a_mapping_that_would_make_two_statuses_one_label_or_that_salesforce_cannot_hold_is_refused(
    mapping: dict[str, str], error: str
) -> None:
    with pytest.raises(ValidationError, match=error):
        status_rules(WEBINAR, mapping)


def test_statuses_may_swap_labels() -> None:
    rules = status_rules(WEBINAR, {"Attended": "Registered", "Registered": "Attended"})

    assert rules.conversion_status("Registered") == "Attended"
    assert rules.conversion_status("Attended") == "Registered"


def test_a_status_mapped_to_its_own_name_is_not_a_mapping() -> None:
    assert dict(status_rules(WEBINAR, {"Attended": "Attended"}).mapping) == {}


def test_the_type_in_salesforce_carries_the_mapped_labels_and_the_same_flags() -> None:
    in_salesforce = status_rules(WEBINAR, MAPPED).in_salesforce()

    assert [s.label for s in in_salesforce.statuses] == [
        "Invited",
        "Registered",
        "Attended - Webinar",
    ]
    assert [s.has_responded for s in in_salesforce.statuses] == [False, False, True]


def test_the_create_policy_adds_each_missing_label_once_after_the_existing_rows() -> None:
    rules = status_rules(WEBINAR, MAPPED, StatusPolicy(outbound_unknown=OutboundUnknown.CREATE))

    created = statuses_to_create(rules, {"Attended", "Invited", "Registered", "Gone"}, SF)

    assert created == (
        MemberStatus("Attended - Webinar", is_default=False, has_responded=True, sort_order=3),
    )


def test_the_dead_letter_policy_creates_nothing() -> None:
    assert statuses_to_create(status_rules(WEBINAR, MAPPED), {"Attended"}, SF) == ()


# ---------------------------------------------------------------- the pre-flight check


def test_the_preflight_check_compares_mapped_labels() -> None:
    rules = status_rules(WEBINAR, MAPPED)
    campaign = [*SF, MemberStatus("Attended - Webinar", sort_order=3)]

    gap = check_statuses(WEBINAR.statuses, campaign, rules)

    assert gap.is_compatible
    assert dict(gap.labels) == {"Attended": "Attended - Webinar"}


def test_the_preflight_check_names_a_mapped_status_salesforce_lacks_and_its_leftover() -> None:
    rules = status_rules(WEBINAR, MAPPED)
    campaign = [*SF, MemberStatus("Attended", sort_order=3)]

    gap = check_statuses(WEBINAR.statuses, campaign, rules)

    assert gap.missing_in_salesforce == ("Attended",)
    assert gap.missing_in_conversion == ("Attended",)  # the Salesforce label, unknown here


@pytest.mark.parametrize(
    ("policy", "refused"), [(InboundUnknown.SKIP, True), (InboundUnknown.DEFAULT, False)]
)
def test_linking_is_refused_for_statuses_in_use_unless_they_import_as_the_default(
    policy: InboundUnknown, refused: bool
) -> None:
    rules = status_rules(WEBINAR, {}, StatusPolicy(inbound_unknown=policy))
    gap = check_statuses(WEBINAR.statuses, [*SF, MemberStatus("Waitlisted")], rules)

    check = preflight(gap, {"Waitlisted": 3}, {}, rules.policy)

    assert (link_refusal(check) is not None) == refused
