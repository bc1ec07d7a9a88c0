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
from urllib.parse import quote_plus, urlencode

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
# A query travels in the URI of a GET, and Salesforce refuses a URI over 16,384 bytes
# (414; 431 with the headers). An IN list takes at most this many bytes once
# URL-encoded, leaving the rest of the query, the path and the headers half the limit.
MAX_IN_ENCODED_BYTES = 8_000
# A query string (`q=...`, URL-encoded) no longer than this fits in a GET.
MAX_QUERY_STRING_BYTES = 9_000


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
    max_encoded: int | None = MAX_IN_ENCODED_BYTES,
) -> Iterator[list[str]]:
    """Split values for `IN (...)` lists: ≤ max_values each, ≤ max_chars when quoted,
    and ≤ max_encoded bytes once URL-encoded as a query string (`'` and `@` take three
    bytes each there: 500 emails of 40 characters would make a 26 kB URI). None: the
    query travels in a request body (Composite API), where only SOQL's limits apply."""
    limit = max_encoded if max_encoded is not None else float("inf")
    chunk: list[str] = []
    size = encoded = 2
    for value in values:
        quoted = format_soql("{}", value) + ","
        grown = len(quoted)
        grown_encoded = len(quote_plus(quoted))
        if chunk and (
            len(chunk) >= max_values or size + grown > max_chars or encoded + grown_encoded > limit
        ):
            yield chunk
            chunk, size, encoded = [], 2, 2
        chunk.append(value)
        size += grown
        encoded += grown_encoded
    if chunk:
        yield chunk


def fits_in_uri(query: str) -> bool:
    """Whether a query can go as a GET (else: in a Composite API call's body)."""
    return len(urlencode({"q": query})) <= MAX_QUERY_STRING_BYTES


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
