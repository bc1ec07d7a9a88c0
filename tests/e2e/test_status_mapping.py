"""No member lost to a status: translation per link (both ways), the inbound and
outbound policies, and the re-evaluation of skipped and dead-lettered members when a
mapping or a policy changes. On a real worker.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from simple_salesforce import format_soql

from convsync.salesforce.soql import parse_datetime
from convsync.salesforce_emulator.testing import EmulatorHandle, simple_salesforce_client
from convsync.sync.context import OVERLAP
from convsync.workers.app import app
from tests.support.scenario import (
    WEBINAR_STATUSES,
    add_salesforce_member,
    cli,
    cli_fails,
    cli_json,
    conversion_campaign,
    conversion_type,
    dead_letters,
    eventually,
    link_status,
    members_here,
    one_line_error,
    salesforce_campaign,
    salesforce_members,
    salesforce_statuses,
    skipped_here,
    succeeded_run,
)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("worker")]

# A Salesforce campaign that calls the type's "Attended" "Attended - Webinar".
WEBINAR_LABELS = [
    ("Invited", True, False),
    ("Registered", False, False),
    ("Attended - Webinar", False, True),
]
WITHOUT_ATTENDED = [("Invited", True, False), ("Registered", False, True)]


def spring(members: dict[str, str] | None = None) -> None:
    conversion_type("Webinar", WEBINAR_STATUSES)
    conversion_campaign("Spring", "Webinar", members)


def skipped_at_link(
    org: EmulatorHandle, statuses: list[tuple[str, bool, bool]], email: str, status: str
) -> str:
    """Spring linked (with --force) to a Salesforce campaign whose member `email` holds a
    status the type lacks, and one more member; returns the Salesforce campaign id."""
    sf = salesforce_campaign(
        org, "Spring SF", statuses, [(email, status), ("recent@example.com", "Invited")]
    )
    cli("link", "Spring", "--salesforce-campaign", sf["id"], "--force")
    assert succeeded_run("Spring")["counts"]["skipped"] == 1
    return str(sf["id"])


def last_run_id() -> int:
    return int(link_status("Spring")["last_run"]["id"])


# ---------------------------------------------------------------- translation


def test_a_mapped_status_is_pushed_under_its_salesforce_label(org: EmulatorHandle) -> None:
    spring({"vip@example.com": "Attended"})
    sf = salesforce_campaign(org, "Spring SF", WEBINAR_LABELS, [])
    cli("mapping", "set", "Spring", "Attended", "Attended - Webinar")

    cli("link", "Spring", "--salesforce-campaign", sf["id"])

    succeeded_run("Spring")
    assert salesforce_members(org, sf["id"]) == {"vip@example.com": "Attended - Webinar"}
    assert dead_letters("Spring") == []


def test_a_mapped_salesforce_label_is_imported_as_its_conversion_status(
    org: EmulatorHandle,
) -> None:
    spring()
    sf = salesforce_campaign(
        org, "Spring SF", WEBINAR_LABELS, [("ann@example.com", "Attended - Webinar")]
    )
    cli("mapping", "set", "Spring", "Attended", "Attended - Webinar")

    cli("link", "Spring", "--salesforce-campaign", sf["id"])

    succeeded_run("Spring")
    assert members_here("Spring") == {"ann@example.com": "Attended"}
    assert skipped_here("Spring") == {}
    assert salesforce_members(org, sf["id"]) == {"ann@example.com": "Attended - Webinar"}


def test_a_new_salesforce_campaign_is_created_with_the_mapped_labels(
    org: EmulatorHandle,
) -> None:
    spring({"vip@example.com": "Attended"})
    cli("mapping", "set", "Spring", "Attended", "Attended - Webinar")

    cli("link", "Spring", "--create-new")

    succeeded_run("Spring")
    campaign_id = link_status("Spring")["salesforce_campaign_id"]
    assert [label for label, *_ in salesforce_statuses(org, campaign_id)] == [
        "Invited",
        "Registered",
        "Attended - Webinar",
    ]
    assert salesforce_members(org, campaign_id) == {"vip@example.com": "Attended - Webinar"}


def test_check_statuses_and_link_take_the_mapping_into_account(org: EmulatorHandle) -> None:
    spring({"vip@example.com": "Attended"})
    sf = salesforce_campaign(
        org, "Spring SF", WEBINAR_LABELS, [("ann@example.com", "Attended - Webinar")]
    )
    before = cli_json("check-statuses", "Spring", "--salesforce-campaign", sf["id"])
    assert before["skipped_inbound"] == {"Attended - Webinar": 1}
    assert before["dead_letter_outbound"] == {"Attended": 1}
    assert "'Attended - Webinar' (1)" in one_line_error(
        cli_fails("link", "Spring", "--salesforce-campaign", sf["id"])
    )

    cli("mapping", "set", "Spring", "Attended", "Attended - Webinar")

    after = cli("check-statuses", "Spring", "--salesforce-campaign", sf["id"])
    assert "statuses match on both sides" in after
    cli("link", "Spring", "--salesforce-campaign", sf["id"])  # no longer refused
    succeeded_run("Spring")


def test_mapping_list_shows_the_mapped_statuses_and_remove_forgets_one(
    org: EmulatorHandle,
) -> None:
    spring()
    cli("mapping", "set", "Spring", "Attended", "Attended - Webinar")
    cli("mapping", "set", "Spring", "Registered", "Signed up")

    listed = cli_json("mapping", "list", "Spring")
    cli("mapping", "remove", "Spring", "Registered")

    assert listed == [
        {"conversion_status": "Attended", "salesforce_label": "Attended - Webinar"},
        {"conversion_status": "Registered", "salesforce_label": "Signed up"},
    ]
    assert cli_json("mapping", "list", "Spring") == [listed[0]]


def test_a_mapping_that_would_give_two_statuses_one_label_is_refused_in_one_line(
    org: EmulatorHandle,
) -> None:
    spring()

    error = one_line_error(cli_fails("mapping", "set", "Spring", "Attended", "Registered"))

    assert "'Registered' and 'Attended' would both be 'Registered'" in error
    assert cli_json("mapping", "list", "Spring") == []


# ---------------------------------------------------------------- re-evaluation


def test_setting_a_mapping_pushes_the_members_it_had_dead_lettered(org: EmulatorHandle) -> None:
    spring({"vip@example.com": "Attended"})
    sf = salesforce_campaign(org, "Spring SF", WEBINAR_LABELS, [])
    cli("link", "Spring", "--salesforce-campaign", sf["id"])
    assert succeeded_run("Spring")["counts"]["dead_lettered"] == 1
    before = last_run_id()

    printed = cli("mapping", "set", "Spring", "Attended", "Attended - Webinar")

    assert "judged again" in printed
    succeeded_run("Spring", after=before)
    assert salesforce_members(org, sf["id"]) == {"vip@example.com": "Attended - Webinar"}
    assert dead_letters("Spring") == []


def test_setting_a_mapping_imports_the_members_it_had_skipped(org: EmulatorHandle) -> None:
    spring()
    campaign_id = skipped_at_link(org, WEBINAR_LABELS, "ann@example.com", "Attended - Webinar")
    before = last_run_id()

    cli("mapping", "set", "Spring", "Attended", "Attended - Webinar")

    assert succeeded_run("Spring", after=before)["counts"]["imported"] == 1
    assert members_here("Spring") == {
        "ann@example.com": "Attended",
        "recent@example.com": "Invited",
    }
    assert skipped_here("Spring") == {}
    assert link_status("Spring")["skipped"] == 0
    assert salesforce_members(org, campaign_id)["ann@example.com"] == "Attended - Webinar"


# ---------------------------------------------------------------- policies


def test_the_default_inbound_policy_imports_an_unknown_status_as_the_types_default(
    org: EmulatorHandle,
) -> None:
    spring()
    sf = salesforce_campaign(
        org,
        "Spring SF",
        [*WEBINAR_LABELS, ("Waitlisted", False, False)],
        [("wait@example.com", "Waitlisted")],
    )

    cli("link", "Spring", "--salesforce-campaign", sf["id"], "--inbound-unknown", "default")

    run = succeeded_run("Spring")
    assert run["counts"]["as_default"] == 1
    assert members_here("Spring") == {"wait@example.com": "Invited"}
    assert skipped_here("Spring") == {}
    # Salesforce keeps its own value: the default is what Conversion holds, not a change.
    assert salesforce_members(org, sf["id"]) == {"wait@example.com": "Waitlisted"}


def test_the_create_outbound_policy_adds_the_missing_status_to_salesforce_then_pushes(
    org: EmulatorHandle,
) -> None:
    spring({"vip@example.com": "Attended", "ann@example.com": "Invited"})
    sf = salesforce_campaign(org, "Spring SF", WITHOUT_ATTENDED, [])

    cli("link", "Spring", "--salesforce-campaign", sf["id"], "--outbound-unknown", "create")

    run = succeeded_run("Spring")
    assert run["counts"].get("dead_lettered", 0) == 0
    assert ("Attended", False, True, 3) in salesforce_statuses(org, sf["id"])
    assert salesforce_members(org, sf["id"]) == {
        "vip@example.com": "Attended",
        "ann@example.com": "Invited",
    }


def test_link_policy_shows_the_policies_chosen_at_link_time(org: EmulatorHandle) -> None:
    spring()
    sf = salesforce_campaign(org, "Spring SF", WEBINAR_LABELS, [])
    cli("link", "Spring", "--salesforce-campaign", sf["id"], "--outbound-unknown", "create")
    succeeded_run("Spring")

    assert cli_json("link-policy", "Spring") == {
        "inbound_unknown": "skip",
        "outbound_unknown": "create",
    }


def test_changing_the_inbound_policy_imports_the_members_it_had_skipped(
    org: EmulatorHandle,
) -> None:
    spring()
    skipped_at_link(
        org, [*WEBINAR_LABELS, ("Waitlisted", False, False)], "wait@example.com", "Waitlisted"
    )
    before = last_run_id()

    cli("link-policy", "Spring", "--inbound-unknown", "default")

    assert succeeded_run("Spring", after=before)["counts"]["as_default"] == 1
    assert members_here("Spring") == {
        "wait@example.com": "Invited",
        "recent@example.com": "Invited",
    }
    assert skipped_here("Spring") == {}


def test_changing_the_outbound_policy_creates_the_status_its_dead_letters_wait_for(
    org: EmulatorHandle,
) -> None:
    spring({"vip@example.com": "Attended"})
    sf = salesforce_campaign(org, "Spring SF", WITHOUT_ATTENDED, [])
    cli("link", "Spring", "--salesforce-campaign", sf["id"])
    succeeded_run("Spring")
    assert len(dead_letters("Spring")) == 1
    before = last_run_id()

    cli("link-policy", "Spring", "--outbound-unknown", "create")

    succeeded_run("Spring", after=before)
    assert salesforce_members(org, sf["id"]) == {"vip@example.com": "Attended"}
    assert dead_letters("Spring") == []


def test_link_policy_of_an_unlinked_campaign_says_how_to_choose_one(org: EmulatorHandle) -> None:
    spring()

    error = one_line_error(cli_fails("link-policy", "Spring", "--inbound-unknown", "default"))

    assert "not linked" in error


def test_a_change_made_while_a_run_is_under_way_is_judged_again_by_a_scheduled_run(
    org: EmulatorHandle,
) -> None:
    spring()
    skipped_at_link(org, WEBINAR_LABELS, "ann@example.com", "Attended - Webinar")
    org.admin.set_latency(300)  # keeps the next run open while the mapping changes
    try:
        cli("sync", "Spring")
        under_way = last_run_id()
        printed = cli("mapping", "set", "Spring", "Attended", "Attended - Webinar")
    finally:
        org.admin.set_latency(0)
    assert "is under way" in printed
    succeeded_run("Spring", after=under_way - 1)

    app.send_task("convsync.schedule.dispatch_due_syncs")

    run = succeeded_run("Spring", after=under_way)
    assert run["kind"] == "scheduled"
    assert members_here("Spring")["ann@example.com"] == "Attended"
    assert skipped_here("Spring") == {}


@pytest.mark.heavy
def test_a_member_skipped_before_the_inbound_window_is_read_again_by_id(
    org: EmulatorHandle,
) -> None:
    """The other tests' skipped members are recent enough for the next run's window
    (which re-reads 60 s before the bookmark) to bring them back anyway; this one is
    past it, as nearly every skip in a real org is. Waits for the emulator's clock to
    pass the overlap (about a minute), since Salesforce's clock never runs backwards."""
    spring()
    sf = salesforce_campaign(
        org, "Spring SF", WEBINAR_LABELS, [("ann@example.com", "Attended - Webinar")]
    )
    query = format_soql("SELECT SystemModstamp FROM CampaignMember WHERE CampaignId = {}", sf["id"])
    [ann] = simple_salesforce_client(org).query(query)["records"]
    stamp = parse_datetime(ann["SystemModstamp"])
    assert stamp is not None
    past_overlap = stamp + OVERLAP + timedelta(seconds=1)
    eventually(lambda: datetime.now(UTC) > past_overlap, timeout=OVERLAP.seconds + 30)
    add_salesforce_member(org, sf["id"], "recent@example.com", "Invited")
    cli("link", "Spring", "--salesforce-campaign", sf["id"], "--force")
    assert succeeded_run("Spring")["counts"]["skipped"] == 1
    before = last_run_id()

    cli("mapping", "set", "Spring", "Attended", "Attended - Webinar")

    run = succeeded_run("Spring", after=before)
    assert run["counts"]["imported"] == 1
    assert members_here("Spring")["ann@example.com"] == "Attended"
    assert skipped_here("Spring") == {}
