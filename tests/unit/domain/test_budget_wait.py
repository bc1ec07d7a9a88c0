from __future__ import annotations

from convsync.domain.budget_wait import JITTER, LONGEST_WAIT_SECONDS, base_wait, longest_wait


def test_the_wait_doubles_from_the_first() -> None:
    assert [base_wait(60, attempt) for attempt in range(5)] == [60, 120, 240, 480, 960]


def test_no_wait_exceeds_the_longest() -> None:
    assert base_wait(600, 10) == LONGEST_WAIT_SECONDS


def test_the_longest_wait_is_the_last_try_with_full_jitter() -> None:
    assert longest_wait(60, 5) == 960 * JITTER
