"""Lead and Contact: the rules Salesforce enforces on people, their conversion and merges.

Names are derived from first and last name, duplicate rules may refuse a Lead, a
converted Lead refuses writes, and converting or merging moves campaign members to the
surviving person. Kept apart from the campaign rules so each reads in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import duplicates, ids
from .errors import ApiError
from .org import (
    CONVERTED_LEAD_STATUS,
    MAX_MERGE_LOSERS,
    OrgState,
    Record,
    Transaction,
    converted_lead,
)
from .schema import OBJECTS, SObject


class PeopleRules(OrgState):
    """What Salesforce does on writes to Leads and Contacts, on conversion and on merge."""

    # ------------------------------------------------------------------ Lead / Contact
    @staticmethod
    def _name(rec: Record) -> None:
        rec["Name"] = " ".join(p for p in (rec["FirstName"], rec["LastName"]) if p)

    def _create_person(self, tx: Transaction, so: SObject, rec: Record) -> None:
        self._missing(so, rec)
        self._name(rec)
        self._put(tx, so.name, rec["Id"], rec)

    def _update_person(
        self, tx: Transaction, object_name: str, current: Record, rec: Record
    ) -> None:
        self._name(rec)
        self._put(tx, object_name, rec["Id"], rec)
        derived = ("Email", "FirstName", "LastName", "Company", "AccountName__c")
        if any(current.get(k) != rec.get(k) for k in derived):
            for mid in list(self.members_by_person.get(rec["Id"], {})):
                member = self.tables["CampaignMember"][mid]
                self._put(
                    tx,
                    "CampaignMember",
                    mid,
                    self._person_fields({**member, "SystemModstamp": tx.now}, rec, object_name),
                )

    def _delete_person(self, tx: Transaction, object_name: str, current: Record) -> None:
        for mid in list(self.members_by_person.get(current["Id"], {})):
            self._tombstone(tx, "CampaignMember", self.tables["CampaignMember"][mid])
        self._tombstone(tx, object_name, current)

    def _create_Lead(self, tx: Transaction, so: SObject, rec: Record) -> None:  # noqa: N802
        self._missing(so, rec)
        self._refuse_duplicate(tx, rec)
        self._create_person(tx, so, rec)

    def _refuse_duplicate(self, tx: Transaction, rec: Record) -> None:
        """Apply the Lead duplicate rule (see `duplicates`)."""
        mode = self.duplicate_rules.get("Lead", "off")
        if mode == "off" or (mode == "alert" and tx.allow_save):
            return
        email = str(rec.get("Email") or "").lower()
        candidates = {
            name: dict.fromkeys(self.people_by_email[name].get(email, {}) if email else ())
            for name in ("Lead", "Contact")
        }
        if name := duplicates.name_key(rec):
            candidates["Lead"].update(self.leads_by_name.get(name, {}))
        found = duplicates.matches(
            rec, {name: [self.tables[name][i] for i in ids] for name, ids in candidates.items()}
        )
        if found:
            raise duplicates.refusal(found, allow_save_possible=mode == "alert")

    def _create_Contact(self, tx: Transaction, so: SObject, rec: Record) -> None:  # noqa: N802
        self._create_person(tx, so, rec)

    def _update_Lead(self, tx: Transaction, current: Record, rec: Record) -> None:  # noqa: N802
        if current["IsConverted"]:
            raise converted_lead()
        self._update_person(tx, "Lead", current, rec)

    def _update_Contact(self, tx: Transaction, current: Record, rec: Record) -> None:  # noqa: N802
        self._update_person(tx, "Contact", current, rec)

    def _delete_Lead(self, tx: Transaction, current: Record) -> None:  # noqa: N802
        self._delete_person(tx, "Lead", current)

    def _delete_Contact(self, tx: Transaction, current: Record) -> None:  # noqa: N802
        self._delete_person(tx, "Contact", current)

    # ------------------------------------------------------------------ conversion & merge
    def convert_lead(self, lead_id: Any, contact_id: Any = None) -> dict[str, str]:
        """Convert a Lead, as a user in Salesforce does: into a new Contact made from it
        (or `contact_id`), with a new Account id. The Lead becomes read-only and its
        campaign members point at the Contact too (LeadId kept; SystemModstamp moves).
        Ids come straight from the admin request body: checked here.
        """
        with self.transaction() as tx:
            lead = self.live("Lead", self._own_id("Lead", lead_id))
            if lead["IsConverted"]:
                raise converted_lead()
            if contact_id is None:
                contact = self._blank(OBJECTS["Contact"], tx.now)
                contact.update(
                    FirstName=lead["FirstName"],
                    LastName=lead["LastName"],
                    Email=lead["Email"],
                    AccountName__c=lead["Company"],
                )
                self._create_person(tx, OBJECTS["Contact"], contact)
            else:
                contact = self.live("Contact", self._own_id("Contact", contact_id))
            account_id = self.ids.new("Account")
            self._put(
                tx,
                "Lead",
                lead["Id"],
                {
                    **lead,
                    "IsConverted": True,
                    "ConvertedContactId": contact["Id"],
                    "ConvertedAccountId": account_id,
                    "ConvertedDate": tx.now.date(),
                    "Status": CONVERTED_LEAD_STATUS,
                    "LastModifiedDate": tx.now,
                    "SystemModstamp": tx.now,
                },
            )
            for mid in list(self.members_by_person.get(lead["Id"], {})):
                member = self.tables["CampaignMember"][mid]
                if (member["CampaignId"], contact["Id"]) in self.member_by_pair:
                    continue  # the Contact is a member already: this row stays the Lead's
                moved = {**member, "ContactId": contact["Id"], "SystemModstamp": tx.now}
                self._put(tx, "CampaignMember", mid, self._person_fields(moved, contact, "Contact"))
            return {"contact_id": contact["Id"], "account_id": account_id}

    def merge(self, object_name: str, master_id: Any, loser_ids: Sequence[Any]) -> dict[str, Any]:
        """Merge Leads or Contacts into `master_id`: the losers are deleted with their
        `MasterRecordId`, their campaign members move to the master, and a member of a
        campaign the master is already in is removed outright (no tombstone).
        """
        if object_name not in ("Lead", "Contact"):
            raise ApiError("INVALID_TYPE", f"cannot merge {object_name} records", fields=[])
        if not loser_ids or len(loser_ids) > MAX_MERGE_LOSERS:
            raise ApiError(
                "INVALID_OPERATION",
                "A merge combines a master record with one or two others.",
                fields=[],
            )
        column = "LeadId" if object_name == "Lead" else "ContactId"
        moved: list[str] = []
        dropped: list[str] = []
        with self.transaction() as tx:
            master = self.live(object_name, self._own_id(object_name, master_id))
            if master.get("IsConverted"):
                raise converted_lead()
            losers = [self.live(object_name, self._own_id(object_name, i)) for i in loser_ids]
            for loser in losers:
                if loser["Id"] == master["Id"]:
                    raise ApiError(
                        "INVALID_OPERATION", "cannot merge a record with itself", fields=[]
                    )
                for mid in list(self.members_by_person.get(loser["Id"], {})):
                    member = self.tables["CampaignMember"][mid]
                    if (member["CampaignId"], master["Id"]) in self.member_by_pair:
                        self._put(tx, "CampaignMember", mid, None)
                        dropped.append(mid)
                        continue
                    reparented = {**member, column: master["Id"], "SystemModstamp": tx.now}
                    self._person_fields(reparented, master, object_name)
                    self._put(tx, "CampaignMember", mid, reparented)
                    moved.append(mid)
                self._put(
                    tx,
                    object_name,
                    loser["Id"],
                    {
                        **loser,
                        "IsDeleted": True,
                        "MasterRecordId": master["Id"],
                        "LastModifiedDate": tx.now,
                        "SystemModstamp": tx.now,
                    },
                )
            self._put(
                tx,
                object_name,
                master["Id"],
                {**master, "LastModifiedDate": tx.now, "SystemModstamp": tx.now},
            )
            return {"master_id": master["Id"], "moved_members": moved, "removed_members": dropped}

    @staticmethod
    def _own_id(object_name: str, value: Any) -> str:
        """A well-formed id of `object_name`, or Salesforce's MALFORMED_ID."""
        rid = ids.normalize(value)
        if rid is None or ids.object_of(rid) != object_name:
            raise ApiError("MALFORMED_ID", f"malformed id {value}", fields=[])
        return rid
