"""Logging in to the emulator with each OAuth flow, and failing cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
from sf_helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    PASSWORD,
    SECURITY_TOKEN,
    USERNAME,
    make_gateway,
    seed_campaign,
)

from convsync.domain.errors import SalesforceAuthError
from convsync.salesforce.auth import JWT_GRANT
from convsync.salesforce_emulator.testing import EmulatorHandle, jwt_keys

NO_PASSWORD = {
    "salesforce_username": None,
    "salesforce_password": None,
    "salesforce_security_token": None,
}


def _can_read(gateway: object, campaign_id: str) -> bool:
    return gateway.get_campaign(campaign_id).id == campaign_id  # type: ignore[attr-defined]


def test_password_login_reads_the_org(org: EmulatorHandle) -> None:
    campaign = seed_campaign(org)
    assert _can_read(make_gateway(org), campaign["id"])


def test_client_credentials_login_reads_the_org(org: EmulatorHandle) -> None:
    campaign = seed_campaign(org)
    assert _can_read(make_gateway(org, **NO_PASSWORD), campaign["id"])


def test_refresh_token_login_reads_the_org(org: EmulatorHandle) -> None:
    campaign = seed_campaign(org)
    refresh_token = org.token(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        username=USERNAME,
        password=PASSWORD + SECURITY_TOKEN,
    )["refresh_token"]
    gateway = make_gateway(org, salesforce_refresh_token=refresh_token, **NO_PASSWORD)
    assert _can_read(gateway, campaign["id"])


def _key_and_certificate(tmp_path: Path) -> tuple[Path, str]:
    """A private key file and the certificate a connected app would hold for it."""
    keys = jwt_keys()
    key_file = tmp_path / "server.key"
    key_file.write_bytes(keys.private_key_pem)
    return key_file, keys.certificate_pem


def test_jwt_bearer_login_reads_the_org(org: EmulatorHandle, tmp_path: Path) -> None:
    campaign = seed_campaign(org)
    key_file, certificate = _key_and_certificate(tmp_path)
    org.admin.oauth(jwt_certificate=certificate)
    gateway = make_gateway(
        org,
        salesforce_private_key_file=key_file,
        salesforce_password=None,
        salesforce_security_token=None,
    )
    assert _can_read(gateway, campaign["id"])


def test_jwt_bearer_login_posts_a_sandbox_audience_to_the_configured_login_url(
    org: EmulatorHandle, tmp_path: Path
) -> None:
    campaign = seed_campaign(org)
    key_file, certificate = _key_and_certificate(tmp_path)
    org.admin.oauth(jwt_certificate=certificate)
    gateway = make_gateway(
        org,
        salesforce_private_key_file=key_file,
        salesforce_jwt_audience="https://test.salesforce.com",
        salesforce_password=None,
        salesforce_security_token=None,
    )
    assert _can_read(gateway, campaign["id"])
    assert org.admin.oauth()["token_requests"] == {f"{JWT_GRANT}:ok": 1}


def test_a_jwt_audience_salesforce_refuses_fails_the_login_in_one_line(
    org: EmulatorHandle, tmp_path: Path
) -> None:
    key_file, _ = _key_and_certificate(tmp_path)
    gateway = make_gateway(
        org,
        salesforce_private_key_file=key_file,
        salesforce_jwt_audience=org.login_url,
        salesforce_password=None,
        salesforce_security_token=None,
    )
    with pytest.raises(SalesforceAuthError, match="audience is invalid") as caught:
        gateway.get_campaign(seed_campaign(org)["id"])
    assert "CONVSYNC_SALESFORCE_JWT_AUDIENCE" in str(caught.value)


def test_session_id_login_reads_the_org(org: EmulatorHandle) -> None:
    campaign = seed_campaign(org)
    token = org.token(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        username=USERNAME,
        password=PASSWORD + SECURITY_TOKEN,
    )
    gateway = make_gateway(
        org,
        salesforce_instance_url=token["instance_url"],
        salesforce_session_id=token["access_token"],
        salesforce_client_id=None,
        salesforce_client_secret=None,
        **NO_PASSWORD,
    )
    assert _can_read(gateway, campaign["id"])


def test_wrong_password_is_a_one_line_error_naming_the_variables(org: EmulatorHandle) -> None:
    wrong = "Wrong-Pa55word-123"
    gateway = make_gateway(org, salesforce_password=wrong)
    with pytest.raises(SalesforceAuthError) as caught:
        gateway.get_campaign(seed_campaign(org)["id"])
    message = str(caught.value)
    assert "CONVSYNC_SALESFORCE_PASSWORD" in message
    assert "invalid_grant" in message
    assert "\n" not in message
    assert wrong not in message
    assert SECURITY_TOKEN not in message
    assert CLIENT_SECRET not in message


def test_wrong_client_secret_names_the_client_variables(org: EmulatorHandle) -> None:
    gateway = make_gateway(org, salesforce_client_secret="not-the-secret", **NO_PASSWORD)
    with pytest.raises(SalesforceAuthError, match="CONVSYNC_SALESFORCE_CLIENT_SECRET") as caught:
        gateway.get_campaign(seed_campaign(org)["id"])
    assert "not-the-secret" not in str(caught.value)


def test_login_is_lazy_and_happens_once(org: EmulatorHandle) -> None:
    campaign = seed_campaign(org)
    gateway = make_gateway(org)
    gateway.get_campaign(campaign["id"])
    first = gateway.client.sf
    gateway.get_campaign(campaign["id"])
    assert gateway.client.sf is first
