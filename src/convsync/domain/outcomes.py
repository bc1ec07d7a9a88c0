"""Typed results of Salesforce writes.

The gateway maps each per-record result of a collection or Bulk API write to a
`RecordResult`, so that the sync decides what to do (retry, dead-letter, treat as done)
from a closed set of outcomes rather than from Salesforce's error strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class WriteOutcome(StrEnum):
    """What happened to one record of a write."""

    OK = "ok"
    DUPLICATE = "duplicate"  # insert of a person already on the campaign: update instead
    STATUS_NOT_ON_CAMPAIGN = "status_not_on_campaign"  # dead-letter until the status exists
    NOT_FOUND = "not_found"  # the row (or, on insert, the campaign/person) is gone
    # The Lead/Contact the write names was converted, merged or deleted: find the person
    # again (the Contact it became, the merge's master, or by email), then write again.
    PERSON_MOVED = "person_moved"
    TRANSIENT = "transient"  # worth retrying as is
    ERROR = "error"  # anything else: record it, do not retry blindly

    @property
    def retryable(self) -> bool:
        return self is WriteOutcome.TRANSIENT


@dataclass(frozen=True, slots=True)
class RecordResult:
    """One record's result: the outcome, plus Salesforce's id and error for the record."""

    outcome: WriteOutcome
    salesforce_id: str | None = None
    code: str | None = None  # Salesforce statusCode, e.g. DUPLICATE_VALUE
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is WriteOutcome.OK


# Codes Salesforce returns when a row is merely contended or the org briefly busy, and
# the rollback code every record gets when another record of an all-or-none call failed.
_TRANSIENT_CODES = frozenset(
    {"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "ALL_OR_NONE_OPERATION_ROLLED_BACK"}
)
_NOT_FOUND_CODES = frozenset({"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY", "NOT_FOUND"})
_RESTRICTED_PICKLIST_CODE = "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
_RESTRICTED_PICKLIST_TEXT = "bad value for restricted picklist field"
_ALREADY_MEMBER_TEXT = "already a campaign member"
_CONVERTED_LEAD_CODE = "CANNOT_UPDATE_CONVERTED_LEAD"
_PERSON_FIELDS = frozenset({"leadid", "contactid"})


def _concerns_status(fields: Sequence[str]) -> bool:
    """Whether a picklist error is about CampaignMember.Status.

    Status is the only restricted picklist the sync writes, so an error that names no
    field is taken to be about it; one that names other fields is not.
    """
    return not fields or any(field.strip().casefold() == "status" for field in fields)


def classify(status_code: str, message: str, fields: Sequence[str]) -> WriteOutcome:
    """Map one Salesforce per-record error to an outcome.

    Messages are matched case-insensitively as substrings, since Salesforce's wording
    varies slightly across API versions while the codes do not. `NOT_FOUND` on an
    update or delete means the row is gone; on an insert it means the campaign or the
    person is (the caller knows which operation it ran). A reference to a converted
    Lead, or a missing record named by LeadId/ContactId, means the person moved.
    """
    code = status_code.strip().upper()
    text = message.casefold()
    if code == "DUPLICATE_VALUE" and _ALREADY_MEMBER_TEXT in text:
        return WriteOutcome.DUPLICATE
    is_picklist_error = code == _RESTRICTED_PICKLIST_CODE or _RESTRICTED_PICKLIST_TEXT in text
    if is_picklist_error and _concerns_status(fields):
        return WriteOutcome.STATUS_NOT_ON_CAMPAIGN
    names_person = any(f.strip().casefold() in _PERSON_FIELDS for f in fields)
    if code == _CONVERTED_LEAD_CODE or (code in _NOT_FOUND_CODES and names_person):
        return WriteOutcome.PERSON_MOVED
    if code in _NOT_FOUND_CODES:
        return WriteOutcome.NOT_FOUND
    if code in _TRANSIENT_CODES:
        return WriteOutcome.TRANSIENT
    return WriteOutcome.ERROR
