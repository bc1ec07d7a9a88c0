"""Fixtures for the emulator's contract tests: one emulator per session, reset per test.

Tests talk to it only through simple-salesforce (and raw `requests` where the client has
no call), so they double as proof that an unmodified client works against it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from convsync.salesforce_emulator.testing import (
    EmulatorHandle,
    running_emulator,
    simple_salesforce_client,
)


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorHandle]:
    with running_emulator() as handle:
        yield handle


@pytest.fixture
def org(emulator: EmulatorHandle) -> EmulatorHandle:
    """The session's emulator, emptied and with counters, faults and latency reset."""
    emulator.admin.reset()
    return emulator


@pytest.fixture
def sf(org: EmulatorHandle) -> Any:
    """A simple-salesforce client logged in through the OAuth endpoint."""
    return simple_salesforce_client(org)


@pytest.fixture
def raw(org: EmulatorHandle) -> requests.Session:
    """A plain requests session trusting the emulator, for shapes the client hides."""
    return org.session()


@pytest.fixture
def campaign(org: EmulatorHandle) -> dict[str, Any]:
    """A campaign (statuses Sent/Responded) with two leads and a contact, none members yet."""
    seeded = org.admin.seed(
        leads=[
            {
                "FirstName": "Ada",
                "LastName": "Lovelace",
                "Company": "Engines",
                "Email": "ada@ex.com",
            },
            {
                "FirstName": "Alan",
                "LastName": "Turing",
                "Company": "Bletchley",
                "Email": "al@ex.com",
            },
        ],
        contacts=[{"FirstName": "Grace", "LastName": "Hopper", "Email": "grace@ex.com"}],
        campaigns=[{"Name": "Spring launch"}],
    )
    return {
        "id": seeded["campaigns"][0]["id"],
        "statuses": seeded["campaigns"][0]["statuses"],
        "leads": seeded["leads"],
        "contacts": seeded["contacts"],
    }


def api_url(handle: EmulatorHandle, path: str, version: str = "59.0") -> str:
    return f"{handle.url}/services/data/v{version}/{path}"


def bearer(sf: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {sf.session_id}"}


def soql(template: str, **values: Any) -> str:
    """Fill `{name}` placeholders with quoted, escaped SOQL string literals."""
    quoted = {
        k: "'" + str(v).replace("\\", "\\\\").replace("'", "\\'") + "'" for k, v in values.items()
    }
    return template.format(**quoted)


def fill(template: str, **values: Any) -> str:
    """Fill `{name}` placeholders verbatim (field lists, datetime literals)."""
    return template.format(**values)
