"""Linking a Conversion campaign to Salesforce: the three creation choices, link later,
the pre-flight status check, and unlink.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from convsync.domain.errors import BrokerUnavailableError, LinkError, NotFoundError
from convsync.domain.ids import campaign_id
from convsync.domain.model import RunKind, SyncMode
from convsync.domain.statuses import (
    CreateStatus,
    DeleteStatus,
    Preflight,
    SalesforceStatus,
    UpdateStatus,
    check_statuses,
    link_refusal,
    plan_status_alignment,
    preflight,
)
from convsync.store import catalog, links, runs
from convsync.store.db import transaction
from convsync.store.tables import utcnow
from convsync.sync.catalog import create_campaign, require_campaign
from convsync.sync.context import SyncContext
from convsync.sync.ports import SalesforcePort


@dataclass(frozen=True, slots=True)
class LinkResult:
    campaign: str
    salesforce_campaign_id: str
    mode: SyncMode
    run_id: int
    check: Preflight | None


def check_campaign_statuses(
    ctx: SyncContext, campaign_name: str, salesforce_campaign_id: str
) -> Preflight:
    """Which statuses each side lacks, and how many members each gap would skip or park."""
    salesforce_campaign_id = campaign_id(salesforce_campaign_id)
    with transaction(ctx.sessions) as session:
        campaign = require_campaign(session, campaign_name)
        campaign_type = catalog.type_of_campaign(session, campaign.id)
        local_counts = catalog.status_counts(session, campaign.id)
    sf = ctx.salesforce
    sf.get_campaign(salesforce_campaign_id)  # a clear NotFound/Validation error first
    remote = [s for _, s in sf.campaign_statuses(salesforce_campaign_id)]
    gap = check_statuses(campaign_type.statuses, remote)
    return preflight(gap, sf.member_status_counts(salesforce_campaign_id), local_counts)


def _align_statuses(
    sf: SalesforcePort, campaign_id: str, ctx: SyncContext, campaign_name: str
) -> None:
    with transaction(ctx.sessions) as session:
        campaign = require_campaign(session, campaign_name)
        campaign_type = catalog.type_of_campaign(session, campaign.id)
    existing = [SalesforceStatus(i, s) for i, s in sf.campaign_statuses(campaign_id)]
    for step in plan_status_alignment(campaign_type, existing).steps:
        if isinstance(step, CreateStatus):
            sf.create_status(campaign_id, step.status)
        elif isinstance(step, UpdateStatus):
            sf.update_status(step.id, step.status)
        elif isinstance(step, DeleteStatus):
            sf.delete_status(step.id)


def _record_link(
    ctx: SyncContext, campaign_name: str, salesforce_campaign_id: str, mode: SyncMode
) -> tuple[int, int]:
    """Write the link and its initial run in one transaction; returns (link id, run id)."""
    try:
        with transaction(ctx.sessions) as session:
            campaign = require_campaign(session, campaign_name)
            if links.active_link(session, campaign.id) is not None:
                raise LinkError(f"{campaign_name!r} is already linked (unlink it first)")
            other = links.active_link_for_salesforce(session, salesforce_campaign_id)
            if other is not None:
                raise LinkError(
                    f"Salesforce campaign {salesforce_campaign_id} is already linked "
                    "to another campaign"
                )
            link = links.add_link(session, campaign.id, salesforce_campaign_id, mode.value)
            run_id = runs.open_run(session, link.id, RunKind.INITIAL.value, ctx.options.lease)
            assert run_id is not None  # a brand-new link has no open run
            link_id = link.id
    except IntegrityError:
        # Lost a race with a concurrent link of the same campaign or Salesforce campaign.
        raise LinkError(
            f"{campaign_name!r} or {salesforce_campaign_id} was linked meanwhile"
        ) from None
    return link_id, run_id


def _start_initial_sync(
    ctx: SyncContext, link_id: int, run_id: int, created_in_salesforce: str | None = None
) -> None:
    """Queue the link's initial sync; if the broker does not take it, undo the link (and
    the Salesforce campaign this command created), so the command can simply be run
    again: a link without its sync would otherwise answer "already linked"."""
    try:
        ctx.dispatch.inbound_stage(run_id)
    except BrokerUnavailableError as error:
        with transaction(ctx.sessions) as session:
            links.discard_unstarted_link(session, link_id)
        if created_in_salesforce is not None:
            ctx.salesforce.delete_campaign(created_in_salesforce)
        raise BrokerUnavailableError(
            f"{error}: nothing was linked; start the broker or fix the URL, then run the "
            "command again"
        ) from None


def link_existing(
    ctx: SyncContext, campaign_name: str, salesforce_campaign_id: str, *, force: bool = False
) -> LinkResult:
    """Link to an existing Salesforce campaign; its members come into Conversion first.

    The id is kept in its 18-character form, whichever form was typed, so the rule of
    one link per Salesforce campaign holds on the id, not on its spelling.
    """
    salesforce_campaign_id = campaign_id(salesforce_campaign_id)
    with transaction(ctx.sessions) as session:
        campaign = require_campaign(session, campaign_name)
        if links.active_link(session, campaign.id) is not None:
            raise LinkError(f"{campaign_name!r} is already linked (unlink it first)")
    check = check_campaign_statuses(ctx, campaign_name, salesforce_campaign_id)
    refusal = link_refusal(check)
    if refusal and not force:
        raise LinkError(refusal)  # already says how to go ahead
    link_id, run_id = _record_link(ctx, campaign_name, salesforce_campaign_id, SyncMode.EXISTING)
    _start_initial_sync(ctx, link_id, run_id)
    return LinkResult(campaign_name, salesforce_campaign_id, SyncMode.EXISTING, run_id, check)


def link_new(ctx: SyncContext, campaign_name: str) -> LinkResult:
    """Create the Salesforce campaign (same name, statuses matching the type), then sync."""
    with transaction(ctx.sessions) as session:
        campaign = require_campaign(session, campaign_name)
        if links.active_link(session, campaign.id) is not None:
            raise LinkError(f"{campaign_name!r} is already linked (unlink it first)")
        name = campaign.name
    sf = ctx.salesforce
    salesforce_campaign_id = sf.create_campaign(name)
    _align_statuses(sf, salesforce_campaign_id, ctx, campaign_name)
    link_id, run_id = _record_link(ctx, campaign_name, salesforce_campaign_id, SyncMode.NEW)
    _start_initial_sync(ctx, link_id, run_id, created_in_salesforce=salesforce_campaign_id)
    return LinkResult(campaign_name, salesforce_campaign_id, SyncMode.NEW, run_id, None)


def create_synced_campaign(
    ctx: SyncContext,
    name: str,
    type_name: str,
    mode: SyncMode,
    salesforce_campaign_id: str | None = None,
    *,
    force: bool = False,
) -> LinkResult | None:
    """The three choices offered when a campaign is created."""
    if mode is SyncMode.EXISTING and not salesforce_campaign_id:
        raise LinkError("--sync existing needs --salesforce-campaign ID")
    if mode is not SyncMode.EXISTING and salesforce_campaign_id:
        raise LinkError("--salesforce-campaign goes with --sync existing")
    if mode is SyncMode.EXISTING:
        assert salesforce_campaign_id is not None
        salesforce_campaign_id = campaign_id(salesforce_campaign_id)
        # Check before creating anything, so a bad id leaves nothing behind.
        ctx.salesforce.get_campaign(salesforce_campaign_id)
    create_campaign(ctx.sessions, name, type_name)
    campaign_name = name.strip()
    if mode is SyncMode.NONE:
        return None
    try:
        if mode is SyncMode.NEW:
            return link_new(ctx, campaign_name)
        assert salesforce_campaign_id is not None
        return link_existing(ctx, campaign_name, salesforce_campaign_id, force=force)
    except Exception:
        _drop_unlinked_campaign(ctx, campaign_name)
        raise


def _drop_unlinked_campaign(ctx: SyncContext, campaign_name: str) -> None:
    """Creation is all or nothing: a campaign whose link failed is removed again."""
    with transaction(ctx.sessions) as session:
        campaign = catalog.find_campaign(session, campaign_name)
        if campaign is not None and links.active_link(session, campaign.id) is None:
            session.delete(campaign)


def unlink(ctx: SyncContext, campaign_name: str) -> str:
    """Stop syncing; both sides keep their members as they are. Open runs are ended."""
    with transaction(ctx.sessions) as session:
        campaign = require_campaign(session, campaign_name)
        link = links.active_link(session, campaign.id)
        if link is None:
            raise NotFoundError(f"{campaign_name!r} is not linked to Salesforce")
        open_run = runs.open_run_for(session, link.id)
        if open_run is not None:
            runs.finish_run(session, open_run.id, "failed", "unlinked while running")
        link.state = "unlinked"
        link.unlinked_at = utcnow()
        return link.salesforce_campaign_id


def request_sync(
    ctx: SyncContext, campaign_name: str, kind: RunKind = RunKind.MANUAL
) -> tuple[int, bool]:
    """Start a run now (or join the open one). Returns (run id, started by this call)."""
    with transaction(ctx.sessions) as session:
        campaign = require_campaign(session, campaign_name)
        link = links.active_link(session, campaign.id)
        if link is None:
            raise LinkError(f"{campaign_name!r} is not linked to Salesforce (use `convsync link`)")
        run_id = runs.open_run(session, link.id, kind.value, ctx.options.lease)
        if run_id is None:
            existing = runs.open_run_for(session, link.id)
            assert existing is not None
            return existing.id, False
    try:
        ctx.dispatch.inbound_stage(run_id)
    except BrokerUnavailableError as error:
        with transaction(ctx.sessions) as session:
            runs.discard_unqueued_run(session, run_id)
        raise BrokerUnavailableError(f"{error}: no run was started") from None
    return run_id, True
