"""A day in a real org: every way a real org differs from a friendly one, at once.

5,000 people with realistic 30 to 80-character emails. Before the link: duplicate rules on
*alert*, Bulk API 2.0 jobs slower than a chunk's lease, writes that become visible late,
row locks on the campaign, and an expired session (one re-login). After the initial
sync, the day happens: Leads are converted and merged, members are deleted in
Salesforce and the delete log is purged, and both sides edit, add and remove members.
Beat keeps the cadence; one on-demand drift repair (`sync --full`) runs as an operator
would after a purge. The end: both sides equal except the recorded skips and dead
letters, no duplicate Lead, no duplicate member. The figures are printed.
"""

from __future__ import annotations

import csv
import io
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from simple_salesforce import format_soql
from simple_salesforce.exceptions import SalesforceMalformedRequest

from convsync.salesforce_emulator.testing import EmulatorHandle, simple_salesforce_client
from tests.support.beat import beats, fast_cadence
from tests.support.scenario import (
    cli,
    cli_json,
    conversion_type,
    eventually,
    members_here,
    salesforce_members,
)
from tests.support.workers import WorkerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.heavy]

PEOPLE = int(os.environ.get("CONVSYNC_REAL_ORG_PEOPLE", "5000"))
STATUSES_HERE = ("Invited", "Registered", "Attended")
# Salesforce's campaign lacks "Attended" (dead letters outbound) and has "Clicked",
# which the type lacks (skips inbound).
STATUSES_THERE = [("Invited", True, False), ("Registered", False, False), ("Clicked", False, True)]
BULK_SECONDS = 8  # each Bulk job stays InProgress this long: above the 5 s lease
COMMIT_DELAY = 10  # seconds before a write becomes visible to queries
LOCK_WINDOW_MS = 100


def realistic_email(rng: random.Random, i: int) -> str:
    """30 to 80 characters, like the addresses of a real marketing list."""
    first = rng.choice(["ann", "bartholomew", "chiara", "dmitri", "eleonora", "francois"])
    last = rng.choice(["okonkwo", "van-der-berg", "nakamura", "fitzgerald-smythe", "li"])
    domain = rng.choice(
        ["example.com", "marketing.example.org", "emea.sales.example-holdings.co.uk"]
    )
    local = f"{first}.{last}.{i}"
    pad = rng.randint(0, 30)
    local += "." + "x" * pad if pad else ""
    email = f"{local}@{domain}"
    while len(email) < 30:
        email = "a" + email
    return email[-80:] if len(email) > 80 else email


@dataclass
class Day:
    """Who is where, and what happened to them."""

    org: EmulatorHandle
    sf_campaign: str = ""
    leads: dict[str, str] = field(default_factory=dict)  # email → Lead id
    skipped_expected: set[str] = field(default_factory=set)
    dead_expected: set[str] = field(default_factory=set)
    purged: set[str] = field(default_factory=set)
    merged_away: set[str] = field(default_factory=set)
    converted: set[str] = field(default_factory=set)
    figures: dict[str, Any] = field(default_factory=dict)

    def admin(self, path: str, body: dict[str, Any]) -> Any:
        return self.org.admin._call("POST", path, body)


@pytest.fixture
def cadence(
    salesforce_env: dict[str, str], redis_url: str, tmp_path: Path, org: EmulatorHandle
) -> Iterator[Callable[[], None]]:
    """Beat at a 5 s cadence, a 5 s lease, Bulk from 1,000 writes; start() starts both."""
    with (
        fast_cadence(
            interval=5,
            lease=5,
            redis_url=redis_url,
            CONVSYNC_BULK_THRESHOLD="1000",
        ),
        beats(os.environ, tmp_path) as start_beat,
    ):
        workers: list[WorkerProcess] = []

        def start() -> None:
            workers.append(WorkerProcess(os.environ, tmp_path, name="day", concurrency=2))
            workers[-1].wait_ready()
            start_beat()

        try:
            yield start
        finally:
            for worker in workers:
                worker.stop()


