"""The bench's world: services, a sync context, a client; seeding both sides, changing
members (untimed set-up) and checking that both sides converged."""

from __future__ import annotations

import itertools
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from simple_salesforce.api import Salesforce
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from convsync.bench.errors import BenchError
from convsync.bench.model import (
    CHANGED,
    CONFLICT,
    SEEDED,
    STATUSES,
    TYPE_NAME,
    Campaign,
    Measured,
    Mix,
)
from convsync.bench.services import RssSampler, Services
from convsync.salesforce.soql import chunked_in, soql
from convsync.salesforce.writes import COLLECTION_SIZE
from convsync.salesforce_emulator.testing import DEFAULT_LOGIN, AdminClient, CaBundleSession
from convsync.store import catalog
from convsync.store.catalog import PersonInput
from convsync.store.db import transaction
from convsync.store.tables import CampaignRow, MemberRow, utcnow
from convsync.sync.context import SyncContext

_SERIAL = itertools.count(1)


@dataclass
class Bench:
    """What every scenario uses: the services, a sync context in this process, a client."""

    services: Services
    ctx: SyncContext
    sampler: RssSampler
    progress: Callable[[str], None]
    # The campaign of the `initial` scenario, which `incremental` goes on with.
    last_initial: Campaign | None = None
    _sf: Salesforce | None = None

    @property
    def admin(self) -> AdminClient:
        return self.services.emulator.admin

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.ctx.sessions

    @property
    def sf(self) -> Salesforce:
        """simple-salesforce logged in to the emulator: seeding changes and the floor."""
        if self._sf is None:
            emulator = self.services.emulator
            session = CaBundleSession(emulator.ca_file)
            response = session.post(
                f"{emulator.url}/services/oauth2/token", data=DEFAULT_LOGIN, timeout=30
            )
            response.raise_for_status()
            token = response.json()
            self._sf = Salesforce(
                instance_url=token["instance_url"],
                session_id=token["access_token"],
                session=session,
                version="59.0",
            )
        return self._sf

    @staticmethod
    def serial() -> int:
        """A number unique in this run, for names on both sides."""
        return next(_SERIAL)

    # ------------------------------------------------------------ counting

    def counted(self, action: Callable[[], Any]) -> tuple[Any, Measured]:
        """Run `action` with fresh emulator counters; its wall time and API calls."""
        self.admin.reset_counters()
        started = time.perf_counter()
        value = action()
        seconds = time.perf_counter() - started
        counters = self.admin.counters()
        return value, Measured(seconds, int(counters["total"]), dict(counters["by_endpoint"]))


def ensure_type(bench: Bench) -> None:
    labels = [label for label, _, _ in STATUSES]
    with transaction(bench.sessions) as session:
        if catalog.type_exists(session, TYPE_NAME):
            return
    from convsync.sync.catalog import create_type

    create_type(bench.sessions, TYPE_NAME, labels, default=SEEDED, responded=[CHANGED])


def _salesforce_emails(sf: Salesforce, campaign_ids: Sequence[str]) -> dict[str, list[str]]:
    """Each campaign's member emails in creation order (seed generates them)."""
    emails: dict[str, list[str]] = defaultdict(list)
    for chunk in chunked_in(campaign_ids):
        query = soql(
            "SELECT Id, CampaignId, Lead.Email FROM CampaignMember WHERE CampaignId IN {ids} "
            "ORDER BY Id",
            ids=chunk,
        )
        for row in sf.query_all_iter(query):
            emails[row["CampaignId"]].append(str(row["Lead"]["Email"]).lower())
    return emails


def seeded_campaign(name: str, members: int, email_domain: str) -> dict[str, Any]:
    """The emulator's seed for one Salesforce campaign with the bench's statuses and
    `members` generated Leads, all with the seeded status."""
    return {
        "Name": name,
        "statuses": [
            {"Label": label, "IsDefault": default, "HasResponded": responded}
            for label, default, responded in STATUSES
        ],
        "generate_members": members,
        "member_status": SEEDED,
        "email_domain": email_domain,
    }


def seed_campaigns(bench: Bench, prefix: str, count: int, mix: Mix) -> list[Campaign]:
    """`count` campaigns on both sides, each holding `mix`, not yet linked."""
    tag = f"{prefix}{bench.serial()}"
    seeded = bench.admin.seed(
        campaigns=[
            seeded_campaign(f"{tag} {i}", mix.on_salesforce, f"{tag}.sf.example.com")
            for i in range(count)
        ]
    )
    ids = [c["id"] for c in seeded["campaigns"]]
    emails = _salesforce_emails(bench.sf, ids) if mix.on_salesforce else {}
    campaigns = []
    for i, sf_id in enumerate(ids):
        theirs = emails.get(sf_id, [])
        if len(theirs) != mix.on_salesforce:
            raise BenchError(f"seeding: expected {mix.on_salesforce} members, read {len(theirs)}")
        campaigns.append(
            Campaign(
                name=f"{tag} {i}",
                conversion_id=0,
                salesforce_id=sf_id,
                salesforce_only=theirs[: mix.salesforce_only],
                overlap=theirs[mix.salesforce_only :],
                conversion_only=[
                    f"c{j}.{i}@{tag}.conversion.example.com" for j in range(mix.conversion_only)
                ],
            )
        )
    _seed_conversion(bench, campaigns, mix)
    return campaigns


