"""`convsync explain CAMPAIGN EMAIL`: a member's history, newest first, with the reasons."""

from __future__ import annotations

from dataclasses import dataclass

from convsync.domain.decisions import RecordedDecision
from convsync.domain.errors import NotFoundError
from convsync.domain.model import normalize_email
from convsync.store import decisions, links, people
from convsync.store.db import transaction
from convsync.sync.catalog import require_campaign
from convsync.sync.context import SyncContext


@dataclass(frozen=True, slots=True)
class MemberHistory:
    campaign: str
    email: str
    decisions: list[RecordedDecision]


def explain(ctx: SyncContext, campaign_name: str, email: str) -> MemberHistory:
    """Every decision kept about the member, across the campaign's links (past ones too)."""
    address = normalize_email(email)
    with transaction(ctx.sessions) as session:
        campaign = require_campaign(session, campaign_name)
        person = people.people_by_email(session, [address]).get(address)
        if person is None:
            raise NotFoundError(f"no one with email {address} is known to convsync")
        link_ids = links.link_ids_of_campaign(session, campaign.id)
        found = decisions.of_member(session, link_ids, person)
    return MemberHistory(campaign.name, address, found)
