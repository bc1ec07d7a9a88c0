"""What end-to-end tests look at: both sides' members, sync runs and chunks, worker logs.

Reads go straight to PostgreSQL and, through simple-salesforce, to the emulator: the
observable outcome, never the engine's own view of it.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from simple_salesforce.format import format_soql
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from convsync.salesforce_emulator.testing import EmulatorHandle, simple_salesforce_client

# Emulator counter keys of calls that change data in Salesforce.
WRITE_CALLS = (
    "composite/sobjects:POST",
    "composite/sobjects:PATCH",
    "composite/sobjects:DELETE",
    "sobjects:POST",
    "sobjects:PATCH",
    "sobjects:DELETE",
    "bulk2",
)


@dataclass(frozen=True)
class Run:
    id: int
    link_id: int
    kind: str
    state: str
    stage: str
    started_at: datetime
    finished_at: datetime | None
    lease_until: datetime | None
    counts: dict[str, int]
    error: str | None


def runs(sessions: sessionmaker[Session]) -> list[Run]:
    with sessions() as session:
        rows = session.execute(
            text(
                "SELECT id, link_id, kind, state, stage, started_at, finished_at, lease_until,"
                " counts, error FROM sync_runs ORDER BY id"
            )
        ).all()
    return [
        Run(
            id=row.id,
            link_id=row.link_id,
            kind=row.kind,
            state=row.state,
            stage=row.stage,
            started_at=row.started_at,
            finished_at=row.finished_at,
            lease_until=row.lease_until,
            counts=dict(row.counts or {}),
            error=row.error,
        )
        for row in rows
    ]


def open_runs_per_link(sessions: sessionmaker[Session]) -> dict[int, int]:
    with sessions() as session:
        rows = session.execute(
            text(
                "SELECT link_id, count(*) FROM sync_runs"
                " WHERE state IN ('queued', 'running') GROUP BY link_id"
            )
        ).all()
    return {int(link_id): int(n) for link_id, n in rows}


def chunk_states(sessions: sessionmaker[Session], run_id: int) -> dict[tuple[str, str], int]:
    """(stage, state) → how many chunks of the run."""
    with sessions() as session:
        rows = session.execute(
            text(
                "SELECT stage, state, count(*) FROM sync_chunks WHERE run_id = :run"
                " GROUP BY stage, state"
            ),
            {"run": run_id},
        ).all()
    return {(stage, state): n for stage, state, n in rows}


def unreleased_leases(sessions: sessionmaker[Session]) -> dict[str, int]:
    """Ended runs and done chunks that still hold a lease (none should)."""
    with sessions() as session:
        leased_runs = session.scalar(
            text(
                "SELECT count(*) FROM sync_runs"
                " WHERE state IN ('succeeded', 'failed') AND lease_until IS NOT NULL"
            )
        )
        leased_chunks = session.scalar(
            text(
                "SELECT count(*) FROM sync_chunks WHERE state = 'done' AND lease_until IS NOT NULL"
            )
        )
        pending = session.scalar(
            text(
                "SELECT count(*) FROM sync_chunks c JOIN sync_runs r ON r.id = c.run_id"
                " WHERE c.state = 'pending' AND r.state = 'succeeded'"
            )
        )
    return {
        "ended runs with a lease": int(leased_runs or 0),
        "done chunks with a lease": int(leased_chunks or 0),
        "pending chunks of succeeded runs": int(pending or 0),
    }


def conversion_members(sessions: sessionmaker[Session], campaign: str) -> dict[str, str]:
    """email → status of the campaign's live members, from the database."""
    with sessions() as session:
        rows = session.execute(
            text(
                "SELECT p.email, m.status FROM campaign_members m"
                " JOIN people p ON p.id = m.person_id JOIN campaigns c ON c.id = m.campaign_id"
                " WHERE c.name = :campaign AND m.status IS NOT NULL"
            ),
            {"campaign": campaign},
        ).all()
    return {str(email): str(status) for email, status in rows}


