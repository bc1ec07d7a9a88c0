"""API budget pacing and error translation without secrets (no emulator)."""

from __future__ import annotations

import pytest
import requests
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

from convsync.domain.errors import (
    ApiLimitExceededError,
    SalesforceAuthError,
    SalesforceError,
    TransientSalesforceError,
)
from convsync.salesforce.budget import ApiBudget, parse_limit_info
from convsync.salesforce.failures import translate

URL = "https://org.example.test/services/data/v59.0/query/?q=SELECT"
SESSION = "00DHs0000000001!AQcAQSecretSessionToken"


def _error(kind: type, status: int, code: str, message: str) -> Exception:
    return kind(URL, status, "query", [{"errorCode": code, "message": message}])  # type: ignore[no-any-return]


def test_limit_info_header_is_parsed() -> None:
    assert parse_limit_info("api-usage=18/5000; per-app-api-usage=17/250(appName=x)") == (
        18,
        5000,
    )


def test_no_pause_below_the_budget_share() -> None:
    budget = ApiBudget(share=0.8, max_pause_seconds=4.0)
    budget.record(79, 100)
    assert budget.pause_seconds() == 0.0


def test_pause_grows_with_how_far_past_the_share() -> None:
    budget = ApiBudget(share=0.8, max_pause_seconds=4.0)
    budget.record(90, 100)
    assert budget.pause_seconds() == pytest.approx(2.0)
    budget.record(100, 100)
    assert budget.pause_seconds() == pytest.approx(4.0)


def test_unable_to_lock_row_is_transient() -> None:
    error = _error(SalesforceMalformedRequest, 400, "UNABLE_TO_LOCK_ROW", "unable to obtain")
    assert isinstance(translate(error, "query"), TransientSalesforceError)


def test_503_is_transient() -> None:
    error = _error(SalesforceGeneralError, 503, "SERVER_UNAVAILABLE", "down")
    assert isinstance(translate(error, "query"), TransientSalesforceError)


def test_dropped_connection_is_transient() -> None:
    error = requests.exceptions.ChunkedEncodingError("connection broken")
    assert isinstance(translate(error, "query"), TransientSalesforceError)


def test_validation_error_is_not_transient() -> None:
    error = _error(SalesforceMalformedRequest, 400, "MALFORMED_QUERY", "unexpected token")
    translated = translate(error, "query")
    assert type(translated) is SalesforceError
    assert translated.code == "MALFORMED_QUERY"


def test_request_limit_exceeded_stops_the_run() -> None:
    error = _error(SalesforceRefusedRequest, 403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests")
    assert isinstance(translate(error, "query"), ApiLimitExceededError)


def test_translated_errors_carry_no_url_and_mask_secrets() -> None:
    error = _error(SalesforceExpiredSession, 401, "INVALID_SESSION_ID", f"bad {SESSION}")
    translated = translate(error, "query", secrets=[SESSION])
    assert isinstance(translated, SalesforceAuthError)
    assert SESSION not in str(translated)
    assert URL not in str(translated)
    assert "\n" not in str(translated)
