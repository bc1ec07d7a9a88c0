"""`members import`: a CSV of members loaded all or nothing, set-based.

Every row is validated before anything is written; one bad row means nothing is written
and the bad rows are reported by line number.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO

from convsync.domain import names
from convsync.domain.errors import ValidationError
from convsync.domain.model import CampaignType, normalize_email
from convsync.store import catalog, links
from convsync.store.catalog import PersonInput
from convsync.store.db import Sessions, transaction, utcnow
from convsync.sync.catalog import require_campaign
from convsync.sync.csv_input import Row, read_rows, refuse

REQUIRED = ("email", "status")
OPTIONAL = ("first_name", "last_name", "company")
# The person fields an import may set, what the error calls them, and their column width.
PERSON_FIELDS = (
    ("first_name", "first name", names.MAX_PERSON_NAME_LENGTH),
    ("last_name", "last name", names.MAX_PERSON_NAME_LENGTH),
    ("company", "company", names.MAX_COMPANY_LENGTH),
)


@dataclass(frozen=True, slots=True)
class ImportResult:
    rows: int
    changed: int


def _person(row: Row) -> PersonInput:
    """The row's person, every field checked against its column now, on every backend
    (SQLite would store an over-long name that PostgreSQL and Salesforce then refuse)."""
    email = normalize_email(row.values["email"])
    first, last, company = (
        names.clean_optional(what, row.values.get(column), limit)
        for column, what, limit in PERSON_FIELDS
    )
    return PersonInput(email, first, last, company)


def _parse(stream: TextIO, campaign_type: CampaignType) -> tuple[list[PersonInput], list[str]]:
    people: list[PersonInput] = []
    statuses: list[str] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    for row in read_rows(stream, REQUIRED, OPTIONAL):
        line = row.line
        try:
            person = _person(row)
        except ValidationError as error:
            problems.append(f"line {line}: {error}")
            continue
        status = campaign_type.find(row.values["status"])
        if status is None:
            problems.append(
                f"line {line}: status {row.values['status'].strip()!r} is not in the "
                "campaign's type"
            )
            continue
        if person.email in first_line:
            problems.append(
                f"line {line}: {person.email} already appears on line {first_line[person.email]}"
            )
            continue
        first_line[person.email] = line
        people.append(person)
        statuses.append(status)
    if problems:
        raise refuse(problems)
    return people, statuses


def import_members(sessions: Sessions, campaign_name: str, stream: TextIO) -> ImportResult:
    with transaction(sessions) as session:
        campaign = require_campaign(session, campaign_name)
        people, statuses = _parse(stream, catalog.type_of_campaign(session, campaign.id))
        if not people:
            raise ValidationError("nothing imported: the CSV has no rows")
        ids = catalog.upsert_people(session, people)
        pairs: Iterable[tuple[int, str]] = (
            (ids[p.email], s) for p, s in zip(people, statuses, strict=True)
        )
        changed = catalog.upsert_members(
            session,
            campaign_id=campaign.id,
            type_id=campaign.type_id,
            statuses=list(pairs),
            updated_at=utcnow(),
        )
        if changed:
            links.note_edit(session, campaign.id)  # one edit: the whole file, pushed at once
    return ImportResult(rows=len(people), changed=changed)
