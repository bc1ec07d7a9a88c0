"""Campaign row locks: parallel member writes to one campaign lock its Campaign row in a
real org (UNABLE_TO_LOCK_ROW per record). The sync must not spend its attempts on them.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from convsync.salesforce_emulator.testing import EmulatorHandle
from tests.support.scenario import (
    WEBINAR_IN_SALESFORCE,
    WEBINAR_STATUSES,
    cli,
    conversion_campaign,
    conversion_type,
    dead_letters,
    finished_run,
    members_here,
    salesforce_campaign,
    salesforce_members,
)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("worker")]

MEMBERS = 5_000
# A member write keeps its campaign locked this long after it ends: every collection
# call of a chunk collides with the one before it and with the other worker's.
LOCK_WINDOW_MS = 250


def test_a_5000_member_initial_sync_under_row_locks_ends_with_both_sides_equal(
    org: EmulatorHandle, tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    conversion_type()
    conversion_campaign("Big", "Webinar")
    rows = "\n".join(f"person{i}@example.com,{WEBINAR_STATUSES[i % 3]}" for i in range(MEMBERS))
    csv_file = tmp_path / "big.csv"
    csv_file.write_text(f"email,status\n{rows}\n")
    cli("members", "import", "Big", str(csv_file))
    sf = salesforce_campaign(org, "Big SF", WEBINAR_IN_SALESFORCE, [])
    org.admin.set_lock_window(LOCK_WINDOW_MS)
    org.admin.reset_counters()
    started = time.monotonic()

    cli("link", "Big", "--salesforce-campaign", sf["id"])

    run = finished_run("Big", timeout=300)
    elapsed = time.monotonic() - started
    org.admin.set_lock_window(0)
    calls = org.admin.counters()
    record_property("seconds", round(elapsed, 1))
    record_property("API calls", calls["total"])
    figures = f"{elapsed:.1f} s, {calls['total']} API calls {calls['by_endpoint']}"
    print(f"\n5,000 members under {LOCK_WINDOW_MS} ms locks: {figures}")  # noqa: T201 - with -s
    assert run["state"] == "succeeded", run
    assert dead_letters("Big") == []
    here = members_here("Big")
    assert len(here) == MEMBERS
    assert salesforce_members(org, sf["id"]) == here
