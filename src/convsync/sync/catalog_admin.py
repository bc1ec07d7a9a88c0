"""Changing types and campaigns after the fact: rename, add or remove a status, delete.

Names follow `domain.names` (a rename may change only the case: "spring" -> "Spring").
A link is keyed by the campaign's id, so a renamed campaign stays linked. A status
added to a type is judged again for every linked campaign of that type, as a mapping
change is (`sync.status_rules`): the next run re-reads the Salesforce members skipped
for lacking it, and imports them.
"""

from __future__ import annotations

from dataclasses import dataclass

from convsync.domain import names
from convsync.domain.errors import LinkError, NotFoundError, ValidationError
from convsync.domain.model import CampaignType
from convsync.store import catalog, links
from convsync.store import catalog_admin as store
from convsync.store.db import Session, transaction
from convsync.sync.catalog import require_campaign
from convsync.sync.context import SyncContext
from convsync.sync.linking import unlink
from convsync.sync.status_rules import Reevaluation, mark_changed, reevaluate


@dataclass(frozen=True, slots=True)
class StatusAdded:
    label: str
    skipped: int  # Salesforce members skipped for lacking it, re-read by the next runs
    runs: tuple[Reevaluation, ...]


@dataclass(frozen=True, slots=True)
class CampaignDeleted:
    name: str
    members: int
    unlinked_from: str | None  # the Salesforce campaign it was linked to, if it was


def rename_type(ctx: SyncContext, old: str, new: str) -> str:
    new_name = names.type_name(new)
    with transaction(ctx.sessions) as session:
        found = catalog.find_type(session, old)
        if found is None:
            raise NotFoundError(
                f"no campaign type named {old.strip()!r} (see `convsync types list`)"
            )
        other = catalog.find_type(session, new_name)
        if other is not None and other[0] != found[0]:
            raise ValidationError(f"a campaign type named {other[1].name!r} already exists")
        store.rename_type(session, found[0], new_name)
    return new_name


def rename_campaign(ctx: SyncContext, old: str, new: str) -> str:
    new_name = names.campaign_name(new)
    with transaction(ctx.sessions) as session:
        campaign = require_campaign(session, old)
        other = catalog.find_campaign(session, new_name)
        if other is not None and other.id != campaign.id:
            raise ValidationError(f"a campaign named {other.name!r} already exists")
        store.rename_campaign(session, campaign.id, new_name)
    return new_name


def _require_type(session: Session, type_name: str) -> tuple[int, CampaignType]:
    found = catalog.find_type(session, type_name)
    if found is None:
        raise NotFoundError(
            f"no campaign type named {type_name.strip()!r} (see `convsync types list`)"
        )
    return found


def add_status(
    ctx: SyncContext, type_name: str, label: str, *, default: bool, responded: bool
) -> StatusAdded:
    clean = names.status_label(label)
    with transaction(ctx.sessions) as session:
        type_id, campaign_type = _require_type(session, type_name)
        existing = campaign_type.find(clean)
        if existing is not None:
            raise ValidationError(
                f"campaign type {campaign_type.name!r} already has status {existing!r}"
            )
        store.add_status(session, type_id, clean, is_default=default, has_responded=responded)
        campaign_ids = store.campaigns_of_type(session, type_id)
        skipped = store.skipped_with_status(session, campaign_ids, clean)
        changed = [mark_changed(session, c) for c in campaign_ids]
    return StatusAdded(clean, skipped, tuple(reevaluate(ctx, link) for link in changed if link))


def remove_status(ctx: SyncContext, type_name: str, label: str) -> str:
    with transaction(ctx.sessions) as session:
        type_id, campaign_type = _require_type(session, type_name)
        existing = campaign_type.find(label)
        if existing is None:
            raise NotFoundError(
                f"campaign type {campaign_type.name!r} has no status {label.strip()!r}"
            )
        if len(campaign_type.statuses) == 1:
            raise ValidationError(f"{existing!r} is the only status of {campaign_type.name!r}")
        if campaign_type.default_status.label == existing:
            raise ValidationError(
                f"{existing!r} is the default status of {campaign_type.name!r}: make another "
                "the default first (`convsync types add-status … --default`)"
            )
        holding = store.members_holding(session, type_id, existing)
        if holding:
            total = sum(n for _, n in holding)
            where = ", ".join(f"{name!r} ({n})" for name, n in holding)
            raise ValidationError(
                f"{total} member(s) hold status {existing!r}, in {where}: "
                "give them another status first (`convsync members set`)"
            )
        store.remove_status(session, type_id, existing)
    return existing


def delete_campaign(ctx: SyncContext, name: str, *, unlink_first: bool) -> CampaignDeleted:
    """Delete a campaign and its members; refused while linked unless `unlink_first`."""
    with transaction(ctx.sessions) as session:
        campaign = require_campaign(session, name)
        link = links.active_link(session, campaign.id)
        linked_to = link.salesforce_campaign_id if link is not None else None
        campaign_name = campaign.name
    if linked_to is not None:
        if not unlink_first:
            raise LinkError(
                f"{campaign_name!r} is linked to Salesforce campaign {linked_to}: "
                "add --unlink to stop the sync and delete it (Salesforce keeps its members)"
            )
        unlink(ctx, campaign_name)
    with transaction(ctx.sessions) as session:
        campaign = require_campaign(session, campaign_name)
        if links.active_link(session, campaign.id) is not None:
            raise LinkError(f"{campaign_name!r} was linked again meanwhile: nothing deleted")
        members = store.delete_campaign(session, campaign.id)
    return CampaignDeleted(campaign_name, members, linked_to)
