"""Linking a Conversion campaign to Salesforce: the three creation choices, link later,
the pre-flight checks (statuses, the Salesforce user's permissions), and unlink.
"""

from __future__ import annotations

from dataclasses import dataclass

from convsync.domain.access import missing_access
from convsync.domain.errors import (
    BrokerUnavailableError,
    LinkError,
    MissingAccessError,
    NotFoundError,
    SalesforceError,
)
from convsync.domain.ids import campaign_id
from convsync.domain.model import LinkState, RunKind, RunState, SyncMode
from convsync.domain.outcomes import RecordResult, WriteOutcome
from convsync.domain.status_rules import SPEC_POLICY, StatusPolicy
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
from convsync.salesforce.access import sync_needs
from convsync.store import added_members, catalog, links, runs
from convsync.store import status_rules as rules_store
from convsync.store.db import ConflictError, Session, transaction, unique_write, utcnow
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


def check_access(ctx: SyncContext, *, creating_campaign: bool) -> tuple[str, ...]:
    """What the Salesforce user cannot do that the sync needs, one line each (describe:
    one API call per object). Empty when nothing is missing."""
    needs = sync_needs(
        creating_campaign=creating_campaign, creating_leads=ctx.options.create_missing_leads
    )
    granted = ctx.salesforce.describe_access(dict.fromkeys(n.object_name for n in needs))
    return missing_access(needs, granted)


def require_access(ctx: SyncContext, *, creating_campaign: bool) -> None:
    """Refuse (MissingAccessError) before anything is written if a permission is missing."""
    missing = check_access(ctx, creating_campaign=creating_campaign)
    if missing:
        raise MissingAccessError(missing)


def check_campaign_statuses(
    ctx: SyncContext,
    campaign_name: str,
    salesforce_campaign_id: str,
    policy: StatusPolicy | None = None,
) -> Preflight:
    """Which statuses each side lacks (through the campaign's mapping), and how many
    members each gap would skip or park; `policy` defaults to the active link's."""
    salesforce_campaign_id = campaign_id(salesforce_campaign_id)
    with transaction(ctx.sessions) as session:
        campaign = require_campaign(session, campaign_name)
        if policy is None:
            policy = rules_store.policy_of(links.active_link(session, campaign.id))
        rules = rules_store.rules_for(session, campaign.id, policy)
        local_counts = catalog.status_counts(session, campaign.id)
    sf = ctx.salesforce
    sf.get_campaign(salesforce_campaign_id)  # a clear NotFound/Validation error first
    remote = [s for _, s in sf.campaign_statuses(salesforce_campaign_id)]
    gap = check_statuses(rules.campaign_type.statuses, remote, rules)
    return preflight(gap, sf.member_status_counts(salesforce_campaign_id), local_counts, policy)


def _align_statuses(
    sf: SalesforcePort, campaign_id: str, ctx: SyncContext, campaign_name: str
) -> None:
    with transaction(ctx.sessions) as session:
        campaign = require_campaign(session, campaign_name)
        # Under the mapped labels: the new campaign speaks the link's translation.
        campaign_type = rules_store.rules_for(session, campaign.id).in_salesforce()
    existing = [SalesforceStatus(i, s) for i, s in sf.campaign_statuses(campaign_id)]
    for step in plan_status_alignment(campaign_type, existing).steps:
        if isinstance(step, CreateStatus):
            sf.create_status(campaign_id, step.status)
        elif isinstance(step, UpdateStatus):
            sf.update_status(step.id, step.status)
        elif isinstance(step, DeleteStatus):
            sf.delete_status(step.id)


def _record_link(
    ctx: SyncContext,
    campaign_name: str,
    salesforce_campaign_id: str,
    mode: SyncMode,
    policy: StatusPolicy,
) -> tuple[int, int]:
    """Write the link and its initial run in one transaction; returns (link id, run id)."""
    try:
        with unique_write(ctx.sessions) as session:
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
            rules_store.set_policy(link, policy)
            run_id = runs.open_run(session, link.id, RunKind.INITIAL.value, ctx.options.lease)
            assert run_id is not None  # a brand-new link has no open run
            link_id = link.id
    except ConflictError:
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
    ctx: SyncContext,
    campaign_name: str,
    salesforce_campaign_id: str,
    *,
    force: bool = False,
    policy: StatusPolicy = SPEC_POLICY,
) -> LinkResult:
    """Link to an existing Salesforce campaign; its members come into Conversion first.

    Refused before anything is written when the Salesforce user lacks a permission the
    sync needs (`--force` does not override that: every run would fail). The id is kept
    in its 18-character form, whichever form was typed, so the rule of one link per
    Salesforce campaign holds on the id, not on its spelling.
    """
    salesforce_campaign_id = campaign_id(salesforce_campaign_id)
    _require_unlinked(ctx, campaign_name)
    require_access(ctx, creating_campaign=False)
    return _link_existing(ctx, campaign_name, salesforce_campaign_id, force=force, policy=policy)


