"""`members import`: a CSV of members loaded all or nothing, set-based.

Every row is validated before anything is written; one bad row means nothing is written
and the bad rows are reported by line number.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO

from convsync.domain.errors import ValidationError
from convsync.domain.model import normalize_email
from convsync.store import catalog, links
from convsync.store.catalog import PersonInput
from convsync.store.db import Sessions, transaction, utcnow
from convsync.sync.catalog import require_campaign

REQUIRED = ("email", "status")
OPTIONAL = ("first_name", "last_name", "company")
# How many bad rows the one-line error names before "and N more".
SHOWN_ERRORS = 3


@dataclass(frozen=True, slots=True)
class ImportResult:
    rows: int
    changed: int


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _parse(stream: TextIO, allowed: frozenset[str]) -> tuple[list[PersonInput], list[str]]:
    reader = csv.DictReader(stream)
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ValidationError(
            f"the CSV needs a header row with columns {', '.join(REQUIRED)} "
            f"(missing: {', '.join(missing)})"
        )
    reader.fieldnames = header
    people: list[PersonInput] = []
    statuses: list[str] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        raw_email = _clean(row.get("email")) or ""
        status = _clean(row.get("status")) or ""
        try:
            email = normalize_email(raw_email)
        except ValidationError:
            problems.append(f"line {line}: {raw_email!r} is not a valid email")
            continue
        if status not in allowed:
            problems.append(f"line {line}: status {status!r} is not in the campaign's type")
            continue
        if email in first_line:
            problems.append(f"line {line}: {email} already appears on line {first_line[email]}")
            continue
        first_line[email] = line
        people.append(
            PersonInput(
                email,
                _clean(row.get("first_name")),
                _clean(row.get("last_name")),
                _clean(row.get("company")),
            )
        )
        statuses.append(status)
    if problems:
        shown = "; ".join(problems[:SHOWN_ERRORS])
        more = f" (and {len(problems) - SHOWN_ERRORS} more)" if len(problems) > SHOWN_ERRORS else ""
        raise ValidationError(f"nothing imported: {shown}{more}")
    return people, statuses


def import_members(sessions: Sessions, campaign_name: str, stream: TextIO) -> ImportResult:
    with transaction(sessions) as session:
        campaign = require_campaign(session, campaign_name)
        allowed = catalog.type_of_campaign(session, campaign.id).labels
        people, statuses = _parse(stream, allowed)
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
