"""The three choices offered when a campaign is created: no sync, an existing Salesforce
campaign, a new one. Real worker, Redis, PostgreSQL and the emulator over HTTPS.
"""

from __future__ import annotations

import pytest

from convsync.salesforce.soql import to_18
from convsync.salesforce_emulator.testing import EmulatorHandle, simple_salesforce_client
from tests.support.scenario import (
    WEBINAR_IN_SALESFORCE,
    cli,
    cli_fails,
    cli_json,
    conversion_type,
    members_here,
    one_line_error,
    salesforce_campaign,
    salesforce_campaigns,
    salesforce_members,
    salesforce_statuses,
    succeeded_run,
    sync_now,
)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("worker")]


def campaigns_here() -> dict[str, str | None]:
    """name → linked Salesforce campaign id (None: not synced)."""
    return {c["name"]: c["salesforce_campaign_id"] for c in cli_json("campaigns", "list")}


def test_sync_none_creates_an_unlinked_campaign_without_calling_salesforce(
    org: EmulatorHandle,
) -> None:
    conversion_type()

    cli("campaigns", "create", "Spring", "--type", "Webinar", "--sync", "none")

    assert campaigns_here() == {"Spring": None}
    assert cli_json("status") == []
    assert org.admin.counters()["total"] == 0


def test_sync_existing_links_and_brings_the_salesforce_members_in(org: EmulatorHandle) -> None:
    conversion_type()
    sf = salesforce_campaign(
        org,
        "Spring SF",
        WEBINAR_IN_SALESFORCE,
        [("ann@example.com", "Registered"), ("bob@example.com", "Attended")],
    )

    cli(
        "campaigns", "create", "Spring", "--type", "Webinar",
        "--sync", "existing", "--salesforce-campaign", sf["id"],
    )  # fmt: skip

    succeeded_run("Spring")
    assert campaigns_here() == {"Spring": sf["id"]}
    assert members_here("Spring") == {
        "ann@example.com": "Registered",
        "bob@example.com": "Attended",
    }
    assert salesforce_members(org, sf["id"]) == members_here("Spring")


def test_sync_existing_brings_in_members_who_are_contacts(org: EmulatorHandle) -> None:
    conversion_type()
    sf = simple_salesforce_client(org)
    campaign = salesforce_campaign(org, "Spring SF", WEBINAR_IN_SALESFORCE, [])
    contact = sf.Contact.create({"LastName": "Hopper", "Email": "Grace@Example.com"})
    sf.CampaignMember.create(
        {"CampaignId": campaign["id"], "ContactId": contact["id"], "Status": "Registered"}
    )

    cli(
        "campaigns", "create", "Spring", "--type", "Webinar",
        "--sync", "existing", "--salesforce-campaign", campaign["id"],
    )  # fmt: skip

    succeeded_run("Spring")
    assert members_here("Spring") == {"grace@example.com": "Registered"}


def test_sync_new_creates_the_salesforce_campaign_with_the_types_statuses_exactly(
    org: EmulatorHandle,
) -> None:
    conversion_type(
        "Webinar",
        ["Invited", "Registered", "Attended", "No-show"],
        default="Registered",
        responded=["Attended"],
    )

    cli("campaigns", "create", "Spring", "--type", "Webinar", "--sync", "new")

    created = salesforce_campaigns(org)
    assert list(created) == ["Spring"]
    assert campaigns_here() == {"Spring": created["Spring"]}
    # Salesforce's automatic "Sent" (default) and "Responded" are gone.
    assert salesforce_statuses(org, created["Spring"]) == [
        ("Invited", False, False, 1),
        ("Registered", True, False, 2),
        ("Attended", False, True, 3),
        ("No-show", False, False, 4),
    ]
    succeeded_run("Spring")


def test_sync_new_keeps_a_type_status_named_like_salesforces_automatic_one(
    org: EmulatorHandle,
) -> None:
    conversion_type(
        "Newsletter",
        ["Queued", "Sent", "Opened", "Clicked"],
        responded=["Opened", "Clicked"],
    )

    cli("campaigns", "create", "May issue", "--type", "Newsletter", "--sync", "new")

    campaign_id = salesforce_campaigns(org)["May issue"]
    assert salesforce_statuses(org, campaign_id) == [
        ("Queued", True, False, 1),
        ("Sent", False, False, 2),
        ("Opened", False, True, 3),
        ("Clicked", False, True, 4),
    ]
    succeeded_run("May issue")