def _require_unlinked(ctx: SyncContext, campaign_name: str) -> str:
    """The campaign's name as stored; NotFoundError or LinkError (already linked)."""
    with transaction(ctx.sessions) as session:
        campaign = require_campaign(session, campaign_name)
        if links.active_link(session, campaign.id) is not None:
            raise LinkError(f"{campaign_name!r} is already linked (unlink it first)")
        return campaign.name


def _link_existing(
    ctx: SyncContext,
    campaign_name: str,
    salesforce_campaign_id: str,
    *,
    force: bool,
    policy: StatusPolicy,
) -> LinkResult:
    _require_unlinked(ctx, campaign_name)
    check = check_campaign_statuses(ctx, campaign_name, salesforce_campaign_id, policy)
    refusal = link_refusal(check)
    if refusal and not force:
        raise LinkError(refusal)  # already says how to go ahead
    link_id, run_id = _record_link(
        ctx, campaign_name, salesforce_campaign_id, SyncMode.EXISTING, policy
    )
    _start_initial_sync(ctx, link_id, run_id)
    return LinkResult(campaign_name, salesforce_campaign_id, SyncMode.EXISTING, run_id, check)


def link_new(
    ctx: SyncContext, campaign_name: str, *, policy: StatusPolicy = SPEC_POLICY
) -> LinkResult:
    """Create the Salesforce campaign (same name, statuses matching the type), then sync.

    Refused before anything is created when the Salesforce user lacks a permission.
    """
    _require_unlinked(ctx, campaign_name)
    require_access(ctx, creating_campaign=True)
    return _link_new(ctx, campaign_name, policy)


def _link_new(ctx: SyncContext, campaign_name: str, policy: StatusPolicy) -> LinkResult:
    name = _require_unlinked(ctx, campaign_name)
    sf = ctx.salesforce
    salesforce_campaign_id = sf.create_campaign(name)
    _align_statuses(sf, salesforce_campaign_id, ctx, campaign_name)
    link_id, run_id = _record_link(ctx, campaign_name, salesforce_campaign_id, SyncMode.NEW, policy)
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
    policy: StatusPolicy = SPEC_POLICY,
) -> LinkResult | None:
    """The three choices offered when a campaign is created."""
    if mode is SyncMode.EXISTING and not salesforce_campaign_id:
        raise LinkError("--sync existing needs --salesforce-campaign ID")
    if mode is not SyncMode.EXISTING and salesforce_campaign_id:
        raise LinkError("--salesforce-campaign goes with --sync existing")
    if salesforce_campaign_id:
        salesforce_campaign_id = campaign_id(salesforce_campaign_id)  # a bad id: one line
    if mode is not SyncMode.NONE:
        # Check before creating anything, so a missing permission or a bad id leaves
        # nothing behind.
        require_access(ctx, creating_campaign=mode is SyncMode.NEW)
    if mode is SyncMode.EXISTING:
        assert salesforce_campaign_id is not None
        ctx.salesforce.get_campaign(salesforce_campaign_id)
    create_campaign(ctx.sessions, name, type_name)
    campaign_name = name.strip()
    if mode is SyncMode.NONE:
        return None
    try:
        if mode is SyncMode.NEW:
            return _link_new(ctx, campaign_name, policy)
        assert salesforce_campaign_id is not None
        return _link_existing(
            ctx, campaign_name, salesforce_campaign_id, force=force, policy=policy
        )
    except Exception:
        _drop_unlinked_campaign(ctx, campaign_name)
        raise


def _drop_unlinked_campaign(ctx: SyncContext, campaign_name: str) -> None:
    """Creation is all or nothing: a campaign whose link failed is removed again."""
    with transaction(ctx.sessions) as session:
        campaign = catalog.find_campaign(session, campaign_name)
        if campaign is not None and links.active_link(session, campaign.id) is None:
            catalog.delete_campaign(session, campaign)


@dataclass(frozen=True, slots=True)
class UnlinkPreview:
    """What `unlink --remove-synced-members` would do, before anything is deleted."""

    campaign: str
    salesforce_campaign_id: str
    # False when the campaign is unlinked already (a removal left unfinished resumes).
    linked: bool
    # Members the sync added to Salesforce that are still there, as far as it knows.
    synced_members: int


@dataclass(frozen=True, slots=True)
class UnlinkResult:
    campaign: str
    salesforce_campaign_id: str
    # Members the sync added, removed from Salesforce now (with --remove-synced-members).
    removed_from_salesforce: int = 0
    # Members the sync added that Salesforce had removed already.
    already_gone: int = 0


