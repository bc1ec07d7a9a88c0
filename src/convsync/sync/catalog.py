"""Use cases for the Conversion side: campaign types, campaigns and their members."""

from __future__ import annotations

from collections.abc import Sequence

from convsync.domain import names
from convsync.domain.errors import NotFoundError, ValidationError
from convsync.domain.model import (
    CampaignType,
    build_campaign_type,
    normalize_email,
    validate_name,
)
from convsync.store import catalog, links
from convsync.store.catalog import CampaignInfo, MemberInfo, PersonInput
from convsync.store.db import Session, Sessions, transaction, utcnow


def create_type(
    sessions: Sessions,
    name: str,
    statuses: Sequence[str],
    *,
    default: str | None = None,
    responded: Sequence[str] = (),
) -> CampaignType:
    campaign_type = build_campaign_type(name, statuses, default=default, responded=responded)
    with transaction(sessions) as session:
        if catalog.type_exists(session, campaign_type.name):
            raise ValidationError(f"a campaign type named {campaign_type.name!r} already exists")
        catalog.add_type(session, campaign_type)
    return campaign_type


def list_types(sessions: Sessions) -> list[CampaignType]:
    with transaction(sessions) as session:
        return catalog.list_types(session)


def create_campaign(sessions: Sessions, name: str, type_name: str) -> int:
    campaign_name = validate_name("campaign", name)
    with transaction(sessions) as session:
        found = catalog.find_type(session, type_name)
        if found is None:
            raise NotFoundError(f"no campaign type named {type_name!r} (see `convsync types list`)")
        if catalog.campaign_exists(session, campaign_name):
            raise ValidationError(f"a campaign named {campaign_name!r} already exists")
        return catalog.add_campaign(session, campaign_name, found[0])


def require_campaign(session: Session, name: str) -> catalog.Campaign:
    campaign = catalog.find_campaign(session, name)
    if campaign is None:
        raise NotFoundError(f"no campaign named {name!r} (see `convsync campaigns list`)")
    return campaign


def require_status(campaign_type: CampaignType, status: str) -> str:
    """The type's own spelling of `status` (matched as names are: "invited" is "Invited")."""
    label = campaign_type.find(status)
    if label is None:
        allowed = ", ".join(sorted(campaign_type.labels))
        raise ValidationError(
            f"status {status.strip()!r} is not in campaign type {campaign_type.name!r} "
            f"(allowed: {allowed})"
        )
    return label


def list_campaigns(sessions: Sessions) -> list[CampaignInfo]:
    with transaction(sessions) as session:
        return catalog.list_campaigns(session)


def add_member(
    sessions: Sessions,
    campaign_name: str,
    email: str,
    status: str,
    *,
    must_exist: bool | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    company: str | None = None,
) -> bool:
    """Add or change one member. `must_exist`: True for `set`, False for `add`, None for either.

    Returns whether anything changed.
    """
    address = normalize_email(email)
    with transaction(sessions) as session:
        campaign = require_campaign(session, campaign_name)
        label = require_status(catalog.type_of_campaign(session, campaign.id), status)
        existing = catalog.find_member(session, campaign.id, address)
        present = existing is not None and existing.status is not None
        if must_exist is True and not present:
            raise NotFoundError(
                f"{address} is not a member of {campaign_name!r} (use `members add`)"
            )
        if must_exist is False and present:
            raise ValidationError(
                f"{address} is already a member of {campaign_name!r} (use `members set`)"
            )
        person = PersonInput(
            address,
            names.clean_optional("first name", first_name, names.MAX_PERSON_NAME_LENGTH),
            names.clean_optional("last name", last_name, names.MAX_PERSON_NAME_LENGTH),
            names.clean_optional("company", company, names.MAX_COMPANY_LENGTH),
        )
        ids = catalog.upsert_people(session, [person])
        changed = catalog.upsert_members(
            session,
            campaign_id=campaign.id,
            type_id=campaign.type_id,
            statuses=[(ids[address], label)],
            updated_at=utcnow(),
        )
        if changed:
            links.note_edit(session, campaign.id)  # with the edit: the pending-push signal
        return changed > 0


def remove_member(sessions: Sessions, campaign_name: str, email: str) -> None:
    """Remove a member, leaving a tombstone so the removal syncs like any other change."""
    address = normalize_email(email)
    with transaction(sessions) as session:
        campaign = require_campaign(session, campaign_name)
        member = catalog.find_member(session, campaign.id, address)
        if member is None or member.status is None:
            raise NotFoundError(f"{address} is not a member of {campaign_name!r}")
        now = utcnow()
        member.status = None
        member.removed_at = now
        member.updated_at = now
        links.note_edit(session, campaign.id)  # with the edit: the pending-push signal


def list_members(
    sessions: Sessions, campaign_name: str, limit: int | None = None
) -> list[MemberInfo]:
    with transaction(sessions) as session:
        campaign = require_campaign(session, campaign_name)
        return list(catalog.iter_members(session, campaign.id, limit))
