"""Duplicate rules on Lead: `off`, `alert` or `block`, as an admin sets them in an org.

A new Lead matches an existing live Lead or Contact with the same Email (ignoring case),
or an existing Lead with the same FirstName, LastName and Company (ignoring case, none
blank): the exact-match core of Salesforce's standard Lead matching rules, whose real
engine is fuzzy. `block` refuses the save; `alert` refuses it too unless the request
sent `Sforce-Duplicate-Rule-Header: allowSave=true` (REST only: Bulk API 2.0 has no
such header, so an alert rule refuses bulk rows as well).

The refusal is `DUPLICATES_DETECTED` with a `duplicateResult` naming every match, the
shape Salesforce puts beside `errorCode` (and `statusCode` in collection results).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .errors import ApiError

MODES = ("off", "alert", "block")
RULE = "Standard_Rule_for_Leads_with_Duplicate_Leads"
MATCH_RULES = {
    "Lead": "Standard_Lead_Match_Rule_v1_0",
    "Contact": "Standard_Contact_Match_Rule_v1_1",
}
MESSAGE = "You're creating a duplicate record. We recommend you use an existing record instead."
# The version in a match's `attributes.url` (the store does not know the caller's).
URL_VERSION = "59.0"


def allow_save(header: str | None) -> bool:
    """`Sforce-Duplicate-Rule-Header: allowSave=true; includeRecordDetails=...` → True."""
    for part in (header or "").replace(",", ";").split(";"):
        name, _, value = part.partition("=")
        if name.strip().lower() == "allowsave":
            return value.strip().lower() == "true"
    return False


def name_key(rec: Mapping[str, Any]) -> tuple[str, ...] | None:
    """A Lead's (first name, last name, company), lower-cased; None if any is blank."""
    parts = tuple(
        str(rec.get(f) or "").strip().lower() for f in ("FirstName", "LastName", "Company")
    )
    return parts if all(parts) else None


def matches(
    new: Mapping[str, Any], people: Mapping[str, Iterable[Mapping[str, Any]]]
) -> dict[str, list[str]]:
    """object name → ids of the live records `new` duplicates (an empty dict: none)."""
    email = str(new.get("Email") or "").strip().lower()
    name = name_key(new)
    found: dict[str, list[str]] = {}
    for object_name, records in people.items():
        for rec in records:
            if rec["IsDeleted"]:
                continue
            same_email = bool(email) and str(rec.get("Email") or "").lower() == email
            same_name = object_name == "Lead" and name is not None and name_key(rec) == name
            if same_email or same_name:
                found.setdefault(object_name, []).append(str(rec["Id"]))
    return found


def refusal(found: Mapping[str, list[str]], *, allow_save_possible: bool) -> ApiError:
    """The per-record `DUPLICATES_DETECTED` error for these matches."""
    return ApiError(
        "DUPLICATES_DETECTED",
        MESSAGE,
        fields=[],
        details={
            "duplicateResult": {
                "allowSave": allow_save_possible,
                "duplicateRule": RULE,
                "duplicateRuleEntityType": "Lead",
                "errorMessage": MESSAGE,
                "matchResults": [
                    {
                        "entityType": object_name,
                        "errors": [],
                        "matchEngine": "ExactMatchEngine",
                        "matchRecords": [
                            {
                                "additionalInformation": [],
                                "fieldDiffs": [],
                                "matchConfidence": 100.0,
                                "record": {
                                    "attributes": {
                                        "type": object_name,
                                        "url": f"/services/data/v{URL_VERSION}/sobjects/"
                                        f"{object_name}/{rid}",
                                    },
                                    "Id": rid,
                                },
                            }
                            for rid in ids
                        ],
                        "rule": MATCH_RULES[object_name],
                        "size": len(ids),
                        "success": True,
                    }
                    for object_name, ids in found.items()
                ],
            }
        },
    )
