"""The /__emulator/ endpoints: seed, counters, summary, faults and latency."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

from convsync.salesforce_emulator.testing import EmulatorHandle


def test_seed_creates_campaigns_statuses_and_members_in_one_call(org: EmulatorHandle) -> None:
    result = org.admin.seed(
        campaigns=[
            {
                "Name": "Typed",
                "generate_members": 10,
                "member_status": "Clicked",
                "statuses": [
                    {"Label": "Sent", "IsDefault": True},
                    {"Label": "Clicked", "HasResponded": True},
                ],
            }
        ]
    )
    assert set(result["campaigns"][0]["statuses"]) == {"Sent", "Clicked"}
    assert len(result["campaigns"][0]["members"]) == 10
    assert org.admin.summary()["CampaignMember"] == {"live": 10, "deleted": 0}


def test_reset_empties_the_org(org: EmulatorHandle) -> None:
    org.admin.seed(campaigns=[{"Name": "Gone"}])
    org.admin.reset()
    assert org.admin.summary()["Campaign"] == {"live": 0, "deleted": 0}


def test_counters_reset_to_zero(org: EmulatorHandle, sf: Any) -> None:
    sf.limits()
    org.admin.reset_counters()
    assert org.admin.counters()["total"] == 0


def test_fault_503_is_server_unavailable(org: EmulatorHandle, sf: Any) -> None:
    org.admin.inject_faults(next=1, kind="503")
    with pytest.raises(SalesforceGeneralError) as raised:
        sf.limits()
    assert raised.value.status == 503
    assert raised.value.content[0]["errorCode"] == "SERVER_UNAVAILABLE"
    assert sf.limits()  # only the next call was faulted


def test_fault_unable_to_lock_row(org: EmulatorHandle, sf: Any) -> None:
    org.admin.inject_faults(next=1, kind="UNABLE_TO_LOCK_ROW")
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.query("SELECT Id FROM Lead")
    error = raised.value.content[0]
    assert error["errorCode"] == "UNABLE_TO_LOCK_ROW"
    assert error["message"].startswith(
        "unable to obtain exclusive access to this record or 200 records: "
    )


def test_fault_request_limit_exceeded(org: EmulatorHandle, sf: Any) -> None:
    org.admin.inject_faults(next=1, kind="REQUEST_LIMIT_EXCEEDED")
    with pytest.raises(SalesforceRefusedRequest) as raised:
        sf.limits()
    assert raised.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"


def test_fault_invalid_session_expires_the_callers_token(org: EmulatorHandle, sf: Any) -> None:
    org.admin.inject_faults(next=1, kind="INVALID_SESSION_ID")
    for _ in range(2):  # the token stays expired after the fault
        with pytest.raises(SalesforceExpiredSession):
            sf.limits()


def test_fault_drop_closes_the_connection_without_a_response(org: EmulatorHandle, sf: Any) -> None:
    org.admin.inject_faults(next=1, kind="drop")
    with pytest.raises(requests.exceptions.ConnectionError):
        sf.limits()
    assert sf.limits()


def test_random_faults_hit_about_the_requested_rate(org: EmulatorHandle, sf: Any) -> None:
    org.admin.inject_faults(rate=0.5, kinds=["503"], seed=7)
    failures = 0
    for _ in range(40):
        try:
            sf.limits()
        except SalesforceGeneralError:
            failures += 1
    assert 8 <= failures <= 32
    org.admin.inject_faults(clear=True)
    assert sf.limits()


def test_latency_delays_every_api_call(org: EmulatorHandle, sf: Any) -> None:
    org.admin.set_latency(150)
    started = time.perf_counter()
    sf.limits()
    assert time.perf_counter() - started >= 0.15


def test_unknown_fault_kinds_are_refused(org: EmulatorHandle) -> None:
    with pytest.raises(requests.HTTPError):
        org.admin.inject_faults(next=1, kind="meteor")


def test_small_posts_are_not_delayed_by_nagle(org: EmulatorHandle, sf: Any) -> None:
    started = time.perf_counter()
    for i in range(20):
        sf.Lead.create({"LastName": f"N{i}", "Company": "C"})
    assert time.perf_counter() - started < 0.6  # 44 ms each would be ~0.9 s
