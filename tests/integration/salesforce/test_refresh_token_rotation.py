"""Refresh-token rotation: every login uses the newest token, in every process.

Each gateway here stands for one worker process (its own client, its own login); the
database's store is what they share, as in production.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sf_helpers import CLIENT_ID, CLIENT_SECRET, PASSWORD, SECURITY_TOKEN, USERNAME, make_gateway
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from convsync.salesforce.gateway import SalesforceGateway
from convsync.salesforce_emulator.testing import EmulatorHandle
from convsync.store.refresh_tokens import SharedRefreshTokens
from convsync.store.tables import RefreshTokenRow

NO_PASSWORD = {
    "salesforce_username": None,
    "salesforce_password": None,
    "salesforce_security_token": None,
}


@pytest.fixture
def refresh_token(org: EmulatorHandle) -> str:
    """A refresh token issued by a password login, with rotation on from then on."""
    org.admin.oauth(rotate_refresh_tokens=True)
    token: str = org.token(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        username=USERNAME,
        password=PASSWORD + SECURITY_TOKEN,
    )["refresh_token"]
    return token


def process(
    org: EmulatorHandle, refresh_token: str, sessions: sessionmaker[Session] | None = None
) -> SalesforceGateway:
    """A gateway as one worker process builds it, from the configured refresh token."""
    return make_gateway(
        org,
        salesforce_refresh_token=refresh_token,
        refresh_tokens=SharedRefreshTokens(sessions) if sessions else None,
        **NO_PASSWORD,
    )


def refreshes(org: EmulatorHandle) -> dict[str, int]:
    requests = org.admin.oauth()["token_requests"]
    return {
        "ok": requests.get("refresh_token:ok", 0),
        "refused": requests.get("refresh_token:refused", 0),
    }


def test_a_rotated_token_is_the_one_the_next_login_uses(
    org: EmulatorHandle, refresh_token: str
) -> None:
    gateway = process(org, refresh_token)
    campaign_id = org.admin.seed(campaigns=[{"Name": "Spring"}])["campaigns"][0]["id"]
    gateway.get_campaign(campaign_id)
    org.admin.expire_sessions()
    gateway.get_campaign(campaign_id)
    assert refreshes(org) == {"ok": 2, "refused": 0}


def test_after_a_rotation_every_process_refreshes_with_the_newest_token(
    org: EmulatorHandle, refresh_token: str, sessions: sessionmaker[Session]
) -> None:
    campaign_id = org.admin.seed(campaigns=[{"Name": "Spring"}])["campaigns"][0]["id"]
    first, second = process(org, refresh_token, sessions), process(org, refresh_token, sessions)
    first.get_campaign(campaign_id)  # rotates: the configured token is void from now on
    second.get_campaign(campaign_id)
    org.admin.expire_sessions()
    first.get_campaign(campaign_id)
    second.get_campaign(campaign_id)
    assert refreshes(org) == {"ok": 4, "refused": 0}


def test_a_process_started_after_rotations_recovers_from_its_voided_token(
    org: EmulatorHandle, refresh_token: str, sessions: sessionmaker[Session]
) -> None:
    campaign_id = org.admin.seed(campaigns=[{"Name": "Spring"}])["campaigns"][0]["id"]
    for _ in range(3):
        process(org, refresh_token, sessions).get_campaign(campaign_id)
    late = process(org, refresh_token, sessions)  # configured with the token voided first
    assert late.get_campaign(campaign_id).id == campaign_id
    assert refreshes(org) == {"ok": 4, "refused": 0}


def test_simultaneous_logins_of_many_processes_never_void_each_other(
    org: EmulatorHandle, refresh_token: str, sessions: sessionmaker[Session]
) -> None:
    campaign_id = org.admin.seed(campaigns=[{"Name": "Spring"}])["campaigns"][0]["id"]
    gateways = [process(org, refresh_token, sessions) for _ in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        found = list(pool.map(lambda g: g.get_campaign(campaign_id).id, gateways))
    assert found == [campaign_id] * 8
    assert refreshes(org) == {"ok": 8, "refused": 0}


def test_the_stored_token_is_encrypted(
    org: EmulatorHandle, refresh_token: str, sessions: sessionmaker[Session]
) -> None:
    campaign_id = org.admin.seed(campaigns=[{"Name": "Spring"}])["campaigns"][0]["id"]
    process(org, refresh_token, sessions).get_campaign(campaign_id)
    with sessions() as session:
        [row] = session.scalars(select(RefreshTokenRow)).all()
    assert row.token is not None
    assert refresh_token not in row.token
    assert refresh_token not in row.configured_hash
    assert row.token.startswith("gAAAA")  # a Fernet token, not a Salesforce one ("5Aep…")
