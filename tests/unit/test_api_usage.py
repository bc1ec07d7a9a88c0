"""convsync's count of its own API calls (salesforce/usage.py) on a Redis with Lua
(fakeredis): attribution, refusal at the budget, one warning, and the window rolling."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import fakeredis
import pytest
import requests

from convsync.domain.api_budget import Window
from convsync.domain.errors import ApiBudgetSpentError
from convsync.salesforce.usage import (
    ApiBudgetGuard,
    ApiUsageLedger,
    BudgetState,
    Purpose,
    attribute_to,
    purpose,
    reading,
    spending,
)

DAY = Window()
API = "https://org.example/services/data/v59.0"
NOW = datetime(2026, 12, 4, 12, 30, tzinfo=UTC)


def ledger(budget: int | None = 10, window: Window = DAY) -> ApiUsageLedger:
    return ApiUsageLedger(fakeredis.FakeRedis(), budget=budget, share=0.5, window=window)


@pytest.fixture(autouse=True)
def org_level() -> Iterator[None]:
    attribute_to(None)
    yield
    attribute_to(None)


def response(status: int = 200, limit_info: str | None = None, text: str = "{}") -> Any:
    answer = requests.Response()
    answer.status_code = status
    answer._content = text.encode()
    if limit_info:
        answer.headers["Sforce-Limit-Info"] = limit_info
    return answer


def test_a_call_is_charged_to_the_campaign_and_the_purpose_it_serves() -> None:
    counted = ledger()
    guard = ApiBudgetGuard(counted)
    attribute_to(7)

    with purpose(Purpose.LOOKUP):
        guard.before("POST", f"{API}/composite")
    guard.before("GET", f"{API}/query?q=x")
    guard.before("PATCH", f"{API}/composite/sobjects")
    attribute_to(None)
    guard.before("GET", f"{API}/limits")

    assert counted.usage().calls == {
        ("7", "lookup"): 1,
        ("7", "read"): 1,
        ("7", "write"): 1,
        ("-", "limits"): 1,
    }


def test_a_gateway_method_names_its_purpose_for_every_call_it_makes() -> None:
    counted = ledger()
    guard = ApiBudgetGuard(counted)

    @spending(Purpose.STATUSES)
    def read_statuses() -> None:
        guard.before("GET", f"{API}/query?q=statuses")

    read_statuses()

    assert counted.usage().calls == {("-", "statuses"): 1}


def test_a_post_that_only_reads_counts_as_a_read_unless_it_serves_a_lookup() -> None:
    counted = ledger()
    guard = ApiBudgetGuard(counted)

    with reading():
        guard.before("POST", f"{API}/composite")
    with purpose(Purpose.LOOKUP), reading():
        guard.before("POST", f"{API}/composite")

    assert counted.usage().calls == {("-", "read"): 1, ("-", "lookup"): 1}


def test_logins_and_other_urls_are_not_api_calls() -> None:
    counted = ledger()

    ApiBudgetGuard(counted).before("POST", "https://login.example/services/oauth2/token")

    assert counted.usage().state.used == 0


def test_at_the_budget_a_call_is_refused_with_when_the_window_frees() -> None:
    counted = ledger(budget=3)
    for _ in range(3):
        counted.spend("-", Purpose.READ, now=NOW)

    allowed, state, _ = counted.spend("-", Purpose.READ, now=NOW)

    assert not allowed
    assert state.used == 3
    assert state.frees_at == Window().leaves_at(Window().bucket_of(NOW))


def test_the_guard_raises_a_budget_error_and_the_call_is_not_counted() -> None:
    counted = ledger(budget=1)
    guard = ApiBudgetGuard(counted)
    guard.before("GET", f"{API}/query")

    with pytest.raises(ApiBudgetSpentError) as refused:
        guard.before("GET", f"{API}/query")

    assert refused.value.frees_at > datetime.now(UTC)
    assert counted.usage().state.used == 1


def test_the_limits_call_is_never_refused() -> None:
    counted = ledger(budget=1)
    counted.spend("-", Purpose.READ)

    allowed, _, _ = counted.spend("-", Purpose.LIMITS)

    assert allowed


def test_calls_stop_counting_once_their_bucket_leaves_the_window() -> None:
    counted = ledger(budget=3)
    for _ in range(3):
        counted.spend("-", Purpose.READ, now=NOW)

    later = NOW + timedelta(hours=25)
    allowed, state, _ = counted.spend("-", Purpose.READ, now=later)

    assert allowed
    assert state.used == 1


def test_the_80_percent_warning_is_given_once() -> None:
    counted = ledger(budget=10)
    warnings = [counted.spend("-", Purpose.READ)[2] for _ in range(10)]

    assert warnings == [False] * 7 + [True, False, False]


def test_without_a_setting_the_budget_is_a_share_of_the_org_limit_the_responses_report() -> None:
    counted = ledger(budget=None)
    seen: list[BudgetState] = []
    guard = ApiBudgetGuard(counted, seen.append)
    charged = guard.before("GET", f"{API}/query")
    assert charged is not None
    guard.after(charged, response(limit_info="api-usage=5/40"))

    guard.before("GET", f"{API}/query")

    assert (seen[0].budget, seen[-1].budget) == (None, 20)
    assert counted.usage().state.budget == 20


def test_a_call_salesforce_refused_as_unauthenticated_is_taken_back() -> None:
    counted = ledger()
    guard = ApiBudgetGuard(counted)
    charged = guard.before("GET", f"{API}/query")
    assert charged is not None

    guard.after(charged, response(401))

    assert counted.usage().calls == {}
    assert counted.usage().state.used == 0
