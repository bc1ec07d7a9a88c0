"""Sessions, the API-call budget, Sforce-Limit-Info and routing errors."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from simple_salesforce.exceptions import SalesforceExpiredSession, SalesforceRefusedRequest

from convsync.salesforce_emulator.testing import EmulatorHandle

from .conftest import api_url, bearer

SESSION_EXPIRED = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
NOT_FOUND = [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]


def test_a_call_without_a_valid_token_is_401_invalid_session(
    org: EmulatorHandle, raw: requests.Session
) -> None:
    response = raw.get(api_url(org, "limits"), headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.json() == SESSION_EXPIRED


def test_expired_sessions_make_the_client_raise_expired_session(
    org: EmulatorHandle, sf: Any
) -> None:
    org.admin.expire_sessions()
    with pytest.raises(SalesforceExpiredSession) as raised:
        sf.limits()
    assert raised.value.content == SESSION_EXPIRED


def test_every_response_carries_sforce_limit_info(
    org: EmulatorHandle, sf: Any, raw: requests.Session
) -> None:
    sf.limits()
    sf.query("SELECT Id FROM Campaign")
    assert sf.api_usage["api-usage"].used == 2
    error = raw.get(api_url(org, "nowhere"), headers=bearer(sf))
    assert error.headers["Sforce-Limit-Info"] == "api-usage=3/1000000"


def test_limits_reports_daily_api_requests(sf: Any) -> None:
    limits = sf.limits()
    assert limits["DailyApiRequests"] == {"Max": 1_000_000, "Remaining": 1_000_000 - 1}


def test_past_the_daily_limit_calls_are_refused_with_403(org: EmulatorHandle, sf: Any) -> None:
    org.admin.set_limits(max=5, used=5)
    with pytest.raises(SalesforceRefusedRequest) as raised:
        sf.query("SELECT Id FROM Campaign")
    assert raised.value.content == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]


def test_each_data_call_counts_once_by_endpoint(
    org: EmulatorHandle, sf: Any, campaign: dict[str, Any]
) -> None:
    org.admin.reset_counters()
    sf.query("SELECT Id FROM Campaign")
    member = sf.CampaignMember.create(
        {"CampaignId": campaign["id"], "LeadId": campaign["leads"][0]}
    )
    sf.CampaignMember.update(member["id"], {"Status": "Responded"})
    counters = org.admin.counters()
    assert counters["total"] == 3
    assert counters["by_endpoint"] == {"query": 1, "sobjects:POST": 1, "sobjects:PATCH": 1}


@pytest.mark.parametrize("version", ["59.0", "62.0", "52.0"])
def test_any_api_version_works_with_or_without_trailing_slash(
    org: EmulatorHandle, sf: Any, raw: requests.Session, version: str
) -> None:
    for path in ("limits", "limits/"):
        assert raw.get(api_url(org, path, version), headers=bearer(sf)).status_code == 200


def test_unknown_routes_are_404_not_found(
    org: EmulatorHandle, sf: Any, raw: requests.Session
) -> None:
    response = raw.get(api_url(org, "no/such/thing"), headers=bearer(sf))
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_malformed_json_is_400_json_parser_error(
    org: EmulatorHandle, sf: Any, raw: requests.Session
) -> None:
    response = raw.post(
        api_url(org, "sobjects/Campaign/"),
        data="{nope",
        headers={**bearer(sf), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "JSON_PARSER_ERROR"


def test_admin_endpoints_live_outside_services(
    org: EmulatorHandle, sf: Any, raw: requests.Session
) -> None:
    assert raw.get(f"{org.url}/__emulator/state/summary").status_code == 200
    response = raw.get(f"{org.url}/services/__emulator/state/summary", headers=bearer(sf))
    assert response.status_code == 404
