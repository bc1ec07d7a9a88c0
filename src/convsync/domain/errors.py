"""Errors the product speaks about. A leaf module: it imports nothing from the package.

Every `ConvsyncError` carries a one-line message that names what the user should fix; the
CLI prints it and exits 1. Anything else escaping is a bug.
"""

from __future__ import annotations

from datetime import datetime


class ConvsyncError(Exception):
    """A user-facing problem with a one-line, actionable message."""


class NotFoundError(ConvsyncError):
    """A named thing (campaign, type, member, link, dead letter) does not exist."""


class ValidationError(ConvsyncError):
    """Input is malformed or breaks a rule (bad email, unknown status, duplicate name)."""


class ConfigurationError(ConvsyncError):
    """A setting is missing or invalid."""


class LinkError(ConvsyncError):
    """A campaign cannot be linked or unlinked as asked."""


class MissingAccessError(LinkError):
    """The Salesforce user lacks permissions the sync needs; `missing` says which, one
    line each (the message itself stays one line)."""

    def __init__(self, missing: tuple[str, ...]) -> None:
        count = len(missing)
        super().__init__(
            f"the Salesforce user lacks {count} permission{'s' if count != 1 else ''} the "
            "sync needs; grant them to its profile or a permission set, then try again"
        )
        self.missing = missing


class SalesforceError(ConvsyncError):
    """Salesforce refused a call in a way the sync cannot work around on its own."""

    def __init__(self, message: str, code: str = "UNKNOWN") -> None:
        super().__init__(message)
        self.code = code


class SalesforceAuthError(SalesforceError):
    """Login failed or the session cannot be renewed: check the credentials."""


class ApiLimitExceededError(SalesforceError):
    """The org's daily API budget is spent: stop the run, keep state, resume later."""


class ApiBudgetSpentError(ApiLimitExceededError):
    """convsync spent its own daily API budget (`CONVSYNC_SALESFORCE_DAILY_BUDGET`): the
    call was not made; syncs pause, state kept, until the rolling window frees a call at
    `frees_at` (an aware UTC datetime)."""

    def __init__(self, message: str, frees_at: datetime) -> None:
        super().__init__(message, code="CONVSYNC_API_BUDGET_SPENT")
        self.frees_at = frees_at


class RequestCapUnavailableError(SalesforceError):
    """Redis, which holds the cap on concurrent Salesforce requests, cannot be reached.

    Not retried call by call (a refused connection stays refused for seconds): a command
    says so at once, and a task retries later like any transient failure.
    """


class TransientSalesforceError(SalesforceError):
    """A failure worth retrying (503, UNABLE_TO_LOCK_ROW, a dropped connection)."""


class ServiceUnavailableError(ConvsyncError):
    """The database or the broker cannot be used right now: the message says which."""


class BrokerUnavailableError(ServiceUnavailableError):
    """The broker refused or could not take a message: the work was not queued."""
