"""Mapping Salesforce per-record errors to outcomes."""

from __future__ import annotations

import pytest

from convsync.domain.outcomes import RecordResult, WriteOutcome, classify


def test_already_a_campaign_member_is_duplicate() -> None:
    outcome = classify("DUPLICATE_VALUE", "Already a Campaign Member.", [])
    assert outcome is WriteOutcome.DUPLICATE


def test_other_duplicate_value_is_error() -> None:
    outcome = classify("DUPLICATE_VALUE", "duplicate value found: Label__c", ["Label__c"])
    assert outcome is WriteOutcome.ERROR


def test_restricted_picklist_on_status_is_status_not_on_campaign() -> None:
    outcome = classify(
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "Status: bad value for restricted picklist field: Attended",
        ["Status"],
    )
    assert outcome is WriteOutcome.STATUS_NOT_ON_CAMPAIGN


def test_restricted_picklist_message_without_code_is_status_not_on_campaign() -> None:
    outcome = classify(
        "FIELD_INTEGRITY_EXCEPTION", "bad value for restricted picklist field: Attended", []
    )
    assert outcome is WriteOutcome.STATUS_NOT_ON_CAMPAIGN


def test_restricted_picklist_without_fields_is_taken_as_status() -> None:
    outcome = classify("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "", [])
    assert outcome is WriteOutcome.STATUS_NOT_ON_CAMPAIGN


def test_restricted_picklist_on_another_field_is_error() -> None:
    outcome = classify(
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "Region__c: bad value for restricted picklist field: Mars",
        ["Region__c"],
    )
    assert outcome is WriteOutcome.ERROR


@pytest.mark.parametrize("code", ["ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY", "NOT_FOUND"])
def test_missing_row_codes_are_not_found(code: str) -> None:
    assert classify(code, "entity is deleted", ["Id"]) is WriteOutcome.NOT_FOUND


def test_a_converted_lead_means_the_person_moved() -> None:
    outcome = classify("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", [])
    assert outcome is WriteOutcome.PERSON_MOVED


@pytest.mark.parametrize("field", ["LeadId", "ContactId"])
@pytest.mark.parametrize("code", ["ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY"])
def test_a_missing_lead_or_contact_means_the_person_moved(code: str, field: str) -> None:
    assert classify(code, "entity is deleted", [field]) is WriteOutcome.PERSON_MOVED


@pytest.mark.parametrize(
    "code", ["UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "ALL_OR_NONE_OPERATION_ROLLED_BACK"]
)
def test_contention_and_rollback_codes_are_transient(code: str) -> None:
    assert classify(code, "try again", []) is WriteOutcome.TRANSIENT


def test_unknown_code_is_error() -> None:
    assert classify("FIELD_CUSTOM_VALIDATION_EXCEPTION", "nope", []) is WriteOutcome.ERROR


def test_code_matching_ignores_case_and_whitespace() -> None:
    assert classify(" unable_to_lock_row ", "", []) is WriteOutcome.TRANSIENT


def test_only_transient_is_retryable() -> None:
    assert [o for o in WriteOutcome if o.retryable] == [WriteOutcome.TRANSIENT]


def test_record_result_ok_only_for_ok_outcome() -> None:
    assert RecordResult(WriteOutcome.OK, salesforce_id="00v000000000001").ok
    assert not RecordResult(WriteOutcome.DUPLICATE, code="DUPLICATE_VALUE").ok
