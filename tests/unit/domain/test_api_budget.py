"""The rolling window's arithmetic: buckets of 1/24 of the window, calls that stop
counting when their bucket leaves it, and when a spent budget frees a call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from convsync.domain.api_budget import (
    BUCKETS,
    Window,
    budget_from_org_limit,
    crossed_warning,
    frees_at,
)

DAY = Window()
NOON = datetime(2026, 12, 4, 12, 30, tzinfo=UTC)


def test_a_day_is_cut_into_hour_buckets_and_the_window_holds_the_last_24_hours_whole() -> None:
    buckets = DAY.buckets(NOON)

    assert DAY.bucket_seconds == 3_600
    assert len(buckets) == BUCKETS + 1
    assert buckets[-1] == DAY.bucket_of(NOON)
    assert buckets[0] == DAY.bucket_of(NOON - timedelta(hours=24))


def test_a_call_counts_at_least_24_hours() -> None:
    current = DAY.bucket_of(NOON)

    assert DAY.leaves_at(current) == datetime(2026, 12, 5, 13, 0, tzinfo=UTC)


def test_below_the_budget_a_call_is_allowed_now() -> None:
    counts = [0] * 24 + [5]

    assert frees_at(DAY, NOON, counts, budget=30) == NOON


def test_a_spent_budget_frees_when_enough_of_the_oldest_calls_leave_the_window() -> None:
    counts = [0] * 21 + [10, 10, 5, 5]  # 30 calls; the oldest 10 are 3 hours old

    assert frees_at(DAY, NOON, counts, budget=30) == DAY.leaves_at(DAY.bucket_of(NOON) - 3)
    assert frees_at(DAY, NOON, counts, budget=20) == DAY.leaves_at(DAY.bucket_of(NOON) - 2)


def test_a_budget_spent_within_the_current_bucket_frees_when_that_bucket_leaves() -> None:
    counts = [0] * 24 + [40]

    assert frees_at(DAY, NOON, counts, budget=30) == DAY.leaves_at(DAY.bucket_of(NOON))


def test_a_short_test_window_frees_in_seconds() -> None:
    window = Window(24)
    counts = [0] * 24 + [30]

    assert frees_at(window, NOON, counts, budget=30) - NOON <= timedelta(seconds=25)


def test_the_default_budget_is_a_share_of_the_orgs_daily_limit() -> None:
    assert budget_from_org_limit(15_000, 0.5) == 7_500
    assert budget_from_org_limit(1, 0.5) == 1


def test_the_warning_comes_at_80_percent() -> None:
    assert not crossed_warning(23, 30)
    assert crossed_warning(24, 30)
