"""Status compatibility: inbound skips, outbound dead letters (list, replay, the
scheduler's own replay, purge) and the pre-flight check before linking.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from typing import Any

import pytest

from convsync.salesforce_emulator.testing import EmulatorHandle
from convsync.workers.app import app
from tests.support.scenario import (
    WEBINAR_IN_SALESFORCE,
    WEBINAR_STATUSES,
    add_salesforce_member,
    add_salesforce_status,
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
    salesforce_writes,
    set_salesforce_status,
    skipped_here,
    succeeded_run,
    sync_now,
)
from tests.support.workers import WorkerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("worker")]

# A Salesforce campaign without "Attended", the type's responded status.
WITHOUT_ATTENDED = [("Invited", True, False), ("Registered", False, True)]


def worker_events(worker: WorkerProcess, since: int) -> list[dict[str, Any]]:
    """The worker's JSON log lines after the first `since` characters of its log."""
    events = []
    for line in worker.log()[since:].splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                events.append(json.loads(line))
    return events


def parked(
    org: EmulatorHandle, members: dict[str, str], statuses: Sequence[str] = WEBINAR_STATUSES
) -> str:
    """Spring linked to a Salesforce campaign that lacks "Attended"; the initial sync has
    run, so Conversion members holding it are dead-lettered. Returns the campaign id."""
    conversion_type("Webinar", statuses)
    conversion_campaign("Spring", "Webinar", members)
    sf = salesforce_campaign(org, "Spring SF", WITHOUT_ATTENDED, [])
    cli("link", "Spring", "--salesforce-campaign", sf["id"])
    succeeded_run("Spring")
    return str(sf["id"])


# ---------------------------------------------------------------- inbound: skipped


def test_a_salesforce_member_whose_status_the_type_lacks_is_skipped_and_recorded(
    org: EmulatorHandle,
) -> None:
    conversion_type()
    conversion_campaign("Spring", "Webinar")
    sf = salesforce_campaign(
        org, "Spring SF", [*WEBINAR_IN_SALESFORCE, ("Waitlisted", False, False)], []
    )
    cli("link", "Spring", "--salesforce-campaign", sf["id"])
    succeeded_run("Spring")
    add_salesforce_member(org, sf["id"], "ann@example.com", "Registered")
    waiting_id = add_salesforce_member(org, sf["id"], "wait@example.com", "Waitlisted")

    sync_now("Spring")

    assert members_here("Spring") == {"ann@example.com": "Registered"}
    skipped = skipped_here("Spring")
    assert list(skipped) == ["wait@example.com"]
    assert skipped["wait@example.com"]["status"] == "Waitlisted"
    assert skipped["wait@example.com"]["salesforce_member_id"] == waiting_id
    assert "'Waitlisted' is not in the campaign type" in skipped["wait@example.com"]["reason"]
    status = link_status("Spring")
    assert status["skipped"] == 1
    assert status["last_run"]["counts"]["skipped"] == 1
    assert salesforce_members(org, sf["id"]) == {
        "ann@example.com": "Registered",
        "wait@example.com": "Waitlisted",
    }


def test_a_skipped_member_is_imported_once_salesforce_gives_it_a_status_of_the_type(
    org: EmulatorHandle,
) -> None:
    conversion_type()
    conversion_campaign("Spring", "Webinar")
    sf = salesforce_campaign(
        org, "Spring SF", [*WEBINAR_IN_SALESFORCE, ("Waitlisted", False, False)], []
    )
    cli("link", "Spring", "--salesforce-campaign", sf["id"])
    succeeded_run("Spring")
    add_salesforce_member(org, sf["id"], "wait@example.com", "Waitlisted")
    sync_now("Spring")
    set_salesforce_status(org, sf["id"], "wait@example.com", "Registered")

    sync_now("Spring")

    assert members_here("Spring") == {"wait@example.com": "Registered"}
    assert skipped_here("Spring") == {}
    assert link_status("Spring")["skipped"] == 0


# ---------------------------------------------------------------- outbound: dead letters