def test_sync_new_pushes_the_members_added_in_conversion(org: EmulatorHandle) -> None:
    conversion_type()
    cli("campaigns", "create", "Spring", "--type", "Webinar", "--sync", "new")
    succeeded_run("Spring")
    cli("members", "add", "Spring", "ann@example.com", "Registered")
    cli("members", "add", "Spring", "bob@example.com", "Attended")

    sync_now("Spring")

    campaign_id = salesforce_campaigns(org)["Spring"]
    assert salesforce_members(org, campaign_id) == {
        "ann@example.com": "Registered",
        "bob@example.com": "Attended",
    }
    assert members_here("Spring") == salesforce_members(org, campaign_id)


def test_link_create_new_pushes_an_existing_campaigns_members(org: EmulatorHandle) -> None:
    conversion_type()
    cli("campaigns", "create", "Spring", "--type", "Webinar")
    cli("members", "add", "Spring", "ann@example.com", "Invited")

    cli("link", "Spring", "--create-new")

    succeeded_run("Spring")
    campaign_id = salesforce_campaigns(org)["Spring"]
    assert salesforce_members(org, campaign_id) == {"ann@example.com": "Invited"}


@pytest.mark.parametrize(
    ("salesforce_id", "says"),
    [
        ("not-an-id", "is not a valid Salesforce Campaign id"),
        (to_18("701000000000999"), "does not exist"),
    ],
    ids=["malformed", "unknown"],
)
def test_sync_existing_with_a_bad_campaign_id_creates_nothing(
    org: EmulatorHandle, salesforce_id: str, says: str
) -> None:
    conversion_type()

    output = cli_fails(
        "campaigns", "create", "Spring", "--type", "Webinar",
        "--sync", "existing", "--salesforce-campaign", salesforce_id,
    )  # fmt: skip

    assert says in one_line_error(output)
    assert campaigns_here() == {}
    assert salesforce_campaigns(org) == {}


def test_sync_existing_with_a_contact_id_creates_nothing(org: EmulatorHandle) -> None:
    conversion_type()
    contact = simple_salesforce_client(org).Contact.create(
        {"LastName": "Hopper", "Email": "grace@example.com"}
    )

    output = cli_fails(
        "campaigns", "create", "Spring", "--type", "Webinar",
        "--sync", "existing", "--salesforce-campaign", contact["id"],
    )  # fmt: skip

    assert "it is a Contact id" in one_line_error(output)
    assert campaigns_here() == {}


def test_sync_existing_refused_for_statuses_the_type_lacks_creates_nothing(
    org: EmulatorHandle,
) -> None:
    conversion_type()
    sf = salesforce_campaign(
        org,
        "Spring SF",
        [*WEBINAR_IN_SALESFORCE, ("Waitlisted", False, False)],
        [("ann@example.com", "Waitlisted")],
    )

    output = cli_fails(
        "campaigns", "create", "Spring", "--type", "Webinar",
        "--sync", "existing", "--salesforce-campaign", sf["id"],
    )  # fmt: skip

    assert "'Waitlisted' (1)" in one_line_error(output)
    assert campaigns_here() == {}
    assert salesforce_members(org, sf["id"]) == {"ann@example.com": "Waitlisted"}


def test_members_are_pushed_onto_the_contact_or_lead_salesforce_has_for_their_email(
    org: EmulatorHandle,
) -> None:
    conversion_type()
    sf = simple_salesforce_client(org)
    contact = sf.Contact.create({"LastName": "Hopper", "Email": "Grace@Example.com"})
    lead = sf.Lead.create({"LastName": "Lovelace", "Company": "Acme", "Email": "ada@example.com"})
    cli("campaigns", "create", "Spring", "--type", "Webinar", "--sync", "new")
    succeeded_run("Spring")
    cli("members", "add", "Spring", "grace@example.com", "Registered")
    cli("members", "add", "Spring", "ada@example.com", "Invited")

    sync_now("Spring")

    rows = sf.query_all("SELECT ContactId, LeadId, Status FROM CampaignMember ORDER BY Status")[
        "records"
    ]
    assert [(r["ContactId"], r["LeadId"], r["Status"]) for r in rows] == [
        (None, lead["id"], "Invited"),
        (contact["id"], None, "Registered"),
    ]
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 1