def seed_the_org(day: Day, rng: random.Random, emails: list[str]) -> None:
    """3,000 Salesforce members (2,400 Leads, 600 Contacts), 40 duplicate Leads."""
    lead_people = emails[:2_400]
    contact_people = emails[2_400:3_000]
    statuses = []
    for i, _ in enumerate(lead_people + contact_people):
        if i < 60:
            statuses.append("Clicked")
        else:
            statuses.append(rng.choice(["Invited", "Registered"]))
    leads = [{"LastName": e.split("@")[0][:40], "Company": "Acme", "Email": e} for e in lead_people]
    # Duplicates of 40 member Leads, made by another integration: merged later today.
    duplicates = [
        {"LastName": e.split("@")[0][:40], "Company": "Acme", "Email": e}
        for e in lead_people[100:140]
    ]
    contacts = [{"LastName": e.split("@")[0][:40], "Email": e} for e in contact_people]
    members = [{"lead": i, "Status": statuses[i]} for i in range(len(lead_people))]
    members += [
        {"contact": i, "Status": statuses[len(lead_people) + i]} for i in range(len(contacts))
    ]
    seeded = day.org.admin.seed(
        {
            "leads": leads + duplicates,
            "contacts": contacts,
            "campaigns": [
                {
                    "Name": "Day SF",
                    "statuses": [
                        {"Label": label, "IsDefault": default, "HasResponded": responded}
                        for label, default, responded in STATUSES_THERE
                    ],
                    "members": members,
                }
            ],
        }
    )
    day.sf_campaign = seeded["campaigns"][0]["id"]
    day.leads = dict(zip(lead_people, seeded["leads"][: len(lead_people)], strict=True))
    day.figures["duplicate_leads_seeded"] = len(duplicates)
    day.figures["duplicate_lead_ids"] = seeded["leads"][len(lead_people) :]
    day.skipped_expected = {e for e, s in zip(emails, statuses, strict=False) if s == "Clicked"}


def seed_conversion(day: Day, rng: random.Random, emails: list[str], tmp: Path) -> None:
    """2,600 Conversion members: 1,000 shared with Salesforce, 1,600 Salesforce lacks."""
    conversion_type("Webinar", STATUSES_HERE)
    cli("campaigns", "create", "Day", "--type", "Webinar")
    rows = []
    for i, email in enumerate(emails[60:1_060]):  # shared (not the skipped ones)
        rows.append((email, rng.choice(["Invited", "Registered"]) if i % 3 else "Registered"))
    for i, email in enumerate(emails[3_000:4_600]):
        status = "Attended" if i < 50 else rng.choice(["Invited", "Registered"])
        if status == "Attended":
            day.dead_expected.add(email)
        rows.append((email, status))
    import_members(tmp / "day.csv", rows)


def import_members(path: Path, rows: list[tuple[str, str]]) -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["email", "status"])
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    cli("members", "import", "Day", str(path))


def switch_on_a_real_org(day: Day) -> None:
    day.admin("duplicate-rules", {"Lead": "alert"})
    day.admin("bulk", {"processing_seconds": BULK_SECONDS})
    day.admin("commit-delay", {"seconds": COMMIT_DELAY})
    day.admin("locks", {"window_ms": LOCK_WINDOW_MS})
    day.org.admin.expire_sessions()  # the worker's first call re-logs in


def salesforce_rows(day: Day) -> list[dict[str, Any]]:
    sf = simple_salesforce_client(day.org)
    return list(
        sf.query_all_iter(
            format_soql(
                "SELECT Id, LeadId, ContactId, Status, Lead.Email, Contact.Email "
                "FROM CampaignMember WHERE CampaignId = {}",
                day.sf_campaign,
            )
        )
    )


def another_tool(write: Callable[[], Any]) -> Any:
    """A write by another integration: like any, it retries a campaign's row lock."""
    for _ in range(50):
        try:
            return write()
        except SalesforceMalformedRequest as refused:
            if "UNABLE_TO_LOCK_ROW" not in str(refused.content):
                raise
            time.sleep(LOCK_WINDOW_MS / 1000)
    raise AssertionError("the campaign stayed locked")


