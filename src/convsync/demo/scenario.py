"""The demo's story: one campaign type, a campaign per creation choice, a link made later.

Everything the demo does to "Conversion" goes through the same use cases the CLI
commands call (types, campaigns, members import, link); everything it does to
"Salesforce" goes through the emulator's seed endpoint (set-up) or its REST API (edits
made "by a Salesforce user"), so the sync cannot tell the demo from real users.

The numbers are chosen so that every outcome shows up: imports, pushes, skips
(Salesforce statuses the type lacks), dead letters (a Conversion status the Salesforce
campaign lacks), and conflicts won by each side (members edited on both sides, at
different times, before the link).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from convsync.domain.model import SyncMode
from convsync.sync import catalog, linking, member_import
from convsync.sync.context import SyncContext

TYPE_NAME = "Webinar"
# (label, default, responded) — the Conversion campaign type.
TYPE_STATUSES = [
    ("Invited", True, False),
    ("Registered", False, False),
    ("Attended", False, True),
    ("Waitlisted", False, False),
]
# Salesforce campaigns made by hand in the org: no "Waitlisted". Spring's also has two
# statuses the Conversion type lacks; Roadshow's calls "Attended" by another name, which
# the demo maps (`convsync mapping set`) before linking it.
ROADSHOW_ATTENDED = "Attended - Roadshow"
ROADSHOW_SF_STATUSES = [("Invited", True, False), ("Registered", False, False),
                        (ROADSHOW_ATTENDED, False, True)]  # fmt: skip
SPRING_SF_STATUSES = [("Invited", True, False), ("Registered", False, False),
                      ("Attended", False, True), ("Opened", False, True),
                      ("Bounced", False, False)]  # fmt: skip

NEWSLETTER = "Customer Newsletter"  # created with sync "none"
SPRING = "Spring Webinar"  # created with sync "existing": a big Salesforce campaign
LAUNCH = "Product Launch"  # created with sync "new": the service creates it in Salesforce
ROADSHOW = "Partner Roadshow"  # created unsynced, filled, then linked later

ROADSHOW_DOMAIN = "roadshow.example"
LAUNCH_DOMAIN = "launch.example"
NEWSLETTER_DOMAIN = "news.example"


@dataclass(frozen=True)
class Sizes:
    """How many members each part of the story has."""

    spring_generated: int  # Salesforce members of Spring Webinar, status Invited
    spring_registered: int
    spring_attended: int
    spring_opened: int  # unknown to Conversion: skipped
    spring_bounced: int  # unknown to Conversion: skipped
    roadshow_here_only: int  # Conversion members not in Salesforce (pushed)
    roadshow_waitlisted: int  # of those: status the Salesforce campaign lacks (dead letters)
    roadshow_overlap: int  # on both sides with different values
    roadshow_salesforce_wins: int  # of the overlap: edited in Salesforce last
    roadshow_same: int  # on both sides with the same value: nothing to move
    roadshow_there_only: int  # Salesforce members not in Conversion (imported)
    launch: int  # members added to Product Launch after it was created
    newsletter: int

    @classmethod
    def for_members(cls, members: int) -> Sizes:
        """Scale the story so Spring Webinar has about `members` Salesforce members."""
        unit = max(members // 100, 2)
        return cls(
            spring_generated=max(members - 7 * unit, unit),
            spring_registered=3 * unit,
            spring_attended=2 * unit,
            spring_opened=unit + unit // 2,
            spring_bounced=unit // 2,
            roadshow_here_only=4 * unit,
            roadshow_waitlisted=unit,
            roadshow_overlap=4 * unit,
            roadshow_salesforce_wins=unit + unit // 3,
            roadshow_same=unit // 2,
            roadshow_there_only=5 * unit,
            launch=max(unit // 2, 3),
            newsletter=unit,
        )


def _status_specs(statuses: list[tuple[str, bool, bool]]) -> list[dict[str, Any]]:
    return [
        {"Label": label, "IsDefault": default, "HasResponded": responded}
        for label, default, responded in statuses
    ]


def _lead(email: str, company: str) -> dict[str, Any]:
    first, _, last = email.split("@", maxsplit=1)[0].partition(".")
    return {
        "FirstName": first.capitalize(),
        "LastName": (last or first).capitalize(),
        "Company": company,
        "Email": email,
    }


def roadshow_email(i: int) -> str:
    return f"guest{i:04d}.partner@{ROADSHOW_DOMAIN}"


@dataclass(frozen=True)
class RoadshowPlan:
    """Who is where, with which status, in the link-later campaign.

    Index ranges over `roadshow_email(i)`:
    [0, here_only) Conversion only · [here_only, +overlap) both, values differ ·
    [.., +same) both, same value · [.., +there_only) Salesforce only.
    """

    sizes: Sizes

    @property
    def overlap(self) -> range:
        start = self.sizes.roadshow_here_only
        return range(start, start + self.sizes.roadshow_overlap)

    @property
    def same(self) -> range:
        start = self.overlap.stop
        return range(start, start + self.sizes.roadshow_same)

    @property
    def there_only(self) -> range:
        start = self.same.stop
        return range(start, start + self.sizes.roadshow_there_only)

    @property
    def salesforce_wins(self) -> range:
        """The overlap members a Salesforce user edits after Conversion's import."""
        return range(self.overlap.start, self.overlap.start + self.sizes.roadshow_salesforce_wins)

    def conversion_rows(self) -> list[tuple[str, str]]:
        here = [
            (
                roadshow_email(i),
                "Waitlisted" if i < self.sizes.roadshow_waitlisted else "Registered",
            )
            for i in range(self.sizes.roadshow_here_only)
        ]
        overlap = [(roadshow_email(i), "Registered") for i in self.overlap]
        same = [(roadshow_email(i), "Invited") for i in self.same]
        return here + overlap + same

    def salesforce_rows(self) -> list[tuple[str, str]]:
        both = [(roadshow_email(i), "Invited") for i in (*self.overlap, *self.same)]
        there = [
            (roadshow_email(i), ROADSHOW_ATTENDED if i % 3 == 0 else "Invited")
            for i in self.there_only
        ]
        return both + there


