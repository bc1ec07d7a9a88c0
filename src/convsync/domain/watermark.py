"""Bookmark arithmetic for incremental reads (the Singer-SDK "replication key" pattern).

A run reads Salesforce rows whose `SystemModstamp` falls in a window, then advances the
bookmark to the greatest value it saw. Two guards keep this lossless:

- the window starts `overlap` before the bookmark, because a row can commit with a
  timestamp earlier than rows already read (long transactions); re-reading is harmless
  since applying a member twice changes nothing;
- the window ends, and the bookmark stops, at the run's start, so rows still being
  written while the run reads are picked up whole by the next run;
- the bookmark also stops at Salesforce's `latestDateCovered`: a row of a transaction
  still in flight keeps the SystemModstamp of its write but becomes visible later, so a
  bookmark past it would leave it behind the next window for good.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import overload


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (got {value!r})")


def query_window(
    mark: datetime | None, run_started_at: datetime, overlap: timedelta
) -> tuple[datetime | None, datetime]:
    """The `(start, end]` range of timestamps to read; `start=None` means from the beginning.

    `start` never passes `end`, so a bookmark ahead of this run's clock (a clock that
    stepped back) still yields a valid, if empty, window.
    """
    _require_aware("run_started_at", run_started_at)
    if overlap < timedelta(0):
        raise ValueError(f"overlap must not be negative (got {overlap})")
    if mark is None:
        return None, run_started_at
    _require_aware("mark", mark)
    return min(mark - overlap, run_started_at), run_started_at


@overload
def advance(
    mark: datetime, observed_max: datetime | None, run_started_at: datetime
) -> datetime: ...
@overload
def advance(mark: None, observed_max: datetime, run_started_at: datetime) -> datetime: ...
@overload
def advance(
    mark: datetime | None, observed_max: datetime | None, run_started_at: datetime
) -> datetime | None: ...
def advance(
    mark: datetime | None, observed_max: datetime | None, run_started_at: datetime
) -> datetime | None:
    """The new bookmark: the greatest timestamp seen, never past the run's start, never back.

    The observed maximum (Salesforce's clock), not the run's start (ours), is what moves
    the bookmark, so skew between the two clocks cannot skip rows. With nothing
    observed the bookmark stays where it was.
    """
    _require_aware("run_started_at", run_started_at)
    if mark is not None:
        _require_aware("mark", mark)
    if observed_max is None:
        return mark
    _require_aware("observed_max", observed_max)
    candidate = min(observed_max, run_started_at)
    return candidate if mark is None else max(mark, candidate)


def ceiling(
    run_started_at: datetime, latest_covered: datetime | None, overlap: timedelta
) -> datetime:
    """How far a run's bookmark may go: its start, or `overlap` past Salesforce's
    `latestDateCovered` when that is earlier.

    Every write stamped after `latestDateCovered` may still be invisible, so the next read
    must reach back to it; it starts `overlap` before the bookmark, so the bookmark may
    pass `latestDateCovered` by `overlap` and no more. Salesforce gives that time in
    whole minutes and holds it back only while long transactions are in flight: with a
    60 s overlap a quiet org's bookmark is not held back at all.
    """
    _require_aware("run_started_at", run_started_at)
    if latest_covered is None:
        return run_started_at
    _require_aware("latest_covered", latest_covered)
    return min(run_started_at, latest_covered + overlap)


def read_bound(signpost: datetime) -> datetime:
    """The upper bound of a run's read: its start rounded *up* to a whole second.

    SOQL datetime literals have whole seconds and the gateway rounds down, which would
    leave a change made in the second before the run started out of this run: a member
    added just before `link`, or worse, a Salesforce change that the outbound stage then
    overwrites with an older Conversion value. Rows read past the signpost are harmless:
    the bookmark still stops at the run's start, and reading a row twice changes nothing.
    A row stamped after this bound is one the run has not seen.
    """
    _require_aware("signpost", signpost)
    whole = signpost.replace(microsecond=0)
    return whole if whole == signpost else whole + timedelta(seconds=1)
