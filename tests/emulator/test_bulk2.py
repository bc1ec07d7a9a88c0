"""Bulk API 2.0 through simple-salesforce's `sf.bulk2`: ingest and query jobs."""

from __future__ import annotations

import csv
import io
from typing import Any

import requests

from convsync.salesforce_emulator.testing import EmulatorHandle

from .conftest import api_url, bearer, soql


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_insert_reports_processed_and_failed_rows(sf: Any, campaign: dict[str, Any]) -> None:
    records = [
        {"CampaignId": campaign["id"], "LeadId": lead, "Status": "Sent"}
        for lead in (campaign["leads"][0], campaign["leads"][1], campaign["leads"][0])
    ]
    [result] = sf.bulk2.CampaignMember.insert(records=records, wait=0)
    assert (result["numberRecordsProcessed"], result["numberRecordsFailed"]) == (3, 1)
    job = result["job_id"]
    succeeded = rows(sf.bulk2.CampaignMember.get_successful_records(job))
    assert [r["sf__Created"] for r in succeeded] == ["true", "true"]
    assert all(r["sf__Id"].startswith("00v") for r in succeeded)
    [failed] = rows(sf.bulk2.CampaignMember.get_failed_records(job))
    assert failed["sf__Error"] == "DUPLICATE_VALUE:Already a campaign member.:--"
    assert failed["LeadId"] == campaign["leads"][0]


def test_failed_results_header_is_sf_id_sf_error_then_the_columns(
    sf: Any, campaign: dict[str, Any]
) -> None:
    [result] = sf.bulk2.Lead.insert(records=[{"LastName": "", "Company": "C"}], wait=0)
    text = sf.bulk2.Lead.get_failed_records(result["job_id"])
    header = text.splitlines()[0].split(",")
    assert header[:2] == ['"sf__Id"', '"sf__Error"']
    assert sorted(header[2:]) == ['"Company"', '"LastName"']  # the client orders columns freely
    assert rows(text)[0]["sf__Error"] == (
        "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --"
    )


def test_update_and_delete_jobs_apply_by_id(sf: Any, campaign: dict[str, Any]) -> None:
    [created] = sf.bulk2.CampaignMember.insert(
        records=[{"CampaignId": campaign["id"], "LeadId": campaign["leads"][0]}], wait=0
    )
    member_id = rows(sf.bulk2.CampaignMember.get_successful_records(created["job_id"]))[0]["sf__Id"]
    sf.bulk2.CampaignMember.update(records=[{"Id": member_id, "Status": "Responded"}], wait=0)
    assert sf.CampaignMember.get(member_id)["Status"] == "Responded"
    sf.bulk2.CampaignMember.delete(records=[{"Id": member_id}], wait=0)
    assert sf.query("SELECT Id FROM CampaignMember")["totalSize"] == 0


def test_job_states_walk_from_open_to_job_complete(
    org: EmulatorHandle, sf: Any, raw: requests.Session, campaign: dict[str, Any]
) -> None:
    headers = bearer(sf)
    job = raw.post(
        api_url(org, "jobs/ingest"),
        headers=headers,
        json={
            "object": "Lead",
            "operation": "insert",
            "contentType": "CSV",
            "lineEnding": "LF",
            "columnDelimiter": "COMMA",
        },
    ).json()
    assert job["state"] == "Open"
    upload = raw.put(
        api_url(org, f"jobs/ingest/{job['id']}/batches"),
        data="LastName,Company\nA,B\n",
        headers={**headers, "Content-Type": "text/csv"},
    )
    assert upload.status_code == 201
    closed = raw.patch(
        api_url(org, f"jobs/ingest/{job['id']}"), headers=headers, json={"state": "UploadComplete"}
    ).json()
    assert closed["state"] == "UploadComplete"
    info = raw.get(api_url(org, f"jobs/ingest/{job['id']}"), headers=headers).json()
    assert (info["state"], info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (
        "JobComplete",
        1,
        0,
    )
    unprocessed = raw.get(
        api_url(org, f"jobs/ingest/{job['id']}/unprocessedrecords/"), headers=headers
    )
    assert unprocessed.status_code == 200
    assert raw.delete(api_url(org, f"jobs/ingest/{job['id']}"), headers=headers).status_code == 204


def test_query_job_pages_with_locators_until_null(org: EmulatorHandle, sf: Any) -> None:
    seeded = org.admin.seed(campaigns=[{"Name": "Q", "generate_members": 2500}])
    query = soql(
        "SELECT Id, Status, Lead.Email FROM CampaignMember WHERE CampaignId = {c}",
        c=seeded["campaigns"][0]["id"],
    )
    pages = list(sf.bulk2.CampaignMember.query(query, max_records=1000, wait=0))
    assert [len(rows(p)) for p in pages] == [1000, 1000, 500]
    assert pages[0].splitlines()[0] == '"Id","Status","Lead.Email"'


def test_query_results_carry_record_count_and_locator_headers(
    org: EmulatorHandle, sf: Any, raw: requests.Session, campaign: dict[str, Any]
) -> None:
    headers = bearer(sf)
    job = raw.post(
        api_url(org, "jobs/query"),
        headers=headers,
        json={"operation": "query", "query": "SELECT Id FROM Lead"},
    ).json()
    state = raw.get(api_url(org, f"jobs/query/{job['id']}"), headers=headers).json()["state"]
    assert state == "JobComplete"
    first = raw.get(
        api_url(org, f"jobs/query/{job['id']}/results"), headers=headers, params={"maxRecords": 1}
    )
    assert first.headers["Sforce-NumberOfRecords"] == "1"
    second = raw.get(
        api_url(org, f"jobs/query/{job['id']}/results"),
        headers=headers,
        params={"maxRecords": 1, "locator": first.headers["Sforce-Locator"]},
    )
    assert second.headers["Sforce-Locator"] == "null"