def test_a_conversion_member_whose_status_salesforce_lacks_is_dead_lettered_unwritten(
    org: EmulatorHandle,
) -> None:
    conversion_type()
    conversion_campaign("Spring", "Webinar", {"vip@example.com": "Attended"})
    sf = salesforce_campaign(org, "Spring SF", WITHOUT_ATTENDED, [])
    org.admin.reset_counters()

    cli("link", "Spring", "--salesforce-campaign", sf["id"])

    run = succeeded_run("Spring")
    assert run["counts"]["dead_lettered"] == 1
    assert salesforce_writes(org) == {}  # not even a Lead for vip@
    assert salesforce_members(org, sf["id"]) == {}
    [letter] = dead_letters("Spring")
    assert (letter["email"], letter["direction"], letter["code"]) == (
        "vip@example.com",
        "outbound",
        "STATUS_NOT_ON_CAMPAIGN",
    )
    assert "'Attended' does not exist on Salesforce campaign" in letter["message"]
    assert link_status("Spring")["dead_letters"] == 1
    assert members_here("Spring") == {"vip@example.com": "Attended"}


def test_a_dead_lettered_member_is_logged_as_an_error(
    org: EmulatorHandle, worker: WorkerProcess
) -> None:
    since = len(worker.log())
    parked(org, {"vip@example.com": "Attended"})

    def logged() -> list[dict[str, Any]]:
        return [
            event
            for event in worker_events(worker, since)
            if event.get("level") == "error" and "STATUS_NOT_ON_CAMPAIGN" in str(event)
        ]

    [event] = eventually(logged, timeout=10)
    assert event["statuses"] == ["Attended"]
    assert event["count"] == 1
    assert event["campaign_id"] == cli_json("campaigns", "list")[0]["id"]


def test_replay_pushes_a_dead_letter_once_the_status_exists_in_salesforce(
    org: EmulatorHandle,
) -> None:
    campaign_id = parked(org, {"vip@example.com": "Attended"})
    before = link_status("Spring")["last_run"]["id"]
    add_salesforce_status(org, campaign_id, "Attended", responded=True)

    cli("dlq", "replay", "--campaign", "Spring")

    succeeded_run("Spring", after=before)
    assert salesforce_members(org, campaign_id) == {"vip@example.com": "Attended"}
    assert dead_letters("Spring") == []
    [resolved] = dead_letters("Spring", include_resolved=True)
    assert resolved["resolved_at"] is not None


def test_the_scheduler_replays_dead_letters_when_the_status_appears_in_salesforce(
    org: EmulatorHandle,
) -> None:
    campaign_id = parked(org, {"vip@example.com": "Attended"})
    before = link_status("Spring")["last_run"]["id"]
    add_salesforce_status(org, campaign_id, "Attended", responded=True)

    app.send_task("convsync.schedule.dispatch_due_syncs")

    run = succeeded_run("Spring", after=before)
    assert run["kind"] == "scheduled"
    assert salesforce_members(org, campaign_id) == {"vip@example.com": "Attended"}
    assert dead_letters("Spring") == []


def test_a_dead_lettered_member_set_to_a_status_salesforce_has_is_pushed_and_resolved(
    org: EmulatorHandle,
) -> None:
    campaign_id = parked(org, {"vip@example.com": "Attended"})
    cli("members", "set", "Spring", "vip@example.com", "Registered")

    sync_now("Spring")

    assert salesforce_members(org, campaign_id) == {"vip@example.com": "Registered"}
    assert dead_letters("Spring") == []
    assert link_status("Spring")["dead_letters"] == 0


def test_a_dead_lettered_member_removed_in_conversion_leaves_the_queue(
    org: EmulatorHandle,
) -> None:
    campaign_id = parked(org, {"vip@example.com": "Attended", "ann@example.com": "Invited"})
    cli("members", "remove", "Spring", "vip@example.com")

    sync_now("Spring")

    assert dead_letters("Spring") == []
    assert link_status("Spring")["dead_letters"] == 0
    assert salesforce_members(org, campaign_id) == {"ann@example.com": "Invited"}
    assert members_here("Spring") == {"ann@example.com": "Invited"}


