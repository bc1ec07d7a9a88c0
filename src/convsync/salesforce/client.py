"""How calls reach Salesforce: login, re-login, retries, paging, budget, error mapping.

`SalesforceClient` wraps one `simple_salesforce.Salesforce` built from an instance URL and
access token (our own OAuth login, see `auth.py`) over `SalesforceSession`. Every call
goes through `call()`, which:

- pauses when the org's daily API budget is past the configured share;
- re-authenticates on 401 INVALID_SESSION_ID and repeats the call (a 401 again right
  after a successful login counts as transient: retried, bounded);
- retries with exponential backoff and jitter on 503 / SERVER_UNAVAILABLE,
  UNABLE_TO_LOCK_ROW and dropped connections only, a bounded number of times;
- turns everything else into a one-line `SalesforceError` without secrets (403
  REQUEST_LIMIT_EXCEEDED becomes `ApiLimitExceededError`: stop the run, keep state).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode

import structlog
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceGeneralError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from convsync.domain.errors import (
    SalesforceAuthError,
    SalesforceError,
    TransientSalesforceError,
)
from convsync.salesforce.auth import (
    Credentials,
    Flow,
    LocalRefreshTokens,
    RefreshTokenStore,
    Token,
    authenticate,
)
from convsync.salesforce.budget import ApiBudget
from convsync.salesforce.failures import is_expired_session, translate
from convsync.salesforce.http import DEFAULT_TIMEOUT, SalesforceSession
from convsync.salesforce.soql import fits_in_uri
from convsync.salesforce.usage import reading

T = TypeVar("T")
log = structlog.get_logger(__name__)


# A Composite API call carries up to five queries in its body: one API call for all.
QUERIES_PER_COMPOSITE = 5


@dataclass(frozen=True)
class ClientOptions:
    """Tuning knobs; the defaults are production's, tests shrink the waits."""

    # 5 attempts within ~30 s: rides out a lock or a short outage, never loops on a
    # paid API.
    max_attempts: int = 5
    max_retry_seconds: float = 30.0
    backoff_initial: float = 0.5
    backoff_max: float = 8.0
    backoff_jitter: float = 0.5
    # Pause before each call once past the budget share: up to this at 100 % used.
    budget_max_pause: float = 5.0
    timeout: tuple[float, float] = DEFAULT_TIMEOUT
    # First Bulk API 2.0 status poll after this many seconds (simple-salesforce: 5); later
    # polls back off on their own. A job of 10,000 rows often completes within a second.
    bulk_poll_seconds: float = 0.5
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)


