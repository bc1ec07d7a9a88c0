"""Factories shared by the Salesforce gateway tests (settings, gateways, seeded data)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from convsync.config import Settings
from convsync.salesforce import connect
from convsync.salesforce.auth import RefreshTokenStore
from convsync.salesforce.client import ClientOptions
from convsync.salesforce.gateway import SalesforceGateway
from convsync.salesforce_emulator.testing import EmulatorHandle

USERNAME = "sync@example.com"
PASSWORD = "correct-horse-battery"
SECURITY_TOKEN = "SECTOKEN42"
CLIENT_ID = "convsync-test-client"
CLIENT_SECRET = "client-secret-xyz"

# Production's backoff, shrunk so retries cost milliseconds.
FAST = ClientOptions(
    backoff_initial=0.001,
    backoff_max=0.005,
    backoff_jitter=0.001,
    max_retry_seconds=10.0,
    budget_max_pause=0.0,
    bulk_poll_seconds=0.02,
)


def make_settings(emulator: EmulatorHandle, **overrides: Any) -> Settings:
    """Settings for a password login to the emulator, trusting its CA."""
    values: dict[str, Any] = {
        "salesforce_login_url": emulator.login_url,
        "salesforce_ca_bundle": Path(emulator.ca_file),
        "salesforce_username": USERNAME,
        "salesforce_password": PASSWORD,
        "salesforce_security_token": SECURITY_TOKEN,
        "salesforce_client_id": CLIENT_ID,
        "salesforce_client_secret": CLIENT_SECRET,
        "redis_url": None,
        "broker_url": "memory://",
    }
    values.update(overrides)
    return Settings(**values)


def make_gateway(
    emulator: EmulatorHandle,
    options: ClientOptions = FAST,
    refresh_tokens: RefreshTokenStore | None = None,
    **overrides: Any,
) -> SalesforceGateway:
    return connect(
        make_settings(emulator, **overrides), options=options, refresh_tokens=refresh_tokens
    )


def seed_campaign(
    org: EmulatorHandle,
    *,
    name: str = "Spring launch",
    statuses: tuple[str, ...] = ("Sent", "Opened", "Clicked"),
    members: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    """One campaign with the given statuses (first default, last responded)."""
    spec: dict[str, Any] = {
        "Name": name,
        "statuses": [
            {"Label": s, "IsDefault": i == 0, "HasResponded": i == len(statuses) - 1}
            for i, s in enumerate(statuses)
        ],
        **extra,
    }
    if members:
        spec["generate_members"] = members
        spec["member_status"] = statuses[0]
    result = org.admin.seed(campaigns=[spec])
    campaign: dict[str, Any] = result["campaigns"][0]
    return campaign


def seed_small_campaigns(org: EmulatorHandle, count: int) -> list[str]:
    """`count` campaigns of one member each (people of their own); their ids."""
    seeded = org.admin.seed(
        campaigns=[
            {"Name": f"C{i}", "generate_members": 1, "email_domain": f"c{i}.example.com"}
            for i in range(count)
        ]
    )
    return [c["id"] for c in seeded["campaigns"]]


def seed_leads(org: EmulatorHandle, emails: list[str]) -> list[str]:
    leads = [
        {"LastName": f"Person {i}", "Company": "Acme", "Email": email}
        for i, email in enumerate(emails)
    ]
    ids: list[str] = org.admin.seed(leads=leads)["leads"]
    return ids


def calls(org: EmulatorHandle, key: str) -> int:
    """API calls the emulator counted for one endpoint key (e.g. `query`)."""
    return int(org.admin.counters()["by_endpoint"].get(key, 0))
