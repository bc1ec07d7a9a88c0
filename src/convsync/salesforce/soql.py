"""SOQL built only from constants and quoted values, and Salesforce id validation.

User data (ids, emails, names, timestamps) reaches a query only through
`simple_salesforce.format_soql`, which quotes strings, escapes quotes and backslashes,
renders lists and turns datetimes into UTC literals. Ids are also validated up front:
a malformed id then fails as a one-line `ValidationError` before any API call is spent.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from simple_salesforce.format import format_soql

from convsync.domain.ids import PREFIXES, id_checksum, salesforce_id, to_18

__all__ = [
    "PREFIXES",
    "chunked_in",
    "id_checksum",
    "parse_datetime",
    "select",
    "soql",
    "to_18",
    "utc",
    "validate_id",
]

# Salesforce rejects SOQL longer than 100,000 characters; stay well below it.
MAX_SOQL_LENGTH = 90_000
# At most this many values in one IN (...) list.
MAX_IN_VALUES = 500


def validate_id(value: object, object_name: str) -> str:
    """Check a Salesforce id of `object_name`; returns its 18-character form, which is
    what Salesforce returns in results, so ids compare equal however they were typed."""
    return salesforce_id(value, object_name)


def utc(value: datetime) -> datetime:
    """A timezone-aware UTC datetime; naive ones are refused (they would be misread)."""
    if value.tzinfo is None:
        raise ValueError("SOQL datetimes must be timezone-aware")
    return value.astimezone(UTC)


def soql(template: str, **values: Any) -> str:
    """`format_soql` with datetimes checked to be timezone-aware first."""
    checked = {k: utc(v) if isinstance(v, datetime) else v for k, v in values.items()}
    return format_soql(template, **checked)


def select(fields: Sequence[str], object_name: str) -> str:
    """`SELECT a, b FROM X` from declared constants (never from user data)."""
    return f"SELECT {', '.join(fields)} FROM {object_name}"  # noqa: S608 - constants only


def chunked_in(
    values: Iterable[str],
    *,
    max_values: int = MAX_IN_VALUES,
    max_chars: int = MAX_SOQL_LENGTH - 2_000,
) -> Iterator[list[str]]:
    """Split values for `IN (...)` lists: ≤ max_values each and ≤ max_chars when quoted."""
    chunk: list[str] = []
    size = 2
    for value in values:
        quoted = len(format_soql("{}", value)) + 1
        if chunk and (len(chunk) >= max_values or size + quoted > max_chars):
            yield chunk
            chunk, size = [], 2
        chunk.append(value)
        size += quoted
    if chunk:
        yield chunk


def parse_datetime(value: str | None) -> datetime | None:
    """Salesforce's `2013-05-20T20:49:32.000+0000` (or ISO variants) → aware UTC."""
    if not value:
        return None
    text = value.replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
