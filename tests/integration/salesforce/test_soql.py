"""SOQL quoting and Salesforce id validation (no emulator needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest

from convsync.domain.errors import ValidationError
from convsync.salesforce.soql import (
    chunked_in,
    id_checksum,
    parse_datetime,
    soql,
    to_18,
    validate_id,
)

CAMPAIGN_15 = "701Hs0000000001"
CAMPAIGN_18 = to_18(CAMPAIGN_15)


def test_checksum_matches_salesforce_known_example() -> None:
    assert id_checksum("a0D30000001n7Pi") == "EAI"


def test_validate_id_returns_the_18_character_form_of_a_15_character_id() -> None:
    assert validate_id(CAMPAIGN_15, "Campaign") == CAMPAIGN_18


def test_validate_id_accepts_a_lower_cased_checksum() -> None:
    assert validate_id(CAMPAIGN_18[:15] + CAMPAIGN_18[15:].lower(), "Campaign") == CAMPAIGN_18


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "701",
        "701Hs000000000",  # 14 characters
        "701Hs0000000001AA",  # 17 characters
        "701Hs0000000001' OR Id != null",
        "701Hs00000000-1",
        "701Hs0000000001ZZZ",  # wrong checksum
        "701Hs000000000\u00e9",
        None,
        12345,
    ],
)
def test_validate_id_rejects_malformed_ids(bad: object) -> None:
    with pytest.raises(ValidationError, match="is not a valid Salesforce Campaign id"):
        validate_id(bad, "Campaign")


def test_validate_id_rejects_another_objects_prefix() -> None:
    lead = to_18("00QHs0000000001")
    with pytest.raises(ValidationError, match=r"Campaign id \(it is a Lead id\)"):
        validate_id(lead, "Campaign")


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("O'Brien", r"'O\'Brien'"),
        ("' OR Id != null", r"'\' OR Id != null'"),
        ("back\\slash", r"'back\\slash'"),
        ('dq"uote', r"'dq\"uote'"),
        ("line\nbreak", r"'line\nbreak'"),
        ("ünïcødé ✓", "'ünïcødé ✓'"),
    ],
)
def test_strings_are_quoted_and_escaped(value: str, literal: str) -> None:
    assert soql("WHERE Email = {v}", v=value) == "WHERE Email = " + literal


def test_lists_become_quoted_in_lists() -> None:
    query = soql("WHERE Email IN {v}", v=["a@x.io", "o'b@x.io"])
    assert query == r"WHERE Email IN ('a@x.io','o\'b@x.io')"


def test_datetimes_become_utc_literals() -> None:
    paris = timezone(timedelta(hours=1))
    stamp = datetime(2026, 1, 2, 13, 4, 5, 678_000, tzinfo=paris)
    assert soql("WHERE SystemModstamp > {t}", t=stamp) == (
        "WHERE SystemModstamp > 2026-01-02T12:04:05+00:00"
    )


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        soql("WHERE SystemModstamp > {t}", t=datetime(2026, 1, 1))  # noqa: DTZ001


def test_in_lists_are_chunked_by_count() -> None:
    chunks = list(
        chunked_in([f"p{i}@x.io" for i in range(1_201)], max_values=500, max_encoded=10**6)
    )
    assert [len(c) for c in chunks] == [500, 500, 201]


def test_in_lists_are_chunked_by_length() -> None:
    long_email = "x" * 240 + "@example.com"
    chunks = list(chunked_in([long_email] * 500, max_chars=10_000, max_encoded=10**6))
    assert all(len(soql("{v}", v=c)) <= 10_000 for c in chunks)
    assert sum(len(c) for c in chunks) == 500


def test_in_lists_are_chunked_to_keep_the_query_uri_well_under_16384_bytes() -> None:
    emails = [f"{i:04}.{'x' * (25 + i % 50)}@example.com" for i in range(1_000)]

    chunks = list(chunked_in(emails))

    assert sum(len(c) for c in chunks) == 1_000
    for chunk in chunks:
        uri = "/services/data/v59.0/query/?" + urlencode({"q": soql("WHERE Email IN {e}", e=chunk)})
        assert len(uri) < 8_400


def test_salesforce_datetimes_parse_to_aware_utc() -> None:
    assert parse_datetime("2013-05-20T20:49:32.000+0000") == datetime(
        2013, 5, 20, 20, 49, 32, tzinfo=UTC
    )
    assert parse_datetime(None) is None
