"""Every decision explained: `convsync explain CAMPAIGN EMAIL` after real runs on a real
worker (a conflict with both values, times, the base and the rule; a push; a skip; a
dead letter), and the retention period."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from convsync.salesforce_emulator.testing import EmulatorHandle
from convsync.store.db import transaction
from convsync.store.tables import DecisionRow, PersonRow, utcnow
from convsync.workers.app import app
from tests.support.scenario import (
    cli,
    cli_fails,
    cli_json,
    conversion_campaign,
    conversion_type,
    eventually,
    linked_spring,
    one_line_error,
    salesforce_campaign,
    set_salesforce_status,
    succeeded_run,
    sync_now,
)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("worker")]


def test_explain_shows_a_conflict_with_both_values_both_times_the_base_and_the_rule(
    org: EmulatorHandle,
) -> None:
    campaign_id = linked_spring(org, {"ann@example.com": "Invited"}, {"ann@example.com": "Invited"})
    cli("members", "set", "Spring", "ann@example.com", "Registered")
    set_salesforce_status(org, campaign_id, "ann@example.com", "Attended")  # the later one
    sync_now("Spring")

    history = cli_json("explain", "Spring", "ann@example.com")

    latest = history["decisions"][0]
    decision = latest["decision"]
    assert (decision["kind"], decision["conflict"], decision["stage"]) == (
        "imported",
        True,
        "inbound",
    )
    assert decision["conversion"]["status"] == "Registered"
    assert decision["salesforce"]["status"] == "Attended"
    assert decision["conversion"]["updated_at"] < decision["salesforce"]["updated_at"]
    assert decision["base"] == "Invited"
    assert decision["rule"] == "both sides changed: the later change wins"
    assert latest["run_id"] == cli_json("status", "Spring")[0]["last_run"]["id"]


def test_explain_lists_a_members_history_newest_first(org: EmulatorHandle) -> None:
    linked_spring(org, {"vip@example.com": "Invited"}, {})
    cli("members", "set", "Spring", "vip@example.com", "Registered")
    sync_now("Spring")

    decisions = cli_json("explain", "Spring", "vip@example.com")["decisions"]

    assert [(d["decision"]["kind"], d["decision"]["conversion"]["status"]) for d in decisions] == [
        ("pushed", "Registered"),
        ("pushed", "Invited"),
    ]
    assert decisions[0]["decided_at"] > decisions[1]["decided_at"]
    printed = cli("explain", "Spring", "vip@example.com")
    assert printed.index("'Registered'") < printed.index("'Invited'")  # newest first


def test_explain_says_why_a_member_was_skipped_or_dead_lettered(org: EmulatorHandle) -> None:
    conversion_type()
    conversion_campaign("Spring", "Webinar", {"vip@example.com": "Attended"})
    sf = salesforce_campaign(
        org,
        "Spring SF",
        [("Invited", True, False), ("Registered", False, True), ("Waitlisted", False, False)],
        [("wait@example.com", "Waitlisted")],
    )
    cli("link", "Spring", "--salesforce-campaign", sf["id"], "--force")
    succeeded_run("Spring")

    [skipped] = cli_json("explain", "Spring", "wait@example.com")["decisions"]
    [parked] = cli_json("explain", "Spring", "vip@example.com")["decisions"]

    assert skipped["decision"]["kind"] == "skipped"
    assert skipped["decision"]["salesforce"]["status"] == "Waitlisted"
    assert "'Waitlisted' is not in the campaign type" in skipped["decision"]["rule"]
    assert parked["decision"]["kind"] == "dead_lettered"
    assert parked["decision"]["rule"].startswith("STATUS_NOT_ON_CAMPAIGN: status 'Attended'")


def test_explain_of_someone_convsync_does_not_know_says_so_in_one_line(
    org: EmulatorHandle,
) -> None:
    linked_spring(org, {}, {})

    error = one_line_error(cli_fails("explain", "Spring", "nobody@example.com"))

    assert "no one with email nobody@example.com" in error


def test_decisions_older_than_the_retention_period_are_forgotten(
    org: EmulatorHandle, sessions: sessionmaker[Session]
) -> None:
    linked_spring(org, {"old@example.com": "Invited", "new@example.com": "Invited"}, {})
    old = select(PersonRow.id).where(PersonRow.email == "old@example.com").scalar_subquery()
    with transaction(sessions) as session:  # as if Ann's push was 31 days ago
        session.execute(
            update(DecisionRow)
            .where(DecisionRow.person_id == old)
            .values(decided_at=utcnow() - timedelta(days=31))
        )

    app.send_task("convsync.schedule.reconcile")  # beat's reconciler prunes

    eventually(lambda: cli_json("explain", "Spring", "old@example.com")["decisions"] == [])
    assert len(cli_json("explain", "Spring", "new@example.com")["decisions"]) == 1