def conversion_stamps(sessions: sessionmaker[Session], campaign: str) -> dict[str, datetime]:
    """email → updated_at of every member row (removals included): any local write moves one."""
    with sessions() as session:
        rows = session.execute(
            text(
                "SELECT p.email, m.updated_at FROM campaign_members m"
                " JOIN people p ON p.id = m.person_id JOIN campaigns c ON c.id = m.campaign_id"
                " WHERE c.name = :campaign"
            ),
            {"campaign": campaign},
        ).all()
    return {str(email): at for email, at in rows}


def dead_letters(sessions: sessionmaker[Session]) -> list[tuple[str | None, str, int, bool]]:
    """(email, code, attempts, resolved) of every dead letter, by email."""
    with sessions() as session:
        rows = session.execute(
            text(
                "SELECT p.email, e.code, e.attempts, e.resolved_at IS NOT NULL FROM sync_errors e"
                " LEFT JOIN people p ON p.id = e.person_id ORDER BY p.email, e.id"
            )
        ).all()
    return [(email, code, attempts, resolved) for email, code, attempts, resolved in rows]


def skipped(sessions: sessionmaker[Session]) -> list[tuple[str | None, str | None]]:
    with sessions() as session:
        rows = session.execute(
            text("SELECT email, status FROM skipped_members ORDER BY email")
        ).all()
    return [(email, status) for email, status in rows]


@dataclass(frozen=True)
class SalesforceSide:
    """A Salesforce campaign's live members as read through the API."""

    rows: list[dict[str, Any]]

    @property
    def members(self) -> dict[str, str]:
        """email → status (a repeated email keeps one of them: see `duplicates`)."""
        return {row["email"]: row["Status"] for row in self.rows}

    @property
    def duplicates(self) -> dict[str, int]:
        """Lead/Contact ids and emails that are in the campaign more than once."""
        people = Counter(row["ContactId"] or row["LeadId"] for row in self.rows)
        emails = Counter(row["email"] for row in self.rows)
        return {k: n for k, n in (people + emails).items() if n > 1}


def salesforce_side(org: EmulatorHandle, campaign_id: str) -> SalesforceSide:
    sf = simple_salesforce_client(org)
    query = format_soql(
        "SELECT Id, Status, LeadId, ContactId, Lead.Email, Contact.Email FROM CampaignMember"
        " WHERE CampaignId = {}",
        campaign_id,
    )
    rows = []
    for row in sf.query_all_iter(query):
        person = row.get("Contact") or row.get("Lead") or {}
        rows.append(
            {
                "Id": row["Id"],
                "Status": row["Status"],
                "LeadId": row["LeadId"],
                "ContactId": row["ContactId"],
                "email": str(person.get("Email")).lower(),
            }
        )
    return SalesforceSide(rows)


def write_calls(org: EmulatorHandle) -> dict[str, int]:
    """The emulator's counts of data-changing API calls since its counters were reset."""
    by_endpoint = org.admin.counters()["by_endpoint"]
    return {key: by_endpoint[key] for key in WRITE_CALLS if by_endpoint.get(key)}


def log_events(log: str, event: str) -> list[dict[str, Any]]:
    """The JSON log lines of a worker whose `event` is `event`."""
    found = []
    for line in log.splitlines():
        if f'"{event}"' not in line or not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == event:
            found.append(entry)
    return found


def settled(sessions: sessionmaker[Session], worker_log: str) -> bool:
    """No run is open, and a tick after the last run ended found nothing due.

    The tick must have seen no open run (`busy` 0): then its `due` 0 means neither side
    had anything left to move when it looked.
    """
    if open_runs_per_link(sessions):
        return False
    ended = max((r.finished_at for r in runs(sessions) if r.finished_at), default=None)
    for tick in reversed(log_events(worker_log, "tick")):
        at = datetime.fromisoformat(tick["timestamp"])
        if ended is not None and at <= ended:
            return False
        if tick["busy"] == 0 and tick["due"] == 0:
            return True
    return False
