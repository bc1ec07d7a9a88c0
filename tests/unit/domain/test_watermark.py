"""Bookmark arithmetic: overlap on the way in, never past the run start, never back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from convsync.domain.watermark import advance, ceiling, query_window, read_bound

RUN = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
OVERLAP = timedelta(minutes=5)


def test_window_without_mark_reads_from_the_beginning() -> None:
    assert query_window(None, RUN, OVERLAP) == (None, RUN)


def test_window_starts_overlap_before_mark() -> None:
    mark = RUN - timedelta(hours=1)
    assert query_window(mark, RUN, OVERLAP) == (mark - OVERLAP, RUN)


def test_window_ends_at_run_start() -> None:
    _, end = query_window(RUN - timedelta(hours=1), RUN, OVERLAP)
    assert end == RUN


def test_window_start_never_passes_end_when_mark_is_ahead() -> None:
    start, end = query_window(RUN + timedelta(hours=1), RUN, OVERLAP)
    assert start == end == RUN


def test_window_rejects_negative_overlap() -> None:
    with pytest.raises(ValueError, match="overlap"):
        query_window(None, RUN, -OVERLAP)


def test_window_rejects_naive_times() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        query_window(None, RUN.replace(tzinfo=None), OVERLAP)


def test_advance_moves_to_observed_max() -> None:
    mark, seen = RUN - timedelta(hours=2), RUN - timedelta(hours=1)
    assert advance(mark, seen, RUN) == seen


def test_advance_from_no_mark_takes_observed_max() -> None:
    seen = RUN - timedelta(hours=1)
    assert advance(None, seen, RUN) == seen


def test_advance_never_goes_past_run_start() -> None:
    assert advance(RUN - timedelta(hours=1), RUN + timedelta(minutes=3), RUN) == RUN


def test_advance_never_goes_backwards() -> None:
    mark = RUN - timedelta(hours=1)
    assert advance(mark, mark - timedelta(minutes=4), RUN) == mark


def test_advance_without_observations_keeps_mark() -> None:
    mark = RUN - timedelta(hours=1)
    assert advance(mark, None, RUN) == mark


def test_advance_without_mark_or_observations_stays_unset() -> None:
    assert advance(None, None, RUN) is None


def test_advance_rejects_naive_observed_max() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        advance(None, RUN.replace(tzinfo=None), RUN)


def test_read_bound_rounds_a_signpost_with_fractions_up_to_the_next_second() -> None:
    assert read_bound(RUN + timedelta(milliseconds=1)) == RUN + timedelta(seconds=1)


def test_read_bound_keeps_a_whole_second() -> None:
    assert read_bound(RUN) == RUN


def test_read_bound_refuses_a_naive_signpost() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        read_bound(datetime(2024, 6, 1, 12, 0))  # noqa: DTZ001 - naive on purpose


OVERLAP = timedelta(seconds=60)


def test_ceiling_is_the_run_start_when_salesforce_covers_it() -> None:
    assert ceiling(RUN, RUN + timedelta(minutes=1), OVERLAP) == RUN


def test_a_quiet_orgs_whole_minute_does_not_hold_the_bookmark_back() -> None:
    covered = RUN - timedelta(seconds=59)  # the minute the run started in, at the latest
    assert ceiling(RUN, covered, OVERLAP) == RUN


def test_ceiling_stops_an_overlap_past_latest_date_covered_before_the_run_start() -> None:
    covered = RUN - timedelta(minutes=2)
    bookmark = advance(RUN - timedelta(hours=1), RUN, ceiling(RUN, covered, OVERLAP))
    assert bookmark == covered + OVERLAP
    assert bookmark - OVERLAP == covered  # the next read reaches back to it


def test_ceiling_without_latest_date_covered_is_the_run_start() -> None:
    assert ceiling(RUN, None, OVERLAP) == RUN


def test_ceiling_rejects_naive_times() -> None:
    with pytest.raises(ValueError, match="latest_covered"):
        ceiling(RUN, datetime(2024, 6, 1, 11, 58), OVERLAP)  # noqa: DTZ001 — naive on purpose
