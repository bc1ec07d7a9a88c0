"""Record ids: real key prefixes and the case-safe 18-character checksum."""

from __future__ import annotations

from typing import Any

import pytest

from convsync.salesforce_emulator import ids


def test_checksum_matches_salesforce_published_example() -> None:
    assert ids.to18("001A0000006Vm9r") == "001A0000006Vm9rIAC"


def test_normalize_accepts_15_and_18_characters_and_rejects_a_wrong_suffix() -> None:
    assert ids.normalize("001A0000006Vm9r") == "001A0000006Vm9rIAC"
    assert ids.normalize("001A0000006Vm9rIAC") == "001A0000006Vm9rIAC"
    assert ids.normalize("001A0000006Vm9rAAA") is None
    assert ids.normalize("not-an-id") is None


@pytest.mark.parametrize(
    ("query", "prefix"),
    [
        ("SELECT Id FROM Campaign LIMIT 1", "701"),
        ("SELECT Id FROM CampaignMemberStatus LIMIT 1", "01Y"),
        ("SELECT Id FROM CampaignMember LIMIT 1", "00v"),
        ("SELECT Id FROM Lead LIMIT 1", "00Q"),
        ("SELECT Id FROM Contact LIMIT 1", "003"),
    ],
)
def test_created_records_get_18_character_ids_with_their_object_prefix(
    sf: Any, campaign: dict[str, Any], query: str, prefix: str
) -> None:
    sf.CampaignMember.create({"CampaignId": campaign["id"], "LeadId": campaign["leads"][0]})
    record_id = sf.query(query)["records"][0]["Id"]
    assert len(record_id) == 18
    assert record_id.startswith(prefix)
    assert ids.to18(record_id[:15]) == record_id
