"""convsync's own API budget: every Salesforce API call counted, attributed, and refused
once the budget of the rolling window is spent.

Where: `SalesforceSession.request` (salesforce/http.py) asks `ApiBudgetGuard.before`
before it sends anything to `/services/data/…`, so every call of every code path (paged
queries, composite, Bulk API polls, retries) is counted once, as Salesforce counts it.
One Redis round trip per call: a Lua script sums the window, and either refuses the
call or counts it (atomic across every worker process).

Attribution: to a campaign (Conversion campaign id, or "-" for org-level work), set by
the use case that loads a run (`attribute_to`), and to a purpose, set by the gateway
method making the call (`spending`), else guessed from the HTTP verb (GET: read, other:
write). Both live in context variables here, so the domain never sees them.

Layout in Redis: one hash per bucket, `convsync:api:calls:<bucket>`, fields
`<campaign>|<purpose>` plus `*` (the bucket's total), expiring one bucket after they
leave the window; `convsync:api:org-limit` caches the org's DailyApiRequests.Max.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

import requests
import structlog
from redis.exceptions import RedisError

from convsync.domain import api_budget
from convsync.domain.api_budget import Window
from convsync.domain.errors import ApiBudgetSpentError, RequestCapUnavailableError
from convsync.salesforce.budget import parse_limit_info

log = structlog.get_logger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

ORG_LEVEL = "-"
PREFIX = "convsync:api"


class Purpose(StrEnum):
    """Why a call was made (the `status --api` columns)."""

    READ = "read"  # members, campaigns, change detection, describe
    WRITE = "write"  # members, Leads, campaigns: collections and Bulk API jobs
    LOOKUP = "lookup"  # people by email, converted and merged Leads
    STATUSES = "statuses"  # CampaignMemberStatus rows
    LIMITS = "limits"  # the org's limits (never refused: it is how the budget is known)


_campaign: contextvars.ContextVar[str] = contextvars.ContextVar("api_campaign", default=ORG_LEVEL)
_purpose: contextvars.ContextVar[Purpose | None] = contextvars.ContextVar(
    "api_purpose", default=None
)


def attribute_to(campaign_id: int | None) -> None:
    """Charge the calls this task makes from now on to a campaign (None: org-level)."""
    _campaign.set(ORG_LEVEL if campaign_id is None else str(campaign_id))


@contextmanager
def purpose(what: Purpose) -> Iterator[None]:
    token = _purpose.set(what)
    try:
        yield
    finally:
        _purpose.reset(token)


@contextmanager
def reading() -> Iterator[None]:
    """Calls that only read, whatever their HTTP verb (a Composite API call of queries is
    a POST): read, unless the caller named a purpose (a lookup stays a lookup)."""
    if _purpose.get() is not None:
        yield
        return
    with purpose(Purpose.READ):
        yield


def spending(what: Purpose) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a gateway method (not a generator) whose calls all serve `what`."""

    def decorate(method: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(method)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with purpose(what):
                return method(*args, **kwargs)

        return wrapper

    return decorate


def is_api_call(url: str) -> bool:
    """A call Salesforce charges: the REST/Bulk API under /services/data/vNN.N/."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    return len(parts) >= 4 and parts[:2] == ["services", "data"] and parts[2].startswith("v")


# KEYS = the window's bucket hashes (oldest first), then the org-limit key, then the
# warning key. ARGV = field, configured budget (0: a share of the org's limit), share of
# the org's limit in thousandths, exempt (1: never refused), bucket TTL seconds, an org
# limit just learnt (0: none), warning TTL seconds, warning share in thousandths.
# Returns {allowed, used, budget, warn, count per bucket...}.
_SPEND = """
local n = #KEYS - 2
local org_key, warn_key = KEYS[n + 1], KEYS[n + 2]
if tonumber(ARGV[6]) > 0 then redis.call('SET', org_key, ARGV[6]) end
local budget = tonumber(ARGV[2])
if budget == 0 then
    local org = tonumber(redis.call('GET', org_key) or '0')
    if org > 0 then budget = math.max(1, math.floor(org * tonumber(ARGV[3]) / 1000)) end
end
local counts, used = {}, 0
for i = 1, n do
    local c = tonumber(redis.call('HGET', KEYS[i], '*') or '0')
    counts[i] = c
    used = used + c
end
if budget > 0 and used >= budget and ARGV[4] == '0' then
    return {0, used, budget, 0, unpack(counts)}
end
redis.call('HINCRBY', KEYS[n], ARGV[1], 1)
redis.call('HINCRBY', KEYS[n], '*', 1)
redis.call('EXPIRE', KEYS[n], ARGV[5])
counts[n] = counts[n] + 1
used = used + 1
local warn = 0
if budget > 0 and used * 1000 >= budget * tonumber(ARGV[8]) then
    if redis.call('SET', warn_key, '1', 'NX', 'EX', ARGV[7]) then warn = 1 end
end
return {1, used, budget, warn, unpack(counts)}
"""


@dataclass(frozen=True, slots=True)
class BudgetState:
    """The window as one worker or command sees it now."""

    used: int
    budget: int | None  # None: not configured and the org's limit not known yet
    frees_at: datetime | None  # set when spent: when the window allows a call again

    @property
    def ratio(self) -> float | None:
        return None if not self.budget else self.used / self.budget

    @property
    def paused(self) -> bool:
        return self.frees_at is not None


@dataclass(frozen=True, slots=True)
class Usage:
    """Calls in the window by (campaign, purpose), and the budget's state."""

    calls: dict[tuple[str, str], int]
    state: BudgetState


class ApiUsageLedger:
    """The shared count of convsync's calls in the rolling window, in Redis."""

    def __init__(
        self,
        client: Any,
        *,
        budget: int | None,
        share: float,
        window: Window,
        prefix: str = PREFIX,
    ) -> None:
        self.client = client
        self.budget = budget
        self.share = share
        self.window = window
        self.prefix = prefix
        self._spend = client.register_script(_SPEND)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> ApiUsageLedger:
        import redis

        return cls(redis.Redis.from_url(url), **kwargs)

    def _bucket_keys(self, now: datetime) -> list[str]:
        return [f"{self.prefix}:calls:{b}" for b in self.window.buckets(now)]

    @property
    def _org_key(self) -> str:
        return f"{self.prefix}:org-limit"

    def spend(
        self,
        campaign: str,
        what: Purpose,
        *,
        now: datetime | None = None,
        org_limit: int | None = None,
    ) -> tuple[bool, BudgetState, bool]:
        """Count one call, or refuse it when the budget is spent (LIMITS never is):
        (allowed, the state after, whether this call crossed the warning share)."""
        now = now or datetime.now(UTC)
        keys = [*self._bucket_keys(now), self._org_key, f"{self.prefix}:warned"]
        ttl = int(self.window.bucket_seconds * (api_budget.WINDOW_BUCKETS + 1)) + 1
        args = [
            f"{campaign}|{what.value}",
            self.budget or 0,
            round(self.share * 1000),
            1 if what is Purpose.LIMITS else 0,
            ttl,
            org_limit or 0,
            max(1, self.window.seconds),
            round(api_budget.WARN_SHARE * 1000),
        ]
        try:
            allowed, used, budget, warn, *counts = self._spend(keys=keys, args=args)
        except RedisError as error:
            raise _unavailable(error) from None
        state = self._state(now, int(used), int(budget), [int(c) for c in counts])
        return bool(allowed), state, bool(warn)

    def _state(self, now: datetime, used: int, budget: int, counts: list[int]) -> BudgetState:
        if budget <= 0:
            return BudgetState(used, None, None)
        frees = api_budget.frees_at(self.window, now, counts, budget)
        return BudgetState(used, budget, frees if frees > now else None)

    def uncount(self, campaign: str, what: Purpose, *, now: datetime | None = None) -> None:
        """Take back a call Salesforce did not charge (refused unauthenticated)."""
        key = self._bucket_keys(now or datetime.now(UTC))[-1]
        try:
            with self.client.pipeline() as pipe:
                pipe.hincrby(key, f"{campaign}|{what.value}", -1)
                pipe.hincrby(key, "*", -1)
                pipe.execute()
        except RedisError as error:
            raise _unavailable(error) from None

    def org_limit(self) -> int | None:
        value = self.client.get(self._org_key)
        return int(value) if value else None

    def remember_org_limit(self, org_limit: int) -> None:
        self.client.set(self._org_key, org_limit)

    def usage(self, *, now: datetime | None = None) -> Usage:
        """Every bucket of the window in one round trip (whatever the campaign count)."""
        now = now or datetime.now(UTC)
        keys = self._bucket_keys(now)
        try:
            with self.client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hgetall(key)
                pipe.get(self._org_key)
                *buckets, org = pipe.execute()
        except RedisError as error:
            raise _unavailable(error) from None
        calls: dict[tuple[str, str], int] = {}
        counts: list[int] = []
        for bucket in buckets:
            counts.append(int(bucket.get(b"*", 0)))
            for raw, count in bucket.items():
                field = raw.decode()
                if field == "*" or int(count) <= 0:
                    continue
                campaign, _, what = field.rpartition("|")
                calls[(campaign, what)] = calls.get((campaign, what), 0) + int(count)
        budget = self.budget
        if budget is None and org:
            budget = api_budget.budget_from_org_limit(int(org), self.share)
        return Usage(calls, self._state(now, sum(counts), budget or 0, counts))

    def state(self, *, now: datetime | None = None) -> BudgetState:
        return self.usage(now=now).state


def _unavailable(error: RedisError) -> RequestCapUnavailableError:
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return RequestCapUnavailableError(
        "cannot reach Redis, which counts convsync's Salesforce API calls "
        f"(CONVSYNC_REDIS_URL, or CONVSYNC_BROKER_URL when it is Redis): {reason}",
        code="REDIS_UNAVAILABLE",
    )


BudgetObserver = Callable[[BudgetState], None]


class ApiBudgetGuard:
    """The session's hook around each request: count it, or refuse it when spent."""

    def __init__(self, ledger: ApiUsageLedger, observer: BudgetObserver | None = None) -> None:
        self.ledger = ledger
        self.observer = observer
        self._org_limit: int | None = None

    def before(self, method: str, url: str) -> tuple[str, Purpose] | None:
        """Charge the call about to be sent (None: not an API call); raise when spent."""
        if not is_api_call(url):
            return None
        what = _purpose.get() or (Purpose.READ if method.upper() == "GET" else Purpose.WRITE)
        if "/limits" in urlsplit(url).path:
            what = Purpose.LIMITS
        campaign = _campaign.get()
        allowed, state, warn = self.ledger.spend(campaign, what, org_limit=self._org_limit)
        if self.observer is not None:
            self.observer(state)
        if warn:
            log.warning(
                "salesforce.api_budget_high",
                detail="convsync has used 80 % of its daily Salesforce API budget",
                used=state.used,
                budget=state.budget,
            )
        if not allowed:
            frees = state.frees_at or datetime.now(UTC)
            raise ApiBudgetSpentError(
                f"convsync's daily Salesforce API budget is spent ({state.used} of "
                f"{state.budget} calls in the rolling window); syncs resume at "
                f"{frees:%Y-%m-%d %H:%M:%S} UTC",
                frees,
            )
        return campaign, what

    def after(self, charged: tuple[str, Purpose], response: requests.Response) -> None:
        """Learn the org's limit from the response; take back a call Salesforce did not
        charge (refused as unauthenticated, or because the org's own limit is spent)."""
        usage = parse_limit_info(response.headers.get("Sforce-Limit-Info") or "")
        if usage is not None:
            self._org_limit = usage[1]
        uncharged = response.status_code == 401 or (
            response.status_code == 403 and "REQUEST_LIMIT_EXCEEDED" in response.text
        )
        if uncharged:
            self.ledger.uncount(*charged)