def salesforce_seed(sizes: Sizes) -> dict[str, Any]:
    """The org before the demo: Spring Webinar (big) and Partner Roadshow, as made by hand."""
    spring_explicit = [
        (status, f"{prefix}{i:04d}.spring@webinar.example")
        for status, prefix, count in (
            ("Registered", "reg", sizes.spring_registered),
            ("Attended", "att", sizes.spring_attended),
            ("Opened", "open", sizes.spring_opened),
            ("Bounced", "bounce", sizes.spring_bounced),
        )
        for i in range(count)
    ]
    roadshow = RoadshowPlan(sizes).salesforce_rows()
    leads = [_lead(email, "Webinar Corp") for _, email in spring_explicit] + [
        _lead(email, "Partner Inc") for email, _ in roadshow
    ]
    offset = len(spring_explicit)
    return {
        "leads": leads,
        "campaigns": [
            {
                "Name": SPRING,
                "statuses": _status_specs(SPRING_SF_STATUSES),
                "members": [{"lead": i, "Status": s} for i, (s, _) in enumerate(spring_explicit)],
                "generate_members": sizes.spring_generated,
                "member_status": "Invited",
                "email_domain": "webinar.example",
            },
            {
                "Name": ROADSHOW,
                "statuses": _status_specs(ROADSHOW_SF_STATUSES),
                "members": [
                    {"lead": offset + i, "Status": status} for i, (_, status) in enumerate(roadshow)
                ],
            },
        ],
    }


@dataclass(frozen=True)
class SeededOrg:
    spring_id: str
    roadshow_id: str
    # email → CampaignMember id of Partner Roadshow's Salesforce members.
    roadshow_members: Mapping[str, str]
    # A Spring Webinar member (generated, status Invited) the demo edits in Salesforce.
    spring_member_id: str


def read_seed(result: Mapping[str, Any], sizes: Sizes) -> SeededOrg:
    spring, roadshow = result["campaigns"]
    emails = [email for email, _ in RoadshowPlan(sizes).salesforce_rows()]
    return SeededOrg(
        spring_id=spring["id"],
        roadshow_id=roadshow["id"],
        roadshow_members=dict(zip(emails, roadshow["members"], strict=True)),
        spring_member_id=spring["members"][-1],
    )


