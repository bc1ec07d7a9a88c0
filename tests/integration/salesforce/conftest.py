"""Fixtures for the Salesforce gateway tests: one HTTPS emulator per session, reset per test."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sf_helpers import CLIENT_ID, CLIENT_SECRET, PASSWORD, SECURITY_TOKEN, USERNAME, make_gateway

from convsync.salesforce.gateway import SalesforceGateway
from convsync.salesforce_emulator.testing import EmulatorHandle, running_emulator


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorHandle]:
    credentials = tmp_path_factory.mktemp("emulator") / "credentials.json"
    credentials.write_text(
        json.dumps(
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "username": USERNAME,
                "password": PASSWORD,
                "security_token": SECURITY_TOKEN,
            }
        )
    )
    with running_emulator(credentials_file=str(credentials)) as handle:
        yield handle


@pytest.fixture
def org(emulator: EmulatorHandle) -> EmulatorHandle:
    """The emulator, emptied (records, counters, faults, limits) for this test."""
    emulator.admin.reset()
    return emulator


@pytest.fixture
def gateway(org: EmulatorHandle) -> SalesforceGateway:
    return make_gateway(org)
