"""The configured CA bundle wins over REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import redis
import requests
from sf_helpers import make_gateway, seed_campaign

from convsync.salesforce.http import SalesforceSession
from convsync.salesforce.limiter import LocalLimiter, RedisLimiter
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


def test_embedded_mode_caps_concurrency_per_process(org: EmulatorHandle) -> None:
    gateway = make_gateway(org, salesforce_max_concurrency=3)
    limiter = gateway.client.session.limiter
    assert isinstance(limiter, LocalLimiter)
    assert limiter.limit == 3


def test_a_redis_url_caps_concurrency_across_workers(org: EmulatorHandle) -> None:
    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url).ping()
    except redis.ConnectionError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    gateway = make_gateway(org, redis_url=url)
    limiter = gateway.client.session.limiter
    assert isinstance(limiter, RedisLimiter)
    try:
        campaign = seed_campaign(org)
        assert gateway.get_campaign(campaign["id"]).id == campaign["id"]
        assert limiter.in_flight() == 0
    finally:
        limiter.client.delete(limiter.key)