def _csv(rows: list[tuple[str, str]], company: str) -> io.StringIO:
    lines = ["email,status,first_name,last_name,company"]
    for email, status in rows:
        first, _, last = email.split("@", maxsplit=1)[0].partition(".")
        lines.append(f"{email},{status},{first.capitalize()},{last.capitalize()},{company}")
    return io.StringIO("\n".join(lines) + "\n")


def create_type(ctx: SyncContext) -> None:
    catalog.create_type(
        ctx.sessions,
        TYPE_NAME,
        [label for label, _, _ in TYPE_STATUSES],
        default=next(label for label, default, _ in TYPE_STATUSES if default),
        responded=[label for label, _, responded in TYPE_STATUSES if responded],
    )


def create_newsletter(ctx: SyncContext, sizes: Sizes) -> None:
    """Choice 1, "no sync": a campaign the service leaves alone."""
    linking.create_synced_campaign(ctx, NEWSLETTER, TYPE_NAME, SyncMode.NONE)
    rows = [(f"reader{i:04d}@{NEWSLETTER_DOMAIN}", "Invited") for i in range(sizes.newsletter)]
    member_import.import_members(ctx.sessions, NEWSLETTER, _csv(rows, "Reader Co"))


def fill_roadshow(ctx: SyncContext, sizes: Sizes) -> int:
    """The link-later campaign, created unsynced and filled from a CSV (returns rows)."""
    linking.create_synced_campaign(ctx, ROADSHOW, TYPE_NAME, SyncMode.NONE)
    rows = RoadshowPlan(sizes).conversion_rows()
    member_import.import_members(ctx.sessions, ROADSHOW, _csv(rows, "Partner Inc"))
    return len(rows)


def salesforce_edits_before_link(org: SeededOrg, sizes: Sizes) -> list[dict[str, Any]]:
    """Collection PATCH records: a Salesforce user changes some overlap members last."""
    return [
        {
            "attributes": {"type": "CampaignMember"},
            "id": org.roadshow_members[roadshow_email(i)],
            "Status": ROADSHOW_ATTENDED,
        }
        for i in RoadshowPlan(sizes).salesforce_wins
    ]


def launch_rows(sizes: Sizes) -> list[tuple[str, str]]:
    return [
        (f"lead{i:04d}.launch@{LAUNCH_DOMAIN}", "Registered" if i % 2 else "Invited")
        for i in range(sizes.launch)
    ]


def fill_launch(ctx: SyncContext, sizes: Sizes) -> None:
    """Members signed up after "Product Launch" was created (and linked)."""
    member_import.import_members(ctx.sessions, LAUNCH, _csv(launch_rows(sizes), "Launch Ltd"))


@dataclass(frozen=True)
class Expected:
    """What the initial syncs must do, derived from the story (the demo checks it)."""

    imported: dict[str, int]
    pushed: dict[str, int]
    skipped: dict[str, int]
    dead_lettered: dict[str, int]
    won_by_salesforce: dict[str, int]
    won_by_conversion: dict[str, int]


def expected(sizes: Sizes) -> Expected:
    plan = RoadshowPlan(sizes)
    spring_imported = sizes.spring_generated + sizes.spring_registered + sizes.spring_attended
    sf_wins = len(plan.salesforce_wins)
    return Expected(
        imported={SPRING: spring_imported, ROADSHOW: len(plan.there_only) + sf_wins},
        pushed={
            ROADSHOW: sizes.roadshow_here_only
            - sizes.roadshow_waitlisted
            + len(plan.overlap)
            - sf_wins,
            LAUNCH: sizes.launch,
        },
        skipped={SPRING: sizes.spring_opened + sizes.spring_bounced},
        dead_lettered={ROADSHOW: sizes.roadshow_waitlisted},
        won_by_salesforce={ROADSHOW: sf_wins},
        won_by_conversion={ROADSHOW: len(plan.overlap) - sf_wins},
    )
