"""Bulk set-up of an org in one call: campaigns with statuses, leads, contacts, members.

Tests and benchmarks need 100,000 members in a second, not 500 API calls. Explicit
records go through the normal validation; `generate_members` uses a fast path that
builds leads and members directly (still through the indexes) in one transaction.

Payload::

    {
      "leads":    [{"FirstName": "Ada", "LastName": "Lovelace", "Company": "X",
                    "Email": "ada@example.com"}, ...],
      "contacts": [{"LastName": "Hopper", "Email": "grace@example.com"}, ...],
      "campaigns": [{
          "Name": "Spring launch",                      # any Campaign field
          "statuses": [{"Label": "Sent", "IsDefault": true},
                       {"Label": "Clicked", "HasResponded": true}],   # optional
          "members": [{"lead": 0, "Status": "Sent"},    # index into "leads" or an id
                      {"contact": "003...", "Status": "Clicked"}],
          "generate_members": 100000,                   # optional: new leads + members
          "member_status": "Sent"                       # status of generated members
      }]
    }

Returns ``{"leads": [ids], "contacts": [ids], "campaigns": [{"id", "statuses":
{label: id}, "members": [ids], "generated_leads": [ids]}]}``.
"""

from __future__ import annotations

from typing import Any

from .errors import ApiError
from .org import Transaction
from .schema import OBJECTS
from .store import Store

_SEED_KEYS = {"statuses", "members", "generate_members", "member_status", "email_domain"}


def _person(ref: Any, created: list[str]) -> str:
    if isinstance(ref, int) and not isinstance(ref, bool):
        try:
            return created[ref]
        except IndexError:
            raise ApiError("INVALID_FIELD", f"seed: no person at index {ref}") from None
    if isinstance(ref, str):
        return ref
    raise ApiError("INVALID_FIELD", f"seed: bad person reference {ref!r}")


def _statuses(
    store: Store, tx: Transaction, campaign_id: str, wanted: list[dict[str, Any]]
) -> None:
    if not any(s.get("IsDefault") for s in wanted):
        raise ApiError("FIELD_INTEGRITY_EXCEPTION", "seed: one status must be IsDefault")
    if not any(s.get("HasResponded") for s in wanted):
        raise ApiError("FIELD_INTEGRITY_EXCEPTION", "seed: one status must be HasResponded")
    for old in store.statuses(campaign_id):
        store._put(tx, "CampaignMemberStatus", old["Id"], None)
    seen_default = False
    for order, spec in enumerate(wanted, start=1):
        is_default = bool(spec.get("IsDefault")) and not seen_default
        seen_default = seen_default or is_default
        store.create(
            tx,
            "CampaignMemberStatus",
            {
                "CampaignId": campaign_id,
                "Label": spec["Label"],
                "IsDefault": is_default,
                "HasResponded": bool(spec.get("HasResponded")),
                "SortOrder": spec.get("SortOrder", order),
            },
        )


def _generate(
    store: Store,
    tx: Transaction,
    campaign_id: str,
    count: int,
    *,
    status_label: str | None,
    domain: str,
) -> tuple[list[str], list[str]]:
    status = store._resolve_status(campaign_id, status_label)
    lead_so, member_so = OBJECTS["Lead"], OBJECTS["CampaignMember"]
    tag = campaign_id[9:15].lower()
    lead_ids: list[str] = []
    member_ids: list[str] = []
    for i in range(count):
        lead = store._blank(lead_so, tx.now)
        lead.update(
            FirstName="Seed",
            LastName=f"Member {i}",
            Company="Seeded Inc",
            Email=f"m{i}.{tag}@{domain}",
            Name=f"Seed Member {i}",
        )
        store._put(tx, "Lead", lead["Id"], lead)
        member = store._blank(member_so, tx.now)
        member.update(CampaignId=campaign_id, LeadId=lead["Id"])
        store._with_status(tx, member, status)
        store._person_fields(member, lead, "Lead")
        store._put(tx, "CampaignMember", member["Id"], member)
        lead_ids.append(lead["Id"])
        member_ids.append(member["Id"])
    return lead_ids, member_ids


def seed(store: Store, payload: dict[str, Any]) -> dict[str, Any]:
    """Create everything in `payload` in one transaction (all or nothing)."""
    with store.transaction() as tx:
        leads = [store.create(tx, "Lead", v) for v in payload.get("leads", [])]
        contacts = [store.create(tx, "Contact", v) for v in payload.get("contacts", [])]
        campaigns = []
        for spec in payload.get("campaigns", []):
            fields = {k: v for k, v in spec.items() if k not in _SEED_KEYS}
            campaign_id = store.create(tx, "Campaign", fields)
            if spec.get("statuses"):
                _statuses(store, tx, campaign_id, spec["statuses"])
            members = []
            for m in spec.get("members", []):
                values: dict[str, Any] = {"CampaignId": campaign_id}
                if "contact" in m:
                    values["ContactId"] = _person(m["contact"], contacts)
                else:
                    values["LeadId"] = _person(m.get("lead"), leads)
                if "Status" in m:
                    values["Status"] = m["Status"]
                members.append(store.create(tx, "CampaignMember", values))
            generated_leads, generated = _generate(
                store,
                tx,
                campaign_id,
                int(spec.get("generate_members", 0)),
                status_label=spec.get("member_status"),
                domain=spec.get("email_domain", "example.com"),
            )
            campaigns.append(
                {
                    "id": campaign_id,
                    "statuses": {s["Label"]: s["Id"] for s in store.statuses(campaign_id)},
                    "members": members + generated,
                    "generated_leads": generated_leads,
                }
            )
        return {"leads": leads, "contacts": contacts, "campaigns": campaigns}
