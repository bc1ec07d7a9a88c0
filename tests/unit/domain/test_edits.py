"""The push rule for Conversion edits: a trailing quiet period, bounded by a maximum wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from convsync.domain.edits import PendingEdits, push_now

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
MAX = timedelta(seconds=5)


def test_a_request_with_no_later_edit_pushes() -> None:
    edits = PendingEdits(edit_count=7, pushed=3, since=NOW)

    assert push_now(edits, requested_after=7, now=NOW, max_delay=MAX)


def test_a_request_overtaken_by_a_later_edit_waits_for_that_edits_request() -> None:
    edits = PendingEdits(edit_count=8, pushed=3, since=NOW - timedelta(seconds=1))

    assert not push_now(edits, requested_after=7, now=NOW, max_delay=MAX)


def test_edits_without_pause_are_pushed_once_the_oldest_waited_the_maximum() -> None:
    edits = PendingEdits(edit_count=80, pushed=3, since=NOW - MAX)

    assert push_now(edits, requested_after=7, now=NOW, max_delay=MAX)


def test_nothing_is_pushed_when_a_run_already_carried_every_edit() -> None:
    edits = PendingEdits(edit_count=7, pushed=7, since=NOW - timedelta(minutes=1))

    assert not push_now(edits, requested_after=7, now=NOW, max_delay=MAX)