def delete_members(sf: Any, ids: list[str]) -> None:
    """Delete members 200 a call, again for those refused with a row lock."""
    while ids:
        batch, ids = ids[:200], ids[200:]
        results = sf.restful(
            "composite/sobjects",
            method="DELETE",
            params={"ids": ",".join(batch), "allOrNone": "false"},
        )
        locked = [
            r["id"]
            for r in results
            if not r["success"] and r["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"
        ]
        assert all(r["success"] or r["id"] in locked for r in results), results
        if locked:
            time.sleep(LOCK_WINDOW_MS / 1000)
            ids = locked + ids


def the_day_happens(day: Day, rng: random.Random, emails: list[str], tmp: Path) -> None:
    """Conversions, merges, deletions then a purge, edits on both sides."""
    sf = simple_salesforce_client(day.org)
    untouched = emails[1_200:2_400]  # Leads in Salesforce only after the initial sync
    # 150 member Leads converted to Contacts.
    for email in untouched[:150]:
        day.admin("leads/convert", {"lead_id": day.leads[email]})
        day.converted.add(email)
    # 40 member Leads merged into their duplicates (same person, same email).
    for email, master in zip(emails[100:140], day.figures["duplicate_lead_ids"], strict=True):
        day.admin("merge", {"object": "Lead", "master_id": master, "loser_ids": [day.leads[email]]})
    # 20 pairs of member Leads merged: the loser's membership disappears, no tombstone.
    for loser, master in zip(untouched[150:170], untouched[170:190], strict=True):
        day.admin(
            "merge",
            {"object": "Lead", "master_id": day.leads[master], "loser_ids": [day.leads[loser]]},
        )
        day.merged_away.add(loser)
    # 200 members deleted in Salesforce, then the delete log is purged.
    by_email = {
        str((r.get("Lead") or r.get("Contact") or {}).get("Email")).lower(): r["Id"]
        for r in salesforce_rows(day)
    }
    doomed = untouched[200:400]
    delete_members(sf, [by_email[e] for e in doomed])
    day.purged = set(doomed)
    day.admin("deleted/purge", {"before": None})
    # 200 status edits in Salesforce.
    for email in untouched[400:600]:
        member = by_email[email]
        another_tool(lambda m=member: sf.CampaignMember.update(m, {"Status": "Registered"}))
    # Conversion: 200 status edits, 400 new people, 100 removals.
    edits = [(e, "Registered") for e in emails[3_100:3_300]]
    newcomers = [(e, rng.choice(["Invited", "Registered"])) for e in emails[4_600:]]
    import_members(tmp / "day-edits.csv", edits + newcomers)
    for email in emails[3_300:3_400]:
        cli("members", "remove", "Day", email)
    day.figures.update(
        converted=len(day.converted),
        merged_same_email=40,
        merged_away=len(day.merged_away),
        deleted_then_purged=len(day.purged),
        salesforce_edits=200,
        conversion_edits=len(edits),
        conversion_added=len(newcomers),
        conversion_removed=100,
    )


def converged(day: Day) -> dict[str, Any] | None:
    """Both sides equal but for the recorded skips and dead letters, or None."""
    here = members_here("Day")
    there = salesforce_members(day.org, day.sf_campaign)
    skipped = {s["email"] for s in cli_json("members", "list", "Day", "--skipped")}
    dead = {d["email"] for d in cli_json("dlq", "list", "--campaign", "Day")}
    mine = {e: s for e, s in here.items() if e not in dead | skipped}
    theirs = {e: s for e, s in there.items() if e not in skipped | dead}
    if mine != theirs:
        return None
    return {"here": here, "there": there, "skipped": skipped, "dead": dead}


def duplicate_leads(day: Day) -> int:
    sf = simple_salesforce_client(day.org)
    emails = Counter(
        str(r["Email"]).lower()
        for r in sf.query_all_iter("SELECT Email FROM Lead WHERE IsConverted = false")
    )
    return sum(n - 1 for n in emails.values() if n > 1)


def duplicate_members(day: Day) -> int:
    people = Counter(
        str((r.get("Lead") or r.get("Contact") or {}).get("Email")).lower()
        for r in salesforce_rows(day)
    )
    return sum(n - 1 for n in people.values() if n > 1)


def test_a_day_in_a_real_org_ends_with_both_sides_equal(
    org: EmulatorHandle,
    cadence: Callable[[], None],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rng = random.Random(20261204)
    emails = [realistic_email(rng, i) for i in range(PEOPLE)]
    assert len(set(emails)) == PEOPLE
    day = Day(org)
    seed_the_org(day, rng, emails)
    seed_conversion(day, rng, emails, tmp_path)
    switch_on_a_real_org(day)
    org.admin.reset_counters()
    started = time.monotonic()
    cadence()

    cli("link", "Day", "--salesforce-campaign", day.sf_campaign, "--force")  # skip "Clicked"
    eventually(lambda: converged(day), timeout=300, interval=2)
    initial_seconds = time.monotonic() - started

    the_day_happens(day, rng, emails, tmp_path)
    cli("sync", "Day", "--full")
    end = eventually(lambda: converged(day), timeout=300, interval=2)

    assert day.purged.isdisjoint(end["here"]), "a purged deletion came back"
    assert day.merged_away.isdisjoint(end["here"]), "a merged-away member came back"
    assert day.converted <= set(end["here"]), "a converted Lead's member was lost"
    assert end["skipped"] >= day.skipped_expected - day.purged
    assert end["dead"] >= day.dead_expected
    assert duplicate_leads(day) == 0
    assert duplicate_members(day) == 0
    counters = org.admin.counters()
    with capsys.disabled():
        print(  # noqa: T201 - the figures are the point of this test
            "\nday in a real org:",
            f"people {PEOPLE}, Conversion {len(end['here'])}, Salesforce {len(end['there'])},",
            f"skipped {len(end['skipped'])}, dead letters {len(end['dead'])},",
            ", ".join(f"{k} {v}" for k, v in day.figures.items() if k != "duplicate_lead_ids"),
            f"; bulk {BULK_SECONDS} s, commit delay {COMMIT_DELAY} s, locks {LOCK_WINDOW_MS} ms,",
            f"API calls {counters['total']}, initial sync {initial_seconds:.1f} s,",
            f"whole day {time.monotonic() - started:.1f} s,",
            "duplicate Leads 0, duplicate members 0",
        )