def test_dlq_purge_deletes_resolved_letters_and_keeps_open_ones_unless_told(
    org: EmulatorHandle,
) -> None:
    campaign_id = parked(
        org,
        {"vip@example.com": "Attended", "gone@example.com": "No-show"},
        statuses=["Invited", "Registered", "Attended", "No-show"],
    )
    before = link_status("Spring")["last_run"]["id"]
    add_salesforce_status(org, campaign_id, "Attended", responded=True)
    cli("dlq", "replay", "--campaign", "Spring")
    succeeded_run("Spring", after=before)

    assert "purged 1 dead letter(s)" in cli("dlq", "purge")

    [still_open] = dead_letters(include_resolved=True)
    assert (still_open["email"], still_open["resolved_at"]) == ("gone@example.com", None)
    assert "purged 1 dead letter(s)" in cli("dlq", "purge", "--include-open")
    assert dead_letters(include_resolved=True) == []


# ---------------------------------------------------------------- pre-flight


def mismatched(org: EmulatorHandle) -> str:
    """Spring (two members Attended, one Invited) and a Salesforce campaign without
    "Attended" where three members are "Waitlisted", a status the type lacks; returns
    the Salesforce campaign's id."""
    conversion_type()
    conversion_campaign(
        "Spring",
        "Webinar",
        {
            "ann@example.com": "Attended",
            "bob@example.com": "Attended",
            "cy@example.com": "Invited",
        },
    )
    sf = salesforce_campaign(
        org,
        "Spring SF",
        [*WITHOUT_ATTENDED, ("Waitlisted", False, False), ("Declined", False, False)],
        [
            ("dee@example.com", "Invited"),
            ("w1@example.com", "Waitlisted"),
            ("w2@example.com", "Waitlisted"),
            ("w3@example.com", "Waitlisted"),
        ],
    )
    return str(sf["id"])


def test_check_statuses_shows_what_each_side_lacks_and_how_many_members_it_affects(
    org: EmulatorHandle,
) -> None:
    campaign_id = mismatched(org)

    printed = " ".join(
        cli("check-statuses", "Spring", "--salesforce-campaign", campaign_id).split()
    )

    assert (
        "Salesforce status 'Waitlisted' is not in the type: 3 Salesforce member(s) would be skipped"
    ) in printed
    assert (
        "Salesforce status 'Declined' is not in the type: 0 Salesforce member(s) would be skipped"
    ) in printed
    assert (
        "status 'Attended' is not on the Salesforce campaign: "
        "2 Conversion member(s) would be dead-lettered"
    ) in printed
    check = cli_json("check-statuses", "Spring", "--salesforce-campaign", campaign_id)
    assert check["skipped_inbound"] == {"Waitlisted": 3, "Declined": 0}
    assert check["dead_letter_outbound"] == {"Attended": 2}
    assert cli_json("status") == []


def test_link_refuses_when_salesforce_uses_statuses_the_type_lacks(org: EmulatorHandle) -> None:
    campaign_id = mismatched(org)
    before = members_here("Spring")
    org.admin.reset_counters()

    output = cli_fails("link", "Spring", "--salesforce-campaign", campaign_id)

    error = one_line_error(output)
    assert "'Waitlisted' (3)" in error
    assert error.count("--force") == 1  # says how to go ahead, once
    assert cli_json("status") == []
    assert cli_json("campaigns", "list")[0]["salesforce_campaign_id"] is None
    assert members_here("Spring") == before
    assert salesforce_writes(org) == {}
    assert len(salesforce_members(org, campaign_id)) == 4


def test_link_force_links_anyway_and_records_the_members_it_skips(org: EmulatorHandle) -> None:
    campaign_id = mismatched(org)

    cli("link", "Spring", "--salesforce-campaign", campaign_id, "--force")

    run = succeeded_run("Spring")
    assert members_here("Spring") == {
        "ann@example.com": "Attended",
        "bob@example.com": "Attended",
        "cy@example.com": "Invited",
        "dee@example.com": "Invited",
    }
    assert sorted(skipped_here("Spring")) == [
        "w1@example.com",
        "w2@example.com",
        "w3@example.com",
    ]
    assert link_status("Spring")["skipped"] == 3
    assert run["counts"]["skipped"] == 3
    assert run["counts"]["dead_lettered"] == 2
    assert salesforce_members(org, campaign_id) == {
        "cy@example.com": "Invited",
        "dee@example.com": "Invited",
        "w1@example.com": "Waitlisted",
        "w2@example.com": "Waitlisted",
        "w3@example.com": "Waitlisted",
    }