def _seed_conversion(bench: Bench, campaigns: list[Campaign], mix: Mix) -> None:
    """People and members in one transaction; members through COPY (100,000 in ~1 s).

    Timestamps make the conflicts go both ways: Salesforce's rows are stamped at seed
    time, so Conversion values from a day ago lose and values from now win.
    """
    now = utcnow()
    older, oldest = now - timedelta(days=1), now - timedelta(days=2)
    with transaction(bench.sessions) as session:
        found = catalog.find_type(session, TYPE_NAME)
        assert found is not None
        type_id = found[0]
        people = [
            PersonInput(email) for c in campaigns for email in (*c.overlap, *c.conversion_only)
        ]
        ids = catalog.upsert_people(session, people)
        rows: list[tuple[int, int, int, str, datetime]] = []
        for campaign in campaigns:
            campaign.conversion_id = catalog.add_campaign(session, campaign.name, type_id)
            winners = campaign.overlap[: mix.salesforce_wins]
            losers = campaign.overlap[mix.salesforce_wins :]
            for emails, status, at in (
                (campaign.conversion_only, SEEDED, oldest),
                (winners, CONFLICT, older),
                (losers, CONFLICT, now),
            ):
                rows.extend(
                    (campaign.conversion_id, type_id, ids[email], status, at) for email in emails
                )
        _copy_members(session, rows)


def _copy_members(session: Session, rows: list[tuple[int, int, int, str, datetime]]) -> None:
    connection = session.connection().connection.driver_connection
    assert connection is not None
    with (
        connection.cursor() as cursor,
        cursor.copy(
            "COPY campaign_members (campaign_id, type_id, person_id, status, updated_at) FROM STDIN"
        ) as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _collections(
    sf: Salesforce, method: str, records: list[dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    """Untimed set-up writes, 200 a call (the bench's own, not the floor's)."""
    for start in range(0, len(records), COLLECTION_SIZE):
        results = sf.restful(
            "composite/sobjects",
            method=method,
            json={"allOrNone": False, "records": records[start : start + COLLECTION_SIZE]},
        )
        for result in results or []:
            if not result.get("success"):
                raise BenchError(f"set-up: Salesforce refused a record: {result.get('errors')}")
            yield result


def set_salesforce_statuses(bench: Bench, campaign_id: str, emails: Sequence[str]) -> None:
    """Change these members' status in Salesforce (untimed set-up of a change)."""
    wanted = set(emails)
    ids = [
        row["Id"]
        for row in bench.sf.query_all_iter(
            soql(
                "SELECT Id, Lead.Email FROM CampaignMember WHERE CampaignId = {cid}",
                cid=campaign_id,
            )
        )
        if str(row["Lead"]["Email"]).lower() in wanted
    ]
    records = [{"attributes": {"type": "CampaignMember"}, "Id": i, "Status": CHANGED} for i in ids]
    for _ in _collections(bench.sf, "PATCH", records):
        pass


def set_conversion_statuses(bench: Bench, campaign: Campaign, emails: Sequence[str]) -> None:
    with transaction(bench.sessions) as session:
        ids = catalog.upsert_people(session, [PersonInput(e) for e in emails])
        row = session.get(CampaignRow, campaign.conversion_id)
        assert row is not None
        catalog.upsert_members(
            session,
            campaign_id=campaign.conversion_id,
            type_id=row.type_id,
            statuses=[(ids[e], CHANGED) for e in emails],
            updated_at=utcnow(),
        )


def conversion_statuses(bench: Bench, campaign_ids: Sequence[int]) -> dict[str, int]:
    with transaction(bench.sessions) as session:
        rows = session.execute(
            select(MemberRow.status, func.count())
            .where(MemberRow.campaign_id.in_(campaign_ids), MemberRow.status.is_not(None))
            .group_by(MemberRow.status)
        ).all()
    return {str(status): int(n) for status, n in rows}


def _salesforce_statuses(bench: Bench, campaign_ids: Sequence[str]) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for chunk in chunked_in(campaign_ids):
        query = soql(
            "SELECT CampaignId, Status, COUNT(Id) n FROM CampaignMember "
            "WHERE CampaignId IN {ids} GROUP BY CampaignId, Status",
            ids=chunk,
        )
        for row in bench.sf.query_all_iter(query):
            totals[str(row["Status"])] += int(row.get("n") or row.get("expr0") or 0)
    return dict(totals)


def verify(
    bench: Bench, campaigns: Sequence[Campaign], expected: dict[str, int], what: str
) -> None:
    """Both sides hold exactly the expected statuses (after the counters were read)."""
    here = conversion_statuses(bench, [c.conversion_id for c in campaigns])
    there = _salesforce_statuses(bench, [c.salesforce_id for c in campaigns])
    if here != expected or there != expected:
        raise BenchError(
            f"{what}: the sync did not converge: expected {expected}, "
            f"Conversion has {here}, Salesforce has {there}"
        )


def conversion_total(bench: Bench, campaign_ids: Sequence[int]) -> int:
    return sum(conversion_statuses(bench, campaign_ids).values())


def truncate_all(sessions: sessionmaker[Session]) -> None:
    """Empty every table (only for a configured database found empty at the start)."""
    from convsync.store.tables import Base

    names = ", ".join(t.name for t in reversed(Base.metadata.sorted_tables))
    with transaction(sessions) as session:
        session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


def is_empty(sessions: sessionmaker[Session]) -> bool:
    with transaction(sessions) as session:
        return session.scalar(select(func.count()).select_from(CampaignRow)) == 0
