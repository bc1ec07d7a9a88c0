"""Translate simple-salesforce and requests exceptions into the product's errors.

simple-salesforce's exceptions print the request URL and the whole response body, and
requests' exceptions can carry the request; none of that belongs in a log line or an
error the CLI prints. Every failure leaving this package is a `SalesforceError` (or a
subclass) built here from the Salesforce error code and message only, with any known
secret masked for good measure.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import requests
from simple_salesforce.exceptions import SalesforceError as SimpleSalesforceError
from simple_salesforce.exceptions import SalesforceExpiredSession, SalesforceOperationError

from convsync.domain.errors import (
    ApiLimitExceededError,
    SalesforceAuthError,
    SalesforceError,
    TransientSalesforceError,
)

TRANSIENT_CODES = frozenset({"SERVER_UNAVAILABLE", "UNABLE_TO_LOCK_ROW"})
TRANSIENT_HTTP = frozenset({502, 503, 504})
MAX_MESSAGE = 300


def mask(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of a secret (4+ characters) with `***`."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def first_error(content: Any) -> tuple[str, str]:
    """(errorCode, message) of Salesforce's `[{"errorCode", "message"}]` error body."""
    if isinstance(content, list) and content and isinstance(content[0], dict):
        item = content[0]
        code = str(item.get("errorCode") or item.get("statusCode") or "UNKNOWN")
        return code, str(item.get("message") or "")
    if isinstance(content, dict):
        code = str(content.get("errorCode") or content.get("error") or "UNKNOWN")
        message = content.get("message") or content.get("error_description") or ""
        return code, str(message)
    if isinstance(content, bytes):
        content = content.decode("utf-8", "replace")
    return "UNKNOWN", str(content or "")


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 1] + "…"


def is_expired_session(error: BaseException) -> bool:
    return isinstance(error, SalesforceExpiredSession)


def translate(  # noqa: PLR0911 - one return per failure kind reads best
    error: BaseException, action: str, secrets: Iterable[str] = ()
) -> SalesforceError:
    """The product error for a failure of `action` (e.g. "query CampaignMember")."""
    if isinstance(error, SalesforceError):
        return error
    if isinstance(error, requests.exceptions.SSLError):
        return SalesforceError(
            f"TLS verification failed while trying to {action}: "
            "check CONVSYNC_SALESFORCE_CA_BUNDLE",
            code="SSL_ERROR",
        )
    if isinstance(
        error,
        requests.ConnectionError | requests.exceptions.ChunkedEncodingError | requests.Timeout,
    ):
        return TransientSalesforceError(
            f"connection to Salesforce failed while trying to {action} ({type(error).__name__})",
            code="CONNECTION_ERROR",
        )
    if isinstance(error, SimpleSalesforceError):
        code, message = first_error(error.content)
        text = _one_line(mask(f"{action}: {code}: {message}", secrets))
        status = error.status
        if status == 401:
            return SalesforceAuthError(
                f"Salesforce rejected the session ({text}): check the CONVSYNC_SALESFORCE_* "
                "credentials",
                code=code,
            )
        if status == 403 and code == "REQUEST_LIMIT_EXCEEDED":
            return ApiLimitExceededError(
                f"the org's daily Salesforce API limit is used up ({text}); "
                "the run waits for the budget and resumes where it stopped",
                code=code,
            )
        if code in TRANSIENT_CODES or status in TRANSIENT_HTTP:
            return TransientSalesforceError(f"Salesforce is busy: {text}", code=code)
        return SalesforceError(f"Salesforce refused to {text} (HTTP {status})", code=code)
    if isinstance(error, SalesforceOperationError):
        return SalesforceError(
            _one_line(mask(f"Bulk API job failed while trying to {action}: {error}", secrets)),
            code="BULK_JOB_FAILED",
        )
    return SalesforceError(
        _one_line(mask(f"unexpected failure while trying to {action}: {error!r}", secrets)),
        code="UNKNOWN",
    )
