"""Finding people in Salesforce: Contacts and Leads by email (Contacts first), and where
a converted or merged Lead or Contact went, in as few queries as the API allows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from convsync.domain.errors import ValidationError
from convsync.domain.model import normalize_email
from convsync.salesforce.client import SalesforceClient
from convsync.salesforce.records import PersonKind, SalesforcePerson
from convsync.salesforce.soql import chunked_in, select, soql, validate_id

# Lead lookups read whether the Lead was converted, and into which Contact.
_LOOKUP_FIELDS: dict[PersonKind, tuple[str, ...]] = {
    "Contact": ("Id", "Email"),
    "Lead": ("Id", "Email", "IsConverted", "ConvertedContactId"),
}
# Conversions and merges followed from one id: a Lead merged, then converted, then its
# Contact merged is three hops, four leave room; past that (a loop, or a very busy org)
# the email lookup decides.
FOLLOW_HOPS = 4


def kind_of(person_id: str) -> PersonKind:
    return "Lead" if person_id[:3] == "00Q" else "Contact"


def person_name(email: str) -> str:
    return email.split("@", 1)[0][:80] or email[:80]


def _valid_emails(emails: Iterable[str]) -> set[str]:
    """Normalised emails; malformed ones cannot match anybody and are left out."""
    valid = set()
    for email in emails:
        try:
            valid.add(normalize_email(email))
        except ValidationError:
            continue
    return valid


class PeopleDirectory:
    """People lookups through one client (a part of the gateway)."""

    def __init__(self, client: SalesforceClient) -> None:
        self.client = client

    def find_people_by_email(self, emails: Iterable[str]) -> dict[str, SalesforcePerson]:
        """Lower-cased email → the Contact (preferred) or Lead with that email.

        Batched `Email IN (...)` queries of ≤ 500 emails, Contacts first, then Leads only
        for the emails still unknown; several queries go five to a Composite API call,
        their SOQL in its body (a GET of 500 emails would pass Salesforce's 16,384-byte
        URI limit). When several records share an email, the oldest (lowest id) wins,
        deterministically. Malformed emails are left out (they cannot match).

        Converted Leads cannot be referenced any more (CANNOT_UPDATE_CONVERTED_LEAD):
        they are skipped, and an email only a converted Lead has stands for the Contact
        it was converted into. The Lead lookup reads IsConverted and ConvertedContactId
        rather than filtering `IsConverted = false`: the same answer without one more
        query per 500 emails for the Contacts (10 calls on a first push of 5,000).
        """
        wanted = sorted(_valid_emails(emails))
        found: dict[str, SalesforcePerson] = {}
        converted: dict[str, SalesforcePerson] = {}
        kinds: tuple[PersonKind, ...] = ("Contact", "Lead")
        for kind in kinds:
            remaining = [e for e in wanted if e not in found]
            queries = [
                soql(
                    select(_LOOKUP_FIELDS[kind], kind) + " WHERE Email IN {emails} ORDER BY Id",
                    emails=chunk,
                )
                for chunk in chunked_in(remaining, max_encoded=None)
            ]
            for row in self.client.query_many(queries, action=f"look up {kind}s by email"):
                email = str(row.get("Email") or "").strip().lower()
                if not email or email in found:
                    continue
                if not row.get("IsConverted"):
                    found[email] = SalesforcePerson(id=row["Id"], kind=kind, email=email)
                elif row.get("ConvertedContactId") and email not in converted:
                    became = str(row["ConvertedContactId"])
                    converted[email] = SalesforcePerson(became, "Contact", email)
        for email, person in converted.items():
            found.setdefault(email, person)
        return found

    def follow_people(self, people: Sequence[SalesforcePerson]) -> dict[str, SalesforcePerson]:
        """Where Leads and Contacts that can no longer be referenced went: old id → the
        Contact a Lead was converted into, or the master a merge kept (`MasterRecordId`),
        followed through up to `FOLLOW_HOPS` conversions and merges. A record that is
        still live and unconverted maps to itself; one deleted without a master, or
        never seen, is left out (look the person up by email instead).

        One queryAll per object and hop (deleted rows carry `MasterRecordId`), ≤ 500 ids
        each: called only for the few writes Salesforce refused for the person.
        """
        where = {p.id: p.id for p in people}  # original id → where it went so far
        emails = {p.id: p.email for p in people}
        settled: dict[str, SalesforcePerson] = {}
        for _ in range(FOLLOW_HOPS):
            rows = self._people_by_id(sorted(set(where.values())))
            moved: dict[str, str] = {}
            for original, current in where.items():
                row = rows.get(current)
                if row is None:
                    continue
                if row.get("IsConverted") and row.get("ConvertedContactId"):
                    moved[original] = str(row["ConvertedContactId"])
                elif row.get("IsDeleted") and row.get("MasterRecordId"):
                    moved[original] = str(row["MasterRecordId"])
                elif not row.get("IsDeleted"):
                    email = str(row.get("Email") or emails[original]).strip().lower()
                    settled[original] = SalesforcePerson(current, kind_of(current), email)
            if not moved:
                break
            where = moved
        return settled

    def _people_by_id(self, ids: Sequence[str]) -> dict[str, Mapping[str, Any]]:
        fields = {
            "Lead": (
                "Id",
                "Email",
                "IsDeleted",
                "MasterRecordId",
                "IsConverted",
                "ConvertedContactId",
            ),
            "Contact": ("Id", "Email", "IsDeleted", "MasterRecordId"),
        }
        found: dict[str, Mapping[str, Any]] = {}
        for kind, columns in fields.items():
            wanted = [validate_id(i, kind) for i in ids if kind_of(i) == kind]
            for chunk in chunked_in(wanted):
                query = soql(select(columns, kind) + " WHERE Id IN {ids} ORDER BY Id", ids=chunk)
                for row in self.client.query_records(
                    query, action=f"follow converted or merged {kind}s", include_deleted=True
                ):
                    found[str(row["Id"])] = row
        return found