class SalesforceClient:
    """One logged-in connection to an org, shared by the gateway's operations."""

    def __init__(
        self,
        credentials: Credentials,
        session: SalesforceSession,
        budget: ApiBudget,
        *,
        api_version: str,
        options: ClientOptions | None = None,
        refresh_tokens: RefreshTokenStore | None = None,
    ) -> None:
        self.credentials = credentials
        self.refresh_tokens = refresh_tokens or LocalRefreshTokens()
        self.session = session
        self.budget = budget
        self.api_version = api_version
        self.options = options or ClientOptions()
        self._sf: Salesforce | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SalesforceClient({self.credentials!r}, version={self.api_version})"

    # ------------------------------------------------------------------ login

    @property
    def sf(self) -> Salesforce:
        """The simple-salesforce handle, logging in on first use."""
        sf = self._sf
        if sf is None:
            with self._lock:
                if self._sf is None:
                    self._sf = self._build(self._login(self.credentials))
                sf = self._sf
        return sf

    @property
    def secrets(self) -> tuple[str, ...]:
        sf = self._sf
        current = (sf.session_id,) if sf is not None else ()
        return self.credentials.secrets + current

    def _login(self, credentials: Credentials) -> Token:
        return self._retrying(
            "log in", lambda: authenticate(credentials, self.session, self.refresh_tokens)
        )

    def _build(self, token: Token) -> Salesforce:
        return Salesforce(
            instance_url=token.instance_url,
            session_id=token.access_token,
            session=self.session,
            version=self.api_version,
        )

    def relogin(self, expired: Salesforce | None = None) -> None:
        """Log in again (once per expiry, however many threads noticed it)."""
        with self._lock:
            if expired is not None and self._sf is not expired:
                return  # another thread already renewed the session
            credentials = self.credentials
            if credentials.flow is Flow.SESSION:
                if credentials.relogin is None:
                    raise SalesforceAuthError(
                        "the Salesforce session expired and cannot be renewed: set a new "
                        "CONVSYNC_SALESFORCE_SESSION_ID or login credentials "
                        "(CONVSYNC_SALESFORCE_USERNAME/_PASSWORD/_CLIENT_ID, ...)",
                        code="INVALID_SESSION_ID",
                    )
                credentials = self.credentials = credentials.relogin
            log.info("salesforce.relogin", flow=credentials.flow.value)
            self._sf = self._build(self._login(credentials))

    # ------------------------------------------------------------------ calls

    def call(self, action: str, operation: Callable[[Salesforce], T]) -> T:
        """Run `operation(sf)` with budget pacing, re-login and bounded retries."""
        pause = self.budget.pause_seconds()
        if pause > 0:
            log.info("salesforce.budget_pause", seconds=round(pause, 3), usage=self.budget.usage)
            self.options.sleep(pause)
        return self._retrying(action, lambda: self._once(action, operation))

    def call_once(self, action: str, operation: Callable[[Salesforce], T]) -> T:
        """`call` without retries, for a write that must not be repeated blind.

        A Bulk API job that creates Leads, retried whole after its results failed to
        download, would create every Lead twice. Here any failure is raised (an expired
        session as a transient error, after renewing it): the task retries, and its
        retry looks up by email what the first attempt created.
        """
        pause = self.budget.pause_seconds()
        if pause > 0:
            log.info("salesforce.budget_pause", seconds=round(pause, 3), usage=self.budget.usage)
            self.options.sleep(pause)
        sf = self.sf
        try:
            return operation(sf)
        except Exception as error:  # noqa: BLE001 - every failure is translated below
            if not is_expired_session(error):
                raise translate(error, action, self.secrets) from None
        self.relogin(sf)
        raise TransientSalesforceError(
            f"could not {action}: the Salesforce session expired (renewed; retry)",
            code="INVALID_SESSION_ID",
        )

    def _once(self, action: str, operation: Callable[[Salesforce], T]) -> T:
        sf = self.sf
        try:
            return operation(sf)
        except Exception as error:  # noqa: BLE001 - every failure is translated below
            if not is_expired_session(error):
                raise translate(error, action, self.secrets) from None
        # 401 INVALID_SESSION_ID: renew and repeat. Credentials that no longer work fail
        # the login itself (a clear SalesforceAuthError); a session refused right after a
        # successful login is a glitch, retried with backoff like any transient error.
        self.relogin(sf)
        renewed = self.sf
        try:
            return operation(renewed)
        except Exception as error:  # noqa: BLE001 - translated, secrets masked
            if not is_expired_session(error):
                raise translate(error, action, self.secrets) from None
        self.relogin(renewed)
        raise TransientSalesforceError(
            f"could not {action}: Salesforce refused a renewed session (renewed again; retry)",
            code="INVALID_SESSION_ID",
        )

    def _retrying(self, action: str, attempt: Callable[[], T]) -> T:
        retrying = self._bounded(
            retry=retry_if_exception_type(TransientSalesforceError),
            reraise=True,
            before_sleep=_log_retry(action),
        )
        return retrying(attempt)

    def _bounded(self, **policy: Any) -> Retrying:
        """A retry loop with the client's bounds, backoff and jitter; `policy` says what
        is retried and how it ends."""
        options = self.options
        return Retrying(
            stop=stop_after_attempt(options.max_attempts)
            | stop_after_delay(options.max_retry_seconds),
            wait=wait_exponential_jitter(
                multiplier=options.backoff_initial,
                max=options.backoff_max,
                jitter=options.backoff_jitter,
            ),
            sleep=options.sleep,
            **policy,
        )

    def repeat_while(
        self, action: str, attempt: Callable[[], T], *, again: Callable[[T], bool], code: str
    ) -> T:
        """Run `attempt`, and again while `again(result)` holds, with the same backoff,
        jitter and bounds as retried calls; the last result, whatever it is.

        For what Salesforce refuses per record but would take a moment later (a record
        another transaction has locked): the call succeeded, so `call` cannot see it.
        `code` is Salesforce's reason, for the retry's log line.
        """
        retrying = self._bounded(
            retry=retry_if_result(again),
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
            before_sleep=_log_retry(action, code),
        )
        return retrying(attempt)

    # ------------------------------------------------------------------ helpers

    def query_pages(
        self, soql: str, *, action: str, include_deleted: bool = False, page_size: int = 2_000
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield a query's pages one at a time (each page retried on its own).

        Same requests as `Salesforce.query_all_iter` (query, then `nextRecordsUrl`), but
        each page is a separate `call()`, so a retry or re-login resumes at that page
        instead of restarting the stream or failing half-way.
        """
        headers = {"Sforce-Query-Options": f"batchSize={page_size}"}
        result: dict[str, Any] = self.call(
            action, lambda sf: sf.query(soql, include_deleted=include_deleted, headers=headers)
        )
        while True:
            yield list(result.get("records") or [])
            next_url = result.get("nextRecordsUrl")
            if result.get("done", True) or not next_url:
                return
            result = self.call(action, _query_more(next_url, headers))

    def query_records(
        self, soql: str, *, action: str, include_deleted: bool = False
    ) -> Iterator[dict[str, Any]]:
        for page in self.query_pages(soql, action=action, include_deleted=include_deleted):
            yield from page

    def composite_queries(
        self, queries: Sequence[str], *, action: str, include_deleted: bool = False
    ) -> list[dict[str, Any]]:
        """Up to five queries in one Composite API call (one API call for all): their
        SOQL travels in the request body, never in a URI. Each result is a first page,
        as `query` (`queryAll` with `include_deleted`) returns it; a refused subrequest
        fails the whole call."""
        resource = "queryAll" if include_deleted else "query"
        return self.composite_get(
            [f"{resource}?" + urlencode({"q": q}) for q in queries], action=action
        )

    def composite_get(self, paths: Sequence[str], *, action: str) -> list[dict[str, Any]]:
        """GET subrequests (`query?q=…`, `queryAll?q=…`, `sobjects/…`; at most five of
        them queries) in one Composite API call: their bodies, in order. A refused
        subrequest fails the whole call with its own status and errors."""
        prefix = f"/services/data/v{self.api_version}/"
        body = {
            "allOrNone": False,
            "compositeRequest": [
                {"method": "GET", "url": prefix + path, "referenceId": f"r{i}"}
                for i, path in enumerate(paths)
            ],
        }

        def run(sf: Salesforce) -> list[dict[str, Any]]:
            response = sf.restful("composite", method="POST", json=body)
            items = response.get("compositeResponse") if isinstance(response, dict) else None
            if not isinstance(items, list) or len(items) != len(paths):
                raise SalesforceError(
                    f"Salesforce answered {action} with an unexpected composite response",
                    code="UNEXPECTED_RESPONSE",
                )
            results = []
            for item in items:
                if item["httpStatusCode"] != 200:
                    # The subrequest's own status and error list, as if called alone.
                    raise SalesforceGeneralError(
                        "composite", item["httpStatusCode"], "composite", item["body"]
                    )
                results.append(item["body"])
            return results

        with reading():  # a POST that only reads
            return self.call(action, run)

    def query_many(
        self, queries: Sequence[str], *, action: str, include_deleted: bool = False
    ) -> Iterator[dict[str, Any]]:
        """The rows of each query in turn: a lone query short enough for a URI as a GET,
        others five to a Composite API call, each followed by its further pages."""
        if len(queries) == 1 and fits_in_uri(queries[0]):
            yield from self.query_records(
                queries[0], action=action, include_deleted=include_deleted
            )
            return
        for start in range(0, len(queries), QUERIES_PER_COMPOSITE):
            batch = queries[start : start + QUERIES_PER_COMPOSITE]
            for first in self.composite_queries(
                batch, action=action, include_deleted=include_deleted
            ):
                yield from self.rows_from(first, action=action)

    def rows_from(self, first: dict[str, Any], *, action: str) -> Iterator[dict[str, Any]]:
        """The rows of a first page a Composite call brought, then of the pages after it."""
        yield from first.get("records") or []
        if not first.get("done", True) and first.get("nextRecordsUrl"):
            for page in self.more_pages(first["nextRecordsUrl"], action=action):
                yield from page

    def query_more(self, next_url: str, *, action: str) -> dict[str, Any]:
        """One further page of a query, from the previous page's `nextRecordsUrl`."""
        result: dict[str, Any] = self.call(action, _query_more(next_url, {}))
        return result

    def more_pages(self, next_url: str, *, action: str) -> Iterator[list[dict[str, Any]]]:
        """The pages after a first one, from its `nextRecordsUrl` (each a short GET)."""
        headers: dict[str, str] = {}
        url: str | None = next_url
        while url:
            result: dict[str, Any] = self.call(action, _query_more(url, headers))
            yield list(result.get("records") or [])
            url = None if result.get("done", True) else result.get("nextRecordsUrl")

    def restful(self, path: str, *, action: str, method: str = "GET", **kwargs: Any) -> Any:
        return self.call(action, lambda sf: sf.restful(path, method=method, **kwargs))

    def limits(self) -> dict[str, Any]:
        result: dict[str, Any] = self.call("read the org's limits", lambda sf: sf.limits())
        return result

    def api_usage(self) -> tuple[int, int] | None:
        """(used, max) of the daily API budget, from the last response."""
        return self.budget.usage


def _query_more(url: str, headers: dict[str, str]) -> Callable[[Salesforce], Any]:
    def more(sf: Salesforce) -> Any:
        return sf.query_more(url, identifier_is_url=True, headers=headers)

    return more


def _log_retry(action: str, code: str | None = None) -> Callable[[RetryCallState], None]:
    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "salesforce.retry",
            action=action,
            attempt=state.attempt_number,
            code=getattr(error, "code", code),
            wait=round(state.next_action.sleep, 3) if state.next_action else None,
        )

    return before_sleep