# CampaignMembers removed per step of an unlink's removal, each step recorded as done
# before the next: 2,000 ≈ 10 collection calls of 200.
REMOVAL_BATCH = 2_000


def _link_to_unlink(session: Session, campaign_name: str, *, resuming: bool) -> links.Link:
    """The campaign's active link; or, to resume a removal, its latest unlinked one."""
    campaign = require_campaign(session, campaign_name)
    link = links.active_link(session, campaign.id)
    if link is None and resuming:
        link = links.latest_link(session, campaign.id)
    if link is None:
        raise NotFoundError(f"{campaign_name!r} is not linked to Salesforce")
    return link


def preview_unlink(ctx: SyncContext, campaign_name: str) -> UnlinkPreview:
    """How many members `unlink(..., remove_synced_members=True)` would remove."""
    with transaction(ctx.sessions) as session:
        link = _link_to_unlink(session, campaign_name, resuming=True)
        return UnlinkPreview(
            campaign_name,
            link.salesforce_campaign_id,
            link.state == LinkState.ACTIVE,
            added_members.count_in_salesforce(session, link.id),
        )


def unlink(
    ctx: SyncContext, campaign_name: str, *, remove_synced_members: bool = False
) -> UnlinkResult:
    """Stop syncing; open runs are ended. Both sides keep their members as they are,
    unless `remove_synced_members`: then the members the sync added to Salesforce
    (`store.added_members`) are removed from it, after the sync has stopped (so no run
    reads the removals back into Conversion). Conversion keeps every member.

    With `remove_synced_members`, a campaign already unlinked has the rest of its
    removal done: after a failure or a kill, the same call carries on.
    """
    with transaction(ctx.sessions) as session:
        link = _link_to_unlink(session, campaign_name, resuming=remove_synced_members)
        if link.state == LinkState.ACTIVE:
            open_run = runs.open_run_for(session, link.id)
            if open_run is not None:
                runs.finish_run(session, open_run.id, RunState.FAILED, "unlinked while running")
            link.state = LinkState.UNLINKED
            link.unlinked_at = utcnow()
        link_id, salesforce_campaign_id = link.id, link.salesforce_campaign_id
    if not remove_synced_members:
        return UnlinkResult(campaign_name, salesforce_campaign_id)
    removed, gone = _remove_added_members(ctx, link_id)
    return UnlinkResult(campaign_name, salesforce_campaign_id, removed, gone)


def _remove_added_members(ctx: SyncContext, link_id: int) -> tuple[int, int]:
    """Delete the members the sync added from Salesforce; (removed, already gone).

    Each batch is recorded as removed once Salesforce confirmed it, so a failure or a
    kill leaves only what is still there for the next attempt.
    """
    with transaction(ctx.sessions) as session:
        found = added_members.in_salesforce(session, link_id)
    if not found:
        return 0, 0
    sf = ctx.salesforce
    use_bulk = len(found) >= ctx.options.bulk_threshold
    size = ctx.options.bulk_chunk if use_bulk else REMOVAL_BATCH
    removed = gone = 0
    failures: list[RecordResult] = []
    for start in range(0, len(found), size):
        batch = found[start : start + size]
        results = sf.delete_members([member for _, member in batch], use_bulk=use_bulk)
        done: list[int] = []
        for (row_id, _), result in zip(batch, results, strict=True):
            if result.ok:
                removed += 1
            elif result.outcome is WriteOutcome.NOT_FOUND:
                gone += 1
            else:
                failures.append(result)
                continue
            done.append(row_id)
        with transaction(ctx.sessions) as session:
            added_members.mark_removed(session, done)
    if failures:
        first = failures[0]
        raise SalesforceError(
            f"unlinked, but {len(failures)} member(s) the sync added could not be removed "
            f"from Salesforce ({first.code}: {first.message}); run the same command again "
            "to retry them",
            code=first.code or "UNKNOWN",
        )
    return removed, gone


def request_sync(
    ctx: SyncContext, campaign_name: str, kind: RunKind = RunKind.MANUAL, *, full: bool = False
) -> tuple[int, bool]:
    """Start a run now (or join the open one). Returns (run id, started by this call).

    `full`: drift repair, a compare of every live Salesforce member with the bases (an
    open run is joined as it is).
    """
    with transaction(ctx.sessions) as session:
        campaign = require_campaign(session, campaign_name)
        link = links.active_link(session, campaign.id)
        if link is None:
            raise LinkError(f"{campaign_name!r} is not linked to Salesforce (use `convsync link`)")
        run_id = runs.open_run(session, link.id, kind.value, ctx.options.lease, full_compare=full)
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
