"""SOQL through `query`, `query_all_iter` and `queryAll`: shapes, paging, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from convsync.salesforce_emulator.testing import EmulatorHandle

from .conftest import fill, soql

FIELD_HINT = (
    "If you are attempting to use a custom field, be sure to append the '__c' after the custom "
    "field name. Please reference your WSDL or the describe call for the appropriate names."
)


def seeded_members(org: EmulatorHandle, count: int, status: str = "Sent") -> str:
    result = org.admin.seed(
        campaigns=[{"Name": "Big", "generate_members": count, "member_status": status}]
    )
    return str(result["campaigns"][0]["id"])


def members_query(campaign_id: str, fields: str = "Id") -> str:
    template = fill("SELECT {fields} FROM CampaignMember WHERE CampaignId = ", fields=fields)
    return soql(template + "{c}", c=campaign_id)


def error_of(call: Any) -> dict[str, Any]:
    with pytest.raises(SalesforceMalformedRequest) as raised:
        call()
    assert isinstance(raised.value.content, list)
    return dict(raised.value.content[0])


def test_query_returns_total_done_and_records_with_attributes(org: EmulatorHandle, sf: Any) -> None:
    campaign_id = seeded_members(org, 3)
    result = sf.query(members_query(campaign_id, "Id, Status"))
    assert result["totalSize"] == 3
    assert result["done"] is True
    assert "nextRecordsUrl" not in result
    record = result["records"][0]
    assert record["attributes"] == {
        "type": "CampaignMember",
        "url": f"/services/data/v59.0/sobjects/CampaignMember/{record['Id']}",
    }
    assert list(record) == ["attributes", "Id", "Status"]


def test_pages_hold_2000_records_by_default_and_link_the_next_page(
    org: EmulatorHandle, sf: Any
) -> None:
    campaign_id = seeded_members(org, 4500)
    first = sf.query(members_query(campaign_id))
    assert (first["totalSize"], len(first["records"]), first["done"]) == (4500, 2000, False)
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/01g")
    assert first["nextRecordsUrl"].endswith("-2000")
    ids = [r["Id"] for r in sf.query_all_iter(members_query(campaign_id))]
    assert len(ids) == len(set(ids)) == 4500


def test_batch_size_header_is_honoured_within_200_to_2000(org: EmulatorHandle, sf: Any) -> None:
    campaign_id = seeded_members(org, 1000)
    org.admin.reset_counters()
    headers = {"Sforce-Query-Options": "batchSize=250"}
    assert sum(1 for _ in sf.query_all_iter(members_query(campaign_id), headers=headers)) == 1000
    assert org.admin.counters()["by_endpoint"] == {"query": 4}
    tiny = sf.query(members_query(campaign_id), headers={"Sforce-Query-Options": "batchSize=10"})
    assert len(tiny["records"]) == 200


def test_relationship_fields_nest_with_their_own_attributes_or_null(
    sf: Any, campaign: dict[str, Any]
) -> None:
    sf.CampaignMember.create({"CampaignId": campaign["id"], "LeadId": campaign["leads"][0]})
    sf.CampaignMember.create({"CampaignId": campaign["id"], "ContactId": campaign["contacts"][0]})
    rows = sf.query(members_query(campaign["id"], "Id, Lead.Email, Contact.Email, Campaign.Name"))
    by_kind = {("lead" if r["Lead"] else "contact"): r for r in rows["records"]}
    assert by_kind["lead"]["Lead"]["Email"] == "ada@ex.com"
    assert by_kind["lead"]["Lead"]["attributes"]["type"] == "Lead"
    assert by_kind["lead"]["Contact"] is None
    assert by_kind["contact"]["Contact"]["Email"] == "grace@ex.com"
    assert by_kind["contact"]["Campaign"]["Name"] == "Spring launch"


def test_where_supports_in_like_not_and_or_with_parentheses(
    sf: Any, campaign: dict[str, Any]
) -> None:
    query = (
        "SELECT Id, Email FROM Lead WHERE (Email LIKE 'ada%' OR Email IN ('al@ex.com')) "
        "AND NOT LastName = 'Nobody' AND Company != null ORDER BY Email DESC"
    )
    assert [r["Email"] for r in sf.query(query)["records"]] == ["al@ex.com", "ada@ex.com"]


def test_string_comparisons_are_case_insensitive_and_escapes_work(sf: Any) -> None:
    sf.Lead.create({"LastName": "O'Brien", "Company": "Back\\slash", "Email": "OB@EX.COM"})
    assert sf.query("SELECT Id FROM Lead WHERE Email = 'ob@ex.com'")["totalSize"] == 1
    assert sf.query("SELECT Id FROM Lead WHERE LastName = 'O\\'Brien'")["totalSize"] == 1
    assert sf.query("SELECT Id FROM Lead WHERE Company = 'Back\\\\slash'")["totalSize"] == 1
    assert sf.query("SELECT Id FROM Lead WHERE LastName LIKE 'O_Bri%'")["totalSize"] == 1


def test_datetime_literals_in_all_forms_filter_on_system_modstamp(
    sf: Any, campaign: dict[str, Any]
) -> None:
    past = "2000-01-01T00:00:00Z"
    for literal in (past, "2000-01-01T00:00:00.000+0000", "2000-01-01T00:00:00+00:00"):
        query = fill("SELECT Id FROM Lead WHERE SystemModstamp > {t}", t=literal)
        assert sf.query(query)["totalSize"] == 2
    assert sf.query("SELECT Id FROM Lead WHERE CreatedDate = TODAY")["totalSize"] == 2
    assert sf.query("SELECT Id FROM Campaign WHERE StartDate = null")["totalSize"] == 1


def test_watermark_query_orders_by_system_modstamp_then_id(
    org: EmulatorHandle, sf: Any, campaign: dict[str, Any]
) -> None:
    first = sf.CampaignMember.create(
        {"CampaignId": campaign["id"], "LeadId": campaign["leads"][0]}
    )["id"]
    second = sf.CampaignMember.create(
        {"CampaignId": campaign["id"], "LeadId": campaign["leads"][1]}
    )["id"]
    sf.CampaignMember.update(first, {"Status": "Responded"})
    mark = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows = sf.query(
        fill(
            "SELECT Id, SystemModstamp FROM CampaignMember WHERE SystemModstamp > {mark} "
            "ORDER BY SystemModstamp ASC, Id ASC",
            mark=mark,
        )
    )["records"]
    assert [r["Id"] for r in rows] == [second, first]
    stamps = [r["SystemModstamp"] for r in rows]
    assert stamps[0] < stamps[1]
    assert stamps[0].endswith("+0000")
    assert len(stamps[0]) == len("2013-05-20T20:49:32.000+0000")


def test_order_by_nulls_first_and_last_limit_and_offset(sf: Any) -> None:
    for name, email in (("A", "a@x.com"), ("B", None), ("C", "c@x.com")):
        sf.Lead.create({"LastName": name, "Company": "X", "Email": email})

    def names(query: str) -> list[str]:
        return [r["LastName"] for r in sf.query(query)["records"]]

    assert names("SELECT LastName FROM Lead ORDER BY Email ASC NULLS LAST") == ["A", "C", "B"]
    assert names("SELECT LastName FROM Lead ORDER BY Email DESC NULLS FIRST") == ["B", "C", "A"]
    assert names("SELECT LastName FROM Lead ORDER BY LastName LIMIT 1 OFFSET 1") == ["B"]


def test_count_returns_total_size_without_records(org: EmulatorHandle, sf: Any) -> None:
    campaign_id = seeded_members(org, 42)
    result = sf.query(
        soql("SELECT COUNT() FROM CampaignMember WHERE CampaignId = {c}", c=campaign_id)
    )
    assert (result["totalSize"], result["records"]) == (42, [])


def test_aggregates_group_by_with_default_and_explicit_aliases(
    sf: Any, campaign: dict[str, Any]
) -> None:
    for lead, status in zip(campaign["leads"], ("Sent", "Responded"), strict=True):
        sf.CampaignMember.create({"CampaignId": campaign["id"], "LeadId": lead, "Status": status})
    sf.CampaignMember.create({"CampaignId": campaign["id"], "ContactId": campaign["contacts"][0]})
    rows = sf.query(
        "SELECT Status, COUNT(Id), MAX(SystemModstamp) latest, MIN(CreatedDate) "
        "FROM CampaignMember GROUP BY Status ORDER BY Status"
    )["records"]
    assert [(r["Status"], r["expr0"]) for r in rows] == [("Responded", 1), ("Sent", 2)]
    assert rows[0]["attributes"] == {"type": "AggregateResult"}
    assert set(rows[0]) == {"attributes", "Status", "expr0", "latest", "expr1"}


def test_query_all_includes_deleted_rows_query_does_not(sf: Any, campaign: dict[str, Any]) -> None:
    member = sf.CampaignMember.create(
        {"CampaignId": campaign["id"], "LeadId": campaign["leads"][0]}
    )["id"]
    sf.CampaignMember.delete(member)
    query = members_query(campaign["id"], "Id, IsDeleted")
    assert sf.query(query)["totalSize"] == 0
    rows = sf.query_all(query, include_deleted=True)["records"]
    assert [(r["Id"], r["IsDeleted"]) for r in rows] == [(member, True)]


def test_unknown_field_is_invalid_field_with_salesforce_message(sf: Any) -> None:
    error = error_of(lambda: sf.query("SELECT Foo FROM CampaignMember"))
    assert error == {
        "errorCode": "INVALID_FIELD",
        "message": "\nSELECT Foo FROM CampaignMember\n       ^\nERROR at Row:1:Column:8\n"
        f"No such column 'Foo' on entity 'CampaignMember'. {FIELD_HINT}",
    }


def test_unknown_object_is_invalid_type(sf: Any) -> None:
    error = error_of(lambda: sf.query("SELECT Id FROM Foo"))
    assert error["errorCode"] == "INVALID_TYPE"
    assert "sObject type 'Foo' is not supported." in error["message"]


def test_syntax_errors_are_malformed_query_with_position(sf: Any) -> None:
    error = error_of(lambda: sf.query("SELECT Id FROM Lead WHERE"))
    assert error["errorCode"] == "MALFORMED_QUERY"
    assert "ERROR at Row:1:Column:26" in error["message"]
    assert "unexpected token" in error["message"]


def test_a_quoted_value_for_a_datetime_field_is_rejected(sf: Any) -> None:
    error = error_of(lambda: sf.query("SELECT Id FROM Lead WHERE SystemModstamp > '2020'"))
    assert error["errorCode"] == "INVALID_FIELD"
    assert "must be of type dateTime" in error["message"]


def test_a_malformed_id_literal_is_invalid_query_filter_operator(sf: Any) -> None:
    error = error_of(lambda: sf.query("SELECT Id FROM Lead WHERE Id = 'abc'"))
    assert error["errorCode"] == "INVALID_QUERY_FILTER_OPERATOR"
    assert error["message"].endswith("invalid ID field: abc")


def test_15_character_ids_match_their_18_character_form(sf: Any, campaign: dict[str, Any]) -> None:
    lead = campaign["leads"][0]
    rows = sf.query(soql("SELECT Id FROM Lead WHERE Id IN ({a})", a=lead[:15]))["records"]
    assert [r["Id"] for r in rows] == [lead]


def test_reading_100k_members_in_50_pages_is_fast(org: EmulatorHandle, sf: Any) -> None:
    campaign_id = seeded_members(org, 100_000)
    org.admin.reset_counters()
    started = datetime.now(UTC)
    assert sum(1 for _ in sf.query_all_iter(members_query(campaign_id, "Id, Status"))) == 100_000
    assert org.admin.counters()["total"] == 50
    assert datetime.now(UTC) - started < timedelta(seconds=10)


def _campaigns(org: EmulatorHandle, sizes: dict[str, int]) -> dict[str, str]:
    seeded = org.admin.seed(
        campaigns=[
            {"Name": name, "generate_members": size, "email_domain": f"{name}.example.com"}
            for name, size in sizes.items()
        ]
    )
    return {name: c["id"] for name, c in zip(sizes, seeded["campaigns"], strict=True)}


def test_a_disjunction_of_campaign_clauses_returns_exactly_their_rows(
    org: EmulatorHandle, sf: Any
) -> None:
    found = _campaigns(org, {"a": 3, "b": 2, "c": 4})
    query = soql(
        "SELECT Id, CampaignId FROM CampaignMember WHERE SystemModstamp > 2000-01-01T00:00:00Z "
        "AND ((CampaignId IN ({a}) AND SystemModstamp > 2000-01-01T00:00:00Z) "
        "OR (CampaignId = {b} AND SystemModstamp > 2999-01-01T00:00:00Z) "
        "OR CampaignId IN ({c}))",
        a=found["a"],
        b=found["b"],
        c=found["c"],
    )
    rows = sf.query_all(query, include_deleted=True)["records"]
    assert sorted(r["CampaignId"] for r in rows) == sorted([found["a"]] * 3 + [found["c"]] * 4)


def test_a_disjunction_with_a_clause_on_another_field_still_reads_every_row(
    org: EmulatorHandle, sf: Any
) -> None:
    found = _campaigns(org, {"a": 2, "b": 3})
    query = soql(
        "SELECT Id FROM CampaignMember WHERE CampaignId = {a} OR Status = 'Sent'", a=found["a"]
    )
    assert sf.query(query)["totalSize"] == 5


def test_a_disjunction_of_campaign_clauses_visits_only_their_members(
    org: EmulatorHandle, sf: Any
) -> None:
    found = _campaigns(org, {"big": 100_000, "small": 3})
    query = soql(
        "SELECT Id FROM CampaignMember WHERE (CampaignId = {s} AND SystemModstamp > "
        "2000-01-01T00:00:00Z) OR (CampaignId = {s} AND Status = 'Sent')",
        s=found["small"],
    )
    started = datetime.now(UTC)
    for _ in range(20):
        assert sf.query(query)["totalSize"] == 3
    # Twenty scans of 100,000 rows take seconds; twenty index lookups, milliseconds.
    assert datetime.now(UTC) - started < timedelta(seconds=1)
