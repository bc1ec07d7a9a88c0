"""Small factories for end-to-end scenarios: both sides of a sync, arranged in a line."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from simple_salesforce import format_soql
from typer.testing import CliRunner

from convsync.cli.app import app
from convsync.salesforce_emulator.testing import EmulatorHandle, simple_salesforce_client

runner = CliRunner()


def cli(*args: str) -> str:
    """Run a convsync command in-process; fail the test with its output if it fails."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (
        f"convsync {' '.join(args)} → {result.exit_code}:\n{result.output}"
    )
    return result.output


def cli_fails(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 1, f"expected exit 1, got {result.exit_code}:\n{result.output}"
    return result.output


def salesforce_campaign(
    org: EmulatorHandle,
    name: str,
    statuses: list[tuple[str, bool, bool]],
    members: list[tuple[str, str]],
) -> dict[str, Any]:
    """Seed a Salesforce campaign: statuses (label, default, responded), members (email, status)
    as Leads. Returns the seed result (campaign id, member ids, lead ids)."""
    leads = [
        {"LastName": email.split("@")[0], "Company": "Acme", "Email": email} for email, _ in members
    ]
    result = org.admin.seed(
        {
            "leads": leads,
            "campaigns": [
                {
                    "Name": name,
                    "statuses": [
                        {"Label": label, "IsDefault": default, "HasResponded": responded}
                        for label, default, responded in statuses
                    ],
                    "members": [
                        {"lead": i, "Status": status} for i, (_, status) in enumerate(members)
                    ],
                }
            ],
        }
    )
    campaign = result["campaigns"][0]
    campaign["leads"] = dict(zip([e for e, _ in members], result["leads"], strict=True))
    return campaign


def salesforce_members(org: EmulatorHandle, campaign_id: str) -> dict[str, str]:
    """email → status of the campaign's live members, read through simple-salesforce."""
    sf = simple_salesforce_client(org)
    query = format_soql(
        "SELECT Status, Lead.Email, Contact.Email FROM CampaignMember WHERE CampaignId = {}",
        campaign_id,
    )
    rows = sf.query_all(query)["records"]
    found = {}
    for row in rows:
        person = row.get("Contact") or row.get("Lead") or {}
        found[str(person.get("Email")).lower()] = row["Status"]
    return found


def eventually(check: Callable[[], Any], timeout: float = 60.0, interval: float = 0.3) -> Any:
    """Poll until `check()` returns something truthy (and return it), or fail."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")
