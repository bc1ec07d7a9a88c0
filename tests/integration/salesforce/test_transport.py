"""The configured CA bundle wins over REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import requests
from sf_helpers import make_gateway, seed_campaign

from convsync.salesforce.http import SalesforceSession
from convsync.salesforce_emulator.testing import EmulatorHandle

SYSTEM_BUNDLE = ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt"


@pytest.fixture
def system_bundle_in_env(monkeypatch: pytest.MonkeyPatch) -> str:
    if not Path(SYSTEM_BUNDLE).is_file():
        pytest.skip("no system CA bundle")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", SYSTEM_BUNDLE)
    monkeypatch.setenv("CURL_CA_BUNDLE", SYSTEM_BUNDLE)
    return SYSTEM_BUNDLE


@pytest.mark.usefixtures("system_bundle_in_env")
def test_plain_requests_session_loses_to_the_environment(org: EmulatorHandle) -> None:
    session = requests.Session()
    session.verify = org.ca_file
    with pytest.raises(requests.exceptions.SSLError):
        session.get(org.url + "/services/data", timeout=5)


@pytest.mark.usefixtures("system_bundle_in_env")
def test_configured_ca_bundle_wins_over_the_environment(org: EmulatorHandle) -> None:
    campaign = seed_campaign(org)
    assert make_gateway(org).get_campaign(campaign["id"]).id == campaign["id"]


def test_environment_proxies_still_apply(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.test:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    settings = SalesforceSession(ca_bundle=bundle).merge_environment_settings(
        "https://org.example.test/services/data", {}, None, None, None
    )
    assert settings["verify"] == str(bundle)
    assert settings["proxies"]["https"] == "http://proxy.example.test:3128"
