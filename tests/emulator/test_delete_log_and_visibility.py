"""The delete log's purge and late-visible writes, through simple-salesforce.

Salesforce empties its delete log after at most 15 days, earlier when it is large, and
says how far back it still reaches (`earliestDateAvailable`). Rows of a long transaction
become visible after their SystemModstamp; `latestDateCovered` stays before them.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from simple_salesforce.format import format_soql

from convsync.salesforce_emulator.testing import EmulatorHandle

from .test_records import add_member

WIDE = timedelta(minutes=10)


def _deleted(sf: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return dict(sf.CampaignMember.deleted(now - WIDE, now + WIDE))


def _ids_in_query_all(sf: Any, campaign: dict[str, Any]) -> set[str]:
    query = format_soql("SELECT Id FROM CampaignMember WHERE CampaignId = {}", campaign["id"])
    return {r["Id"] for r in sf.query_all(query, include_deleted=True)["records"]}


def _parse(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z")


def test_a_purge_without_a_date_empties_the_delete_log(
    org: EmulatorHandle, sf: Any, campaign: dict[str, Any]
) -> None:
    member = add_member(sf, campaign)
    sf.CampaignMember.delete(member)
    assert member in _ids_in_query_all(sf, campaign)

    answer = org.admin.purge_deleted()

    assert answer["purged"] == 1
    assert member not in _ids_in_query_all(sf, campaign)
    log = _deleted(sf)
    assert log["deletedRecords"] == []
    assert log["earliestDateAvailable"] == answer["earliestDateAvailable"]
    assert _parse(log["earliestDateAvailable"]) > datetime.now(UTC) - timedelta(minutes=1)


def test_a_purge_before_a_date_keeps_later_tombstones(
    org: EmulatorHandle, sf: Any, campaign: dict[str, Any]
) -> None:
    first, second = (add_member(sf, campaign, LeadId=lead) for lead in campaign["leads"][:2])
    sf.CampaignMember.delete(first)
    deleted_at = _parse(_deleted(sf)["deletedRecords"][0]["deletedDate"])
    sf.CampaignMember.delete(second)
    before = (deleted_at + timedelta(milliseconds=1)).isoformat()

    org.admin.purge_deleted(before)

    log = _deleted(sf)
    assert [r["id"] for r in log["deletedRecords"]] == [second]
    assert _parse(log["earliestDateAvailable"]) == deleted_at + timedelta(milliseconds=1)
    assert _ids_in_query_all(sf, campaign) == {second}


def test_the_delete_log_reaches_back_fifteen_days_without_a_purge(sf: Any) -> None:
    earliest = _parse(_deleted(sf)["earliestDateAvailable"])
    assert abs(datetime.now(UTC) - timedelta(days=15) - earliest) < timedelta(minutes=2)


def test_a_write_in_flight_is_invisible_to_queries_until_the_delay_ends(
    org: EmulatorHandle, sf: Any, campaign: dict[str, Any]
) -> None:
    member = add_member(sf, campaign)
    org.admin.set_commit_delay(1.5)
    sf.CampaignMember.update(member, {"Status": "Responded"})
    query = format_soql("SELECT Status FROM CampaignMember WHERE Id = {}", member)

    assert [r["Status"] for r in sf.query(query)["records"]] == ["Sent"]
    deadline = time.monotonic() + 10
    while sf.query(query)["records"][0]["Status"] != "Responded":
        assert time.monotonic() < deadline, "the write never became visible"
        time.sleep(0.1)


def test_a_new_record_in_flight_is_not_listed_at_all(
    org: EmulatorHandle, sf: Any, campaign: dict[str, Any]
) -> None:
    org.admin.set_commit_delay(120)
    add_member(sf, campaign)
    now = datetime.now(UTC)

    assert _ids_in_query_all(sf, campaign) == set()
    assert sf.CampaignMember.updated(now - WIDE, now + WIDE)["ids"] == []


def test_latest_date_covered_stays_before_a_write_in_flight(
    org: EmulatorHandle, sf: Any, campaign: dict[str, Any]
) -> None:
    member = add_member(sf, campaign)
    org.admin.set_commit_delay(120)
    sf.CampaignMember.update(member, {"Status": "Responded"})
    stamp = _parse(sf.CampaignMember.get(member)["SystemModstamp"])
    now = datetime.now(UTC)

    updated = sf.CampaignMember.updated(now - WIDE, now + WIDE)

    assert _parse(updated["latestDateCovered"]) < stamp
    assert _parse(_deleted(sf)["latestDateCovered"]) < stamp


def test_writes_are_visible_at_once_by_default(sf: Any, campaign: dict[str, Any]) -> None:
    member = add_member(sf, campaign)
    now = datetime.now(UTC)
    assert sf.CampaignMember.updated(now - WIDE, now + WIDE)["ids"] == [member]


def test_latest_date_covered_is_a_whole_minute_by_default(sf: Any) -> None:
    covered = _parse(_deleted(sf)["latestDateCovered"])

    assert (covered.second, covered.microsecond) == (0, 0)


def test_a_finer_replication_resolution_rounds_latest_date_covered_to_it(
    org: EmulatorHandle, sf: Any
) -> None:
    org.admin.set_replication_resolution(1)
    before = datetime.now(UTC).replace(microsecond=0)

    covered = _parse(_deleted(sf)["latestDateCovered"])

    assert covered.microsecond == 0
    assert before - timedelta(seconds=1) <= covered <= datetime.now(UTC)
