"""Where a real org differs from a friendly one: URI limits on lookups, lost responses to
Lead creates, and duplicate rules. Real worker, Redis, PostgreSQL and the emulator.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import pytest

from convsync.salesforce_emulator.testing import EmulatorHandle, simple_salesforce_client
from tests.support.scenario import (
    WEBINAR_IN_SALESFORCE,
    cli,
    conversion_type,
    dead_letters,
    members_here,
    salesforce_campaign,
    salesforce_members,
    succeeded_run,
    sync_now,
)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("worker")]


def long_emails(count: int) -> list[str]:
    """Realistic emails of 30 to 80 characters, all different."""
    return [
        f"{i:04}.{'firstname.lastname'[: i % 19]}{'x' * (i % 33)}@mail.example-company.com"
        for i in range(count)
    ]


def people_csv(
    path: Path, emails: Sequence[str], status: str, *, names: tuple[str, str, str] | None = None
) -> Path:
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["email", "status", "first_name", "last_name", "company"])
        for email in emails:
            writer.writerow([email, status, *(names or ("", "", ""))])
    return path


def linked_campaign(org: EmulatorHandle, csv_file: Path) -> str:
    """A Conversion campaign with these people, linked to an empty Salesforce campaign."""
    conversion_type()
    cli("campaigns", "create", "Spring", "--type", "Webinar")
    cli("members", "import", "Spring", str(csv_file))
    campaign = salesforce_campaign(org, "Spring SF", WEBINAR_IN_SALESFORCE, [])
    cli("link", "Spring", "--salesforce-campaign", campaign["id"])
    succeeded_run("Spring")
    return str(campaign["id"])


def leads_in_salesforce(org: EmulatorHandle) -> int:
    return int(org.admin.summary()["Lead"]["live"])


def test_a_thousand_unknown_people_with_long_emails_are_looked_up_within_the_uri_limit(
    org: EmulatorHandle, tmp_path: Path
) -> None:
    emails = long_emails(1_000)
    assert min(map(len, emails)) >= 30
    assert max(map(len, emails)) <= 80

    campaign = linked_campaign(org, people_csv(tmp_path / "people.csv", emails, "Registered"))

    assert salesforce_members(org, campaign) == dict.fromkeys(emails, "Registered")
    assert leads_in_salesforce(org) == 1_000
    assert dead_letters("Spring") == []
    # Contacts, then Leads: two queries of 500 emails each, in one Composite call apiece
    assert org.admin.counters()["by_endpoint"]["composite"] == 2


def test_a_lead_create_whose_response_was_lost_is_not_repeated_blind(
    org: EmulatorHandle, tmp_path: Path
) -> None:
    org.admin.inject_faults(next=1, kind="lost_response", endpoint="composite/sobjects:POST")
    emails = long_emails(300)

    campaign = linked_campaign(org, people_csv(tmp_path / "people.csv", emails, "Registered"))

    assert org.admin.inject_faults()["queued"] == []  # the fault did hit a Lead create
    assert leads_in_salesforce(org) == 300
    assert salesforce_members(org, campaign) == dict.fromkeys(emails, "Registered")


def existing_lead(org: EmulatorHandle) -> str:
    """Ada Lovelace of Engines Ltd, already a Lead under another email."""
    lead = simple_salesforce_client(org).Lead.create(
        {
            "FirstName": "Ada",
            "LastName": "Lovelace",
            "Company": "Engines Ltd",
            "Email": "ada@old-address.example",
        }
    )
    return str(lead["id"])


ADA = ("Ada", "Lovelace", "Engines Ltd")


def test_an_alert_duplicate_rule_does_not_stop_the_sync(
    org: EmulatorHandle, tmp_path: Path
) -> None:
    existing_lead(org)
    org.admin.set_duplicate_rules("alert")
    people = people_csv(tmp_path / "p.csv", ["ada@new-address.example"], "Attended", names=ADA)

    campaign = linked_campaign(org, people)

    assert salesforce_members(org, campaign) == {"ada@new-address.example": "Attended"}
    assert dead_letters("Spring") == []


def test_a_block_duplicate_rule_dead_letters_the_member_and_names_the_match(
    org: EmulatorHandle, tmp_path: Path
) -> None:
    match = existing_lead(org)
    org.admin.set_duplicate_rules("block")
    people = people_csv(tmp_path / "p.csv", ["ada@new-address.example"], "Attended", names=ADA)

    campaign = linked_campaign(org, people)

    assert salesforce_members(org, campaign) == {}
    [letter] = dead_letters("Spring")
    assert letter["code"] == "DUPLICATES_DETECTED"
    assert "duplicate rule" in letter["message"]
    assert f"Lead {match}" in letter["message"]
    assert members_here("Spring") == {"ada@new-address.example": "Attended"}
    sync_now("Spring")  # a later run leaves it a dead letter; nothing is created
    assert leads_in_salesforce(org) == 1
