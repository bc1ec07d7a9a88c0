"""Status translation and policies, by hand: `convsync mapping …` and `link-policy`.

A change takes effect at once for everything the sync decides from then on, and the
link's skipped and dead-lettered members are judged again: the change marks the link
(`rules_changed_at`) and starts a run; if a run is already open, the scheduler starts
another once it ends (a run that started before the change may have judged some members
by the old rules). The inbound stage re-reads the skipped members the new rules would
import; the outbound stage pushes every dead-lettered member again.
"""

from __future__ import annotations

from dataclasses import dataclass

from convsync.domain.errors import LinkError, NotFoundError
from convsync.domain.model import RunKind
from convsync.domain.names import name_key
from convsync.domain.status_rules import (
    InboundUnknown,
    OutboundUnknown,
    StatusPolicy,
    status_rules,
)
from convsync.store import catalog, links, runs
from convsync.store import status_rules as store
from convsync.store.db import Session, transaction, utcnow
from convsync.sync.catalog import require_campaign
from convsync.sync.context import SyncContext


@dataclass(frozen=True, slots=True)
class StatusMapping:
    """One Conversion status and the Salesforce label it is known by."""

    conversion_status: str
    salesforce_label: str


@dataclass(frozen=True, slots=True)
class Reevaluation:
    """What a change set in motion: the run that judges the link's members again."""

    run_id: int | None  # None: not linked, nothing to judge
    joined: bool = False  # a run was already open; another follows it


def list_mapping(ctx: SyncContext, campaign_name: str) -> list[StatusMapping]:
    with transaction(ctx.sessions) as session:
        campaign = require_campaign(session, campaign_name)
        pairs = store.mapping(session, campaign.id)
    return [StatusMapping(status, label) for status, label in pairs.items()]


def set_mapping(
    ctx: SyncContext, campaign_name: str, conversion_status: str, salesforce_label: str
) -> Reevaluation:
    """Map a Conversion status to a Salesforce label (both ways); validated as a whole."""
    with transaction(ctx.sessions) as session:
        campaign = require_campaign(session, campaign_name)
        pairs = store.mapping(session, campaign.id)
        pairs[conversion_status.strip()] = salesforce_label.strip()
        rules = status_rules(catalog.type_of_campaign(session, campaign.id), pairs)
        store.replace_mapping(session, campaign.id, dict(rules.mapping))
        link_id = mark_changed(session, campaign.id)
    return reevaluate(ctx, link_id)


def remove_mapping(ctx: SyncContext, campaign_name: str, conversion_status: str) -> Reevaluation:
    """The status goes back to being written under its own name."""
    with transaction(ctx.sessions) as session:
        campaign = require_campaign(session, campaign_name)
        pairs = store.mapping(session, campaign.id)
        mapped = next((k for k in pairs if name_key(k) == name_key(conversion_status)), None)
        if mapped is None or pairs.pop(mapped, None) is None:
            raise NotFoundError(f"{conversion_status!r} is not mapped for {campaign_name!r}")
        rules = status_rules(catalog.type_of_campaign(session, campaign.id), pairs)
        store.replace_mapping(session, campaign.id, dict(rules.mapping))
        link_id = mark_changed(session, campaign.id)
    return reevaluate(ctx, link_id)


def link_policy(ctx: SyncContext, campaign_name: str) -> StatusPolicy:
    with transaction(ctx.sessions) as session:
        campaign = require_campaign(session, campaign_name)
        return store.policy_of(_require_link(session, campaign.id, campaign_name))


def change_policy(
    ctx: SyncContext,
    campaign_name: str,
    *,
    inbound_unknown: InboundUnknown | None = None,
    outbound_unknown: OutboundUnknown | None = None,
) -> tuple[StatusPolicy, Reevaluation]:
    """Change what happens to members whose status the other side lacks."""
    with transaction(ctx.sessions) as session:
        campaign = require_campaign(session, campaign_name)
        link = _require_link(session, campaign.id, campaign_name)
        current = store.policy_of(link)
        policy = StatusPolicy(
            inbound_unknown or current.inbound_unknown,
            outbound_unknown or current.outbound_unknown,
        )
        if policy == current:
            return policy, Reevaluation(None)
        store.set_policy(link, policy)
        link_id = mark_changed(session, campaign.id)
    return policy, reevaluate(ctx, link_id)


def _require_link(session: Session, campaign_id: int, campaign_name: str) -> links.Link:
    link = links.active_link(session, campaign_id)
    if link is None:
        raise LinkError(
            f"{campaign_name!r} is not linked to Salesforce; policies are chosen with "
            "`convsync link … --inbound-unknown … --outbound-unknown …`"
        )
    return link


def mark_changed(session: Session, campaign_id: int) -> int | None:
    link = links.active_link(session, campaign_id)
    if link is None:
        return None
    link.rules_changed_at = utcnow()
    return link.id


def reevaluate(ctx: SyncContext, link_id: int | None) -> Reevaluation:
    """Start a run that judges the link's members by the new rules (or find the open one)."""
    if link_id is None:
        return Reevaluation(None)
    with transaction(ctx.sessions) as session:
        run_id = runs.open_run(session, link_id, RunKind.MANUAL.value, ctx.options.lease)
        if run_id is None:
            existing = runs.open_run_for(session, link_id)
            return Reevaluation(existing.id if existing else None, joined=True)
    ctx.dispatch.inbound_stage(run_id)
    return Reevaluation(run_id)
