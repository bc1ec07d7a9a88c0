"""Where a real org bites: request size, Composite, duplicate rules, slow Bulk jobs and
lost responses — through simple-salesforce and raw HTTP, as any client would see them.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from simple_salesforce import format_soql
from simple_salesforce.exceptions import SalesforceGeneralError, SalesforceMalformedRequest

from convsync.salesforce_emulator.testing import EmulatorHandle
from tests.emulator.conftest import api_url, bearer

LONG_EMAIL = "someone.with.a.rather.long.name@an-example-company.example.com"


def leads_by_email(count: int, *also: str) -> str:
    """A lookup of `count` ~64-character emails (plus `also`): ~67 bytes each in a URI."""
    emails = [f"{i}{LONG_EMAIL}" for i in range(count)] + list(also)
    return format_soql("SELECT Id FROM Lead WHERE Email IN {}", emails)


# ---------------------------------------------------------------- request size


def test_a_uri_over_16384_bytes_is_refused_with_414(
    org: EmulatorHandle, raw: requests.Session, sf: Any
) -> None:
    query = leads_by_email(300)

    response = raw.get(api_url(org, "query"), params={"q": query}, headers=bearer(sf))

    assert len(response.request.url or "") > 16_384
    assert response.status_code == 414


def test_uri_and_headers_over_16384_bytes_are_refused_with_431(
    org: EmulatorHandle, raw: requests.Session, sf: Any
) -> None:
    query = leads_by_email(150)
    headers = {**bearer(sf), "X-Padding": "p" * 9_000}

    response = raw.get(api_url(org, "query"), params={"q": query}, headers=headers)

    assert len(response.request.url or "") < 16_384
    assert response.status_code == 431


def test_simple_salesforce_sees_a_long_query_fail_instead_of_answering(sf: Any) -> None:
    with pytest.raises(SalesforceGeneralError) as raised:
        sf.query(leads_by_email(300))
    assert raised.value.status == 414


def test_a_query_just_under_the_limit_is_answered(sf: Any) -> None:
    assert sf.query(leads_by_email(100))["totalSize"] == 0


# ---------------------------------------------------------------- composite


def composite(sf: Any, requests_: list[dict[str, Any]], **options: Any) -> Any:
    return sf.restful("composite", method="POST", json={"compositeRequest": requests_, **options})


def query_subrequest(ref: str, soql: str) -> dict[str, Any]:
    return {"method": "GET", "url": f"/services/data/v59.0/query/?q={soql}", "referenceId": ref}


def test_composite_runs_queries_too_long_for_a_uri_in_one_api_call(
    org: EmulatorHandle, sf: Any, campaign: dict[str, Any]
) -> None:
    org.admin.reset_counters()

    result = composite(
        sf,
        [
            query_subrequest("leads", leads_by_email(400, "ada@ex.com")),
            query_subrequest("contacts", "SELECT Id, Email FROM Contact"),
        ],
    )

    leads, contacts = result["compositeResponse"]
    assert leads["referenceId"] == "leads"
    assert leads["httpStatusCode"] == 200
    assert [r["Id"] for r in leads["body"]["records"]] == [campaign["leads"][0]]
    assert contacts["body"]["records"][0]["Email"] == "grace@ex.com"
    assert set(leads) == {"body", "httpHeaders", "httpStatusCode", "referenceId"}
    assert org.admin.counters()["by_endpoint"] == {"composite": 1}


def test_a_failing_subrequest_answers_with_its_error_and_the_others_still_run(sf: Any) -> None:
    result = composite(
        sf,
        [
            query_subrequest("bad", "SELECT Nope FROM Lead"),
            query_subrequest("good", "SELECT Id FROM Lead"),
        ],
    )

    bad, good = result["compositeResponse"]
    assert bad["httpStatusCode"] == 400
    assert bad["body"][0]["errorCode"] == "INVALID_FIELD"
    assert good["httpStatusCode"] == 200


def test_all_or_none_halts_every_other_subrequest(sf: Any) -> None:
    result = composite(
        sf,
        [
            query_subrequest("good", "SELECT Id FROM Lead"),
            query_subrequest("bad", "SELECT Nope FROM Lead"),
        ],
        allOrNone=True,
    )

    good, bad = result["compositeResponse"]
    assert good["httpStatusCode"] == 400
    assert good["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert bad["body"][0]["errorCode"] == "INVALID_FIELD"


def test_composite_takes_at_most_five_queries_and_25_subrequests(sf: Any) -> None:
    six = [query_subrequest(f"q{i}", "SELECT Id FROM Lead") for i in range(6)]
    many = [
        {"method": "GET", "url": "/services/data/v59.0/limits", "referenceId": f"l{i}"}
        for i in range(26)
    ]
    for subrequests in (six, many):
        with pytest.raises(SalesforceMalformedRequest) as raised:
            composite(sf, subrequests)
        assert raised.value.content[0]["errorCode"] == "LIMIT_EXCEEDED"


# ---------------------------------------------------------------- duplicate rules


def new_lead(email: str, **extra: str) -> dict[str, Any]:
    return {"attributes": {"type": "Lead"}, "LastName": "New", "Company": "Co", "Email": email}


def create_leads(sf: Any, records: list[dict[str, Any]], **headers: str) -> list[Any]:
    body = {"allOrNone": False, "records": records}
    return list(sf.restful("composite/sobjects", method="POST", json=body, headers=headers))


def test_duplicate_rules_are_off_by_default(sf: Any, campaign: dict[str, Any]) -> None:
    [result] = create_leads(sf, [new_lead("ADA@ex.com")])
    assert result["success"] is True


def test_a_block_rule_refuses_a_lead_whose_email_matches_a_lead_or_contact(
    org: EmulatorHandle, sf: Any, campaign: dict[str, Any]
) -> None:
    org.admin.set_duplicate_rules("block")

    as_lead, as_contact, fresh = create_leads(
        sf,
        [new_lead("Ada@Ex.com"), new_lead("grace@ex.com"), new_lead("new@ex.com")],
        **{"Sforce-Duplicate-Rule-Header": "allowSave=true"},
    )

    assert fresh["success"] is True
    for refused, entity, record_id in (
        (as_lead, "Lead", campaign["leads"][0]),
        (as_contact, "Contact", campaign["contacts"][0]),
    ):
        assert refused["success"] is False
        [error] = refused["errors"]
        assert error["statusCode"] == "DUPLICATES_DETECTED"
        [match] = error["duplicateResult"]["matchResults"]
        assert match["entityType"] == entity
        assert [m["record"]["Id"] for m in match["matchRecords"]] == [record_id]


def test_an_alert_rule_refuses_unless_the_request_allows_the_save(
    org: EmulatorHandle, sf: Any, campaign: dict[str, Any]
) -> None:
    org.admin.set_duplicate_rules("alert")

    [refused] = create_leads(sf, [new_lead("ada@ex.com")])
    [saved] = create_leads(
        sf, [new_lead("ada@ex.com")], **{"Sforce-Duplicate-Rule-Header": "allowSave=true"}
    )

    assert refused["errors"][0]["statusCode"] == "DUPLICATES_DETECTED"
    assert refused["errors"][0]["duplicateResult"]["allowSave"] is True
    assert saved["success"] is True


def test_a_lead_with_the_same_name_and_company_is_a_duplicate_too(
    org: EmulatorHandle, sf: Any, campaign: dict[str, Any]
) -> None:
    org.admin.set_duplicate_rules("block")
    same_person = {**new_lead("ada.l@other.example"), "FirstName": "ADA"}
    same_person.update(LastName="Lovelace", Company="engines")

    [refused] = create_leads(sf, [same_person])

    match = refused["errors"][0]["duplicateResult"]["matchResults"][0]
    assert match["matchRecords"][0]["record"]["Id"] == campaign["leads"][0]


def test_a_single_record_create_is_refused_with_the_error_list_shape(
    org: EmulatorHandle, raw: requests.Session, sf: Any, campaign: dict[str, Any]
) -> None:
    org.admin.set_duplicate_rules("block")

    response = raw.post(
        api_url(org, "sobjects/Lead"),
        json={"LastName": "X", "Company": "Y", "Email": "al@ex.com"},
        headers=bearer(sf),
    )

    assert response.status_code == 400
    [error] = response.json()
    assert error["errorCode"] == "DUPLICATES_DETECTED"
    assert error["duplicateResult"]["duplicateRuleEntityType"] == "Lead"


def test_bulk_rows_have_no_header_so_an_alert_rule_refuses_them(
    org: EmulatorHandle, sf: Any, campaign: dict[str, Any]
) -> None:
    org.admin.set_duplicate_rules("alert")

    [job] = sf.bulk2.Lead.insert(
        records=[{"LastName": "Dup", "Company": "Co", "Email": "ada@ex.com"}], wait=0.1
    )

    failed = sf.bulk2.Lead.get_failed_records(job["job_id"])
    assert "DUPLICATES_DETECTED:" in failed


# ---------------------------------------------------------------- slow bulk jobs


def test_a_slow_ingest_job_stays_in_progress_and_writes_nothing_until_it_is_done(
    org: EmulatorHandle, sf: Any, raw: requests.Session
) -> None:
    org.admin.set_bulk_processing(1.5)
    job = sf.restful("jobs/ingest", method="POST", json={"object": "Lead", "operation": "insert"})
    raw.put(
        api_url(org, f"jobs/ingest/{job['id']}/batches"),
        data="LastName,Company,Email\nSlow,Co,slow@ex.com\n",
        headers={**bearer(sf), "Content-Type": "text/csv"},
    ).raise_for_status()
    started = time.monotonic()
    sf.restful(f"jobs/ingest/{job['id']}", method="PATCH", json={"state": "UploadComplete"})

    assert sf.restful(f"jobs/ingest/{job['id']}")["state"] == "InProgress"
    assert org.admin.summary()["Lead"]["live"] == 0
    while sf.restful(f"jobs/ingest/{job['id']}")["state"] != "JobComplete":
        assert time.monotonic() - started < 10
        time.sleep(0.1)
    assert time.monotonic() - started >= 1.5
    assert org.admin.summary()["Lead"]["live"] == 1


# ---------------------------------------------------------------- lost responses


def test_a_lost_response_commits_the_write_and_drops_the_connection(
    org: EmulatorHandle, sf: Any
) -> None:
    org.admin.inject_faults(next=1, kind="lost_response", endpoint="composite/sobjects:POST")
    sf.limits()  # another endpoint: the fault waits for its own

    with pytest.raises(requests.exceptions.ConnectionError):
        create_leads(sf, [new_lead("lost@ex.com")])

    assert org.admin.summary()["Lead"]["live"] == 1
    assert create_leads(sf, [new_lead("next@ex.com")])[0]["success"] is True
