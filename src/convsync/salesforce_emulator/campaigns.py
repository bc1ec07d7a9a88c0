"""Campaign, CampaignMemberStatus and CampaignMember: the rules Salesforce enforces on them.

Creating a Campaign gives it its default statuses; a status label is unique per campaign
and exactly one is the default; a member references one live person, takes a valid
status and holds its campaign's lock while it is written. Kept apart from the person
rules so each object's behaviour reads in one place.
"""

from __future__ import annotations

from .errors import ApiError
from .org import OrgState, Record, Transaction, converted_lead
from .schema import OBJECTS, SObject


class CampaignRules(OrgState):
    """What Salesforce does on writes to campaigns, their statuses and their members."""

    # ------------------------------------------------------------------ Campaign
    def _create_Campaign(self, tx: Transaction, so: SObject, rec: Record) -> None:  # noqa: N802
        self._missing(so, rec)
        self._put(tx, "Campaign", rec["Id"], rec)
        for order, (label, default, responded) in enumerate(
            (("Sent", True, False), ("Responded", False, True)), start=1
        ):
            status = self._blank(OBJECTS["CampaignMemberStatus"], tx.now)
            status.update(
                CampaignId=rec["Id"],
                Label=label,
                IsDefault=default,
                HasResponded=responded,
                SortOrder=order,
            )
            self._put(tx, "CampaignMemberStatus", status["Id"], status)

    def _update_Campaign(self, tx: Transaction, current: Record, rec: Record) -> None:  # noqa: N802
        self._put(tx, "Campaign", rec["Id"], rec)

    def _delete_Campaign(self, tx: Transaction, current: Record) -> None:  # noqa: N802
        cid = current["Id"]
        for mid in list(self.members_by_campaign.get(cid, {})):
            member = self.tables["CampaignMember"][mid]
            if not member["IsDeleted"]:
                self._tombstone(tx, "CampaignMember", member)
        for sid in list(self.statuses_by_campaign.get(cid, {})):
            self._tombstone(tx, "CampaignMemberStatus", self.tables["CampaignMemberStatus"][sid])
        self._tombstone(tx, "Campaign", current)

    # ------------------------------------------------------------------ CampaignMemberStatus
    def _check_label(self, campaign_id: str, label: str, own_id: str) -> None:
        for status in self.statuses(campaign_id):
            if status["Id"] != own_id and status["Label"].lower() == label.lower():
                raise ApiError(
                    "DUPLICATE_VALUE",
                    "duplicate value found: Label duplicates value on record with "
                    f"id: {status['Id']}",
                    fields=["Label"],
                )

    def _make_only_default(self, tx: Transaction, campaign_id: str, own_id: str) -> None:
        for status in self.statuses(campaign_id):
            if status["Id"] != own_id and status["IsDefault"]:
                self._put(
                    tx,
                    "CampaignMemberStatus",
                    status["Id"],
                    {
                        **status,
                        "IsDefault": False,
                        "SystemModstamp": tx.now,
                        "LastModifiedDate": tx.now,
                    },
                )

    def _create_CampaignMemberStatus(  # noqa: N802
        self, tx: Transaction, so: SObject, rec: Record
    ) -> None:
        self._missing(so, rec)
        rec["CampaignId"] = self._reference(so.by_lower["campaignid"], rec["CampaignId"])
        cid = rec["CampaignId"]
        self._check_label(cid, rec["Label"], rec["Id"])
        existing = self.statuses(cid)
        if rec["SortOrder"] is None:
            rec["SortOrder"] = max((s["SortOrder"] or 0 for s in existing), default=0) + 1
        if rec["IsDefault"]:
            self._make_only_default(tx, cid, rec["Id"])
        self._put(tx, "CampaignMemberStatus", rec["Id"], rec)

    def _update_CampaignMemberStatus(  # noqa: N802
        self, tx: Transaction, current: Record, rec: Record
    ) -> None:
        cid = rec["CampaignId"]
        others = [s for s in self.statuses(cid) if s["Id"] != rec["Id"]]
        if rec["Label"] != current["Label"]:
            self._check_label(cid, rec["Label"], rec["Id"])
        if current["IsDefault"] and not rec["IsDefault"]:
            raise ApiError(
                "FIELD_INTEGRITY_EXCEPTION",
                "A campaign needs a default member status: make another status the "
                "default instead.",
                fields=["IsDefault"],
            )
        if (
            current["HasResponded"]
            and not rec["HasResponded"]
            and not any(s["HasResponded"] for s in others)
        ):
            raise ApiError(
                "FIELD_INTEGRITY_EXCEPTION",
                "A campaign needs at least one responded member status.",
                fields=["HasResponded"],
            )
        if rec["IsDefault"] and not current["IsDefault"]:
            self._make_only_default(tx, cid, rec["Id"])
        self._put(tx, "CampaignMemberStatus", rec["Id"], rec)
        if rec["Label"] != current["Label"] or rec["HasResponded"] != current["HasResponded"]:
            for mid in self.members_by_campaign.get(cid, {}):
                member = self.tables["CampaignMember"][mid]
                if member["IsDeleted"] or member["Status"] != current["Label"]:
                    continue
                self._put(
                    tx,
                    "CampaignMember",
                    mid,
                    self._with_status(
                        tx, {**member, "Status": rec["Label"], "SystemModstamp": tx.now}, rec
                    ),
                )

    def _delete_CampaignMemberStatus(self, tx: Transaction, current: Record) -> None:  # noqa: N802
        cid = current["CampaignId"]
        if current["IsDefault"]:
            raise ApiError(
                "DELETE_FAILED", "Cannot delete the default member status of a campaign.", fields=[]
            )
        for mid in self.members_by_campaign.get(cid, {}):
            member = self.tables["CampaignMember"][mid]
            if not member["IsDeleted"] and member["Status"] == current["Label"]:
                raise ApiError(
                    "DELETE_FAILED",
                    "Cannot delete a member status that campaign members use.",
                    fields=[],
                )
        others = [s for s in self.statuses(cid) if s["Id"] != current["Id"]]
        if current["HasResponded"] and not any(s["HasResponded"] for s in others):
            raise ApiError(
                "FIELD_INTEGRITY_EXCEPTION",
                "A campaign needs at least one responded member status.",
                fields=[],
            )
        self._tombstone(tx, "CampaignMemberStatus", current)

    # ------------------------------------------------------------------ CampaignMember
    def _resolve_status(self, campaign_id: str, value: str | None) -> Record:
        statuses = self.statuses(campaign_id)
        if value is not None:
            for status in statuses:
                if status["Label"].lower() == value.lower():
                    return status
        if value is None or self.unknown_status == "default":
            for status in statuses:
                if status["IsDefault"]:
                    return status
        raise ApiError(
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"bad value for restricted picklist field: {value}",
            fields=["Status"],
        )

    @staticmethod
    def _with_status(tx: Transaction, member: Record, status: Record) -> Record:
        member["Status"] = status["Label"]
        member["HasResponded"] = bool(status["HasResponded"])
        if member["HasResponded"] and member["FirstRespondedDate"] is None:
            member["FirstRespondedDate"] = tx.now.date()
        return member

    def _create_CampaignMember(self, tx: Transaction, so: SObject, rec: Record) -> None:  # noqa: N802
        self._missing(so, rec)
        if rec["LeadId"] is not None and rec["ContactId"] is not None:
            rec["LeadId"] = None  # Salesforce keeps the contact when both are given
        if rec["LeadId"] is None and rec["ContactId"] is None:
            raise ApiError(
                "REQUIRED_FIELD_MISSING",
                "Required fields are missing: [LeadId, ContactId]",
                fields=["LeadId", "ContactId"],
            )
        rec["CampaignId"] = self._reference(so.by_lower["campaignid"], rec["CampaignId"])
        if rec["ContactId"] is not None:
            person_object = "Contact"
            person_id = self._reference(so.by_lower["contactid"], rec["ContactId"])
            rec["ContactId"] = person_id
        else:
            person_object = "Lead"
            person_id = self._reference(so.by_lower["leadid"], rec["LeadId"])
            rec["LeadId"] = person_id
        assert person_id is not None
        if person_object == "Lead" and self.tables["Lead"][person_id]["IsConverted"]:
            raise converted_lead(["LeadId"])
        self._lock_campaign(tx, rec["CampaignId"])
        if (rec["CampaignId"], person_id) in self.member_by_pair:
            raise ApiError("DUPLICATE_VALUE", "Already a campaign member.", fields=[])
        self._with_status(tx, rec, self._resolve_status(rec["CampaignId"], rec["Status"]))
        self._person_fields(rec, self.tables[person_object][person_id], person_object)
        self._put(tx, "CampaignMember", rec["Id"], rec)

    def _update_CampaignMember(self, tx: Transaction, current: Record, rec: Record) -> None:  # noqa: N802
        self._lock_campaign(tx, rec["CampaignId"])
        if rec["Status"] != current["Status"] or rec["Status"] is None:
            self._with_status(tx, rec, self._resolve_status(rec["CampaignId"], rec["Status"]))
        self._put(tx, "CampaignMember", rec["Id"], rec)

    def _delete_CampaignMember(self, tx: Transaction, current: Record) -> None:  # noqa: N802
        self._lock_campaign(tx, current["CampaignId"])
        self._tombstone(tx, "CampaignMember", current)
