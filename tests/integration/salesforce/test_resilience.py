"""Re-login, bounded retries on transient failures only, API limits and budget pacing."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sf_helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    FAST,
    PASSWORD,
    SECURITY_TOKEN,
    USERNAME,
    calls,
    make_gateway,
    seed_campaign,
)

from convsync.domain.errors import (
    ApiLimitExceededError,
    SalesforceAuthError,
    SalesforceError,
    TransientSalesforceError,
)
from convsync.salesforce.gateway import SalesforceGateway
from convsync.salesforce_emulator.testing import EmulatorHandle


def _read_campaign_after(org: EmulatorHandle, gateway: SalesforceGateway, fault: str) -> int:
    """Queue one `fault`, read a campaign, return how many query calls it took."""
    campaign = seed_campaign(org)
    gateway.get_campaign(campaign["id"])  # logged in, warm
    org.admin.reset_counters()
    org.admin.inject_faults(next=1, kind=fault)
    assert gateway.get_campaign(campaign["id"]).id == campaign["id"]
    return calls(org, "query")


def test_relogin_after_sessions_expire(org: EmulatorHandle, gateway: SalesforceGateway) -> None:
    campaign = seed_campaign(org)
    gateway.get_campaign(campaign["id"])
    org.admin.expire_sessions()
    assert gateway.get_campaign(campaign["id"]).id == campaign["id"]


def test_relogin_after_an_invalid_session_fault(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    assert _read_campaign_after(org, gateway, "INVALID_SESSION_ID") == 2


def test_a_session_refused_again_right_after_relogin_is_retried(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    campaign = seed_campaign(org)
    gateway.get_campaign(campaign["id"])
    org.admin.reset_counters()
    org.admin.inject_faults(next=2, kind="INVALID_SESSION_ID")
    assert gateway.get_campaign(campaign["id"]).id == campaign["id"]
    assert calls(org, "query") == 3


def test_expired_bare_session_is_an_auth_error(org: EmulatorHandle) -> None:
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
        salesforce_username=None,
        salesforce_password=None,
        salesforce_security_token=None,
        salesforce_client_id=None,
        salesforce_client_secret=None,
    )
    org.admin.expire_sessions()
    with pytest.raises(SalesforceAuthError, match="CONVSYNC_SALESFORCE_SESSION_ID") as caught:
        gateway.get_campaign(campaign["id"])
    assert token["access_token"] not in str(caught.value)


def test_retry_then_succeed_on_503(org: EmulatorHandle, gateway: SalesforceGateway) -> None:
    assert _read_campaign_after(org, gateway, "503") == 2


def test_retry_then_succeed_on_unable_to_lock_row(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    assert _read_campaign_after(org, gateway, "UNABLE_TO_LOCK_ROW") == 2


def test_retry_then_succeed_on_a_dropped_connection(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    assert _read_campaign_after(org, gateway, "drop") == 2


def test_retries_are_bounded(org: EmulatorHandle, gateway: SalesforceGateway) -> None:
    campaign = seed_campaign(org)
    gateway.get_campaign(campaign["id"])
    org.admin.reset_counters()
    org.admin.inject_faults(next=20, kind="503")
    with pytest.raises(TransientSalesforceError, match="SERVER_UNAVAILABLE"):
        gateway.get_campaign(campaign["id"])
    assert calls(org, "query") == FAST.max_attempts


def test_no_retry_on_a_validation_error(org: EmulatorHandle, gateway: SalesforceGateway) -> None:
    campaign = seed_campaign(org)
    gateway.get_campaign(campaign["id"])
    org.admin.reset_counters()
    with pytest.raises(SalesforceError) as caught:
        list(gateway.client.query_records("SELECT Nope FROM CampaignMember", action="query"))
    assert caught.value.code == "INVALID_FIELD"
    assert calls(org, "query") == 1


def test_request_limit_exceeded_stops_the_run(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    campaign = seed_campaign(org)
    org.admin.inject_faults(next=1, kind="REQUEST_LIMIT_EXCEEDED")
    with pytest.raises(ApiLimitExceededError, match="API limit"):
        gateway.get_campaign(campaign["id"])


def test_exhausted_daily_limit_stops_the_run(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    campaign = seed_campaign(org)
    org.admin.set_limits(max=100, used=100)
    with pytest.raises(ApiLimitExceededError):
        gateway.get_campaign(campaign["id"])


def test_slows_down_past_the_budget_share(org: EmulatorHandle) -> None:
    pauses: list[float] = []
    gateway = make_gateway(
        org,
        replace(FAST, budget_max_pause=10.0, sleep=pauses.append),
        salesforce_budget_share=0.5,
    )
    campaign = seed_campaign(org)
    org.admin.set_limits(max=1_000, used=750)
    gateway.get_campaign(campaign["id"])  # learns the usage from Sforce-Limit-Info
    gateway.get_campaign(campaign["id"])
    used, limit = gateway.api_usage() or (0, 0)
    assert (limit, used >= 751) == (1_000, True)
    assert pauses
    assert pauses[-1] == pytest.approx(10.0 * (used / limit - 0.5) / 0.5, rel=0.01)


def test_no_slow_down_below_the_budget_share(org: EmulatorHandle) -> None:
    pauses: list[float] = []
    gateway = make_gateway(org, replace(FAST, budget_max_pause=10.0, sleep=pauses.append))
    campaign = seed_campaign(org)
    gateway.get_campaign(campaign["id"])
    gateway.get_campaign(campaign["id"])
    assert pauses == []


def test_salesforce_errors_carry_neither_token_nor_url(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    gateway.get_campaign(seed_campaign(org)["id"])
    with pytest.raises(SalesforceError) as caught:
        list(gateway.client.query_records("SELECT Id FROM Nowhere", action="query Nowhere"))
    message = str(caught.value)
    assert gateway.client.sf.session_id not in message
    assert org.url not in message
    assert "\n" not in message
    assert caught.value.__suppress_context__
