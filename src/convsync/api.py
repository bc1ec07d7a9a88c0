"""convsync for application code: the functions the `convsync` command itself calls.

    from convsync import api

    api.create_campaign("Spring Webinar", "Webinar", sync="new")
    api.add_member("Spring Webinar", "ann@example.com", "Registered")  # in Salesforce in seconds

Campaigns are named as in the CLI. Configuration comes from the `CONVSYNC_*` environment,
as for every convsync process; the work itself is done by `convsync worker` processes,
so this module only records changes and queues work (it never waits for a sync).

A member edit is committed first; then its push to Salesforce is requested, a quiet
period later (`CONVSYNC_EDIT_PUSH_DELAY_SECONDS`), so a burst of edits is one run. If
that request cannot be sent, the edit is still saved and beat's next tick pushes it.

Every error raised is a `convsync.domain.errors.ConvsyncError` with a one-line message
naming what to fix: `NotFoundError`, `ValidationError`, `LinkError`, `SalesforceError`,
`ConfigurationError` or `ServiceUnavailableError` (the database or the broker is down).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Literal, NamedTuple, ParamSpec, TextIO, TypeVar

from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.exc import DatabaseError, DataError, IntegrityError, InterfaceError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from convsync.config import get_settings
from convsync.domain.errors import (
    ConfigurationError,
    ConvsyncError,
    ServiceUnavailableError,
    ValidationError,
)
from convsync.domain.model import CampaignType, SyncMode
from convsync.domain.status_rules import SPEC_POLICY, StatusPolicy
from convsync.domain.statuses import Preflight
from convsync.store.catalog import MemberInfo
from convsync.sync import catalog, catalog_admin, edits, linking, member_import, reporting
from convsync.sync.api_usage import ApiUsageReport
from convsync.sync.api_usage import api_usage as api_usage_report
from convsync.sync.catalog_admin import CampaignDeleted, StatusAdded
from convsync.sync.context import SyncContext
from convsync.sync.linking import LinkResult, UnlinkPreview, UnlinkResult
from convsync.sync.member_import import ImportResult
from convsync.sync.reporting import LinkStatus
from convsync.tasks.dispatch import sync_context

__all__ = [
    "ApiUsageReport",
    "CampaignDeleted",
    "ImportResult",
    "LinkResult",
    "LinkStatus",
    "StatusAdded",
    "SyncRequest",
    "UnlinkPreview",
    "UnlinkResult",
    "add_member",
    "add_status",
    "api_usage",
    "check_statuses",
    "create_campaign",
    "create_type",
    "delete_campaign",
    "import_members",
    "link",
    "members",
    "preview_unlink",
    "remove_member",
    "remove_status",
    "rename_campaign",
    "rename_type",
    "set_member_status",
    "status",
    "sync_now",
    "unlink",
]

P = ParamSpec("P")
R = TypeVar("R")
SyncChoice = Literal["none", "existing", "new"]


class SyncRequest(NamedTuple):
    """The run a `sync_now` queued or joined (unpacks as `run_id, started`)."""

    run_id: int
    # False: a run of the campaign was open already, and this request joined it.
    started: bool


def _first_line(error: BaseException) -> str:
    lines = str(getattr(error, "orig", None) or error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


@contextmanager
def _domain_errors() -> Iterator[None]:
    """Translate what the layers below raise into the domain's errors, in one line."""
    try:
        yield
    except ConvsyncError:
        raise
    except DataError as error:
        # A value past a column's width: the transaction rolled back, nothing was written.
        raise ValidationError(
            f"a value does not fit in the database ({_first_line(error)}): shorten it"
        ) from error
    except IntegrityError as error:
        raise ValidationError(
            f"the database refused the change ({_first_line(error)}): "
            "it conflicts with another change made meanwhile; try again"
        ) from error
    except (DatabaseError, InterfaceError, PoolTimeoutError) as error:
        text = _first_line(error)
        if "no such table" in text or ("does not exist" in text and "relation" in text):
            raise ConfigurationError(
                "the database has no schema yet: run `convsync db upgrade`"
            ) from error
        raise ServiceUnavailableError(
            f"cannot use the database at CONVSYNC_DATABASE_URL: {text}"
        ) from error
    except BrokerError as error:
        raise ServiceUnavailableError(
            f"cannot reach the broker at CONVSYNC_BROKER_URL ({_first_line(error)}): "
            "start it or fix the URL, then try again"
        ) from error


def _speaks_domain_errors(function: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with _domain_errors():
            return function(*args, **kwargs)

    return wrapper


def _context() -> SyncContext:
    """The process's composition root: the same one the CLI uses."""
    return sync_context()


# ---------------------------------------------------------------- campaigns and links


@_speaks_domain_errors
def create_type(
    name: str,
    statuses: Sequence[str],
    *,
    default: str | None = None,
    responded: Sequence[str] = (),
) -> CampaignType:
    """A campaign type and its member statuses (the first is the default unless told)."""
    return catalog.create_type(
        _context().sessions, name, statuses, default=default, responded=responded
    )


@_speaks_domain_errors
def create_campaign(
    name: str,
    campaign_type: str,
    sync: SyncChoice | SyncMode = "none",
    salesforce_campaign_id: str | None = None,
    *,
    force: bool = False,
    policy: StatusPolicy = SPEC_POLICY,
) -> LinkResult | None:
    """Create a campaign with one of the three choices: no sync, sync to an existing
    Salesforce campaign (`salesforce_campaign_id`), or a new one created in Salesforce.

    A synced campaign's initial sync is queued (Salesforce lands first); the result says
    which run. All or nothing: a campaign whose link fails is not kept.
    """
    try:
        mode = SyncMode(sync)
    except ValueError:
        raise ValidationError(f"sync must be none, existing or new, not {sync!r}") from None
    return linking.create_synced_campaign(
        _context(), name, campaign_type, mode, salesforce_campaign_id, force=force, policy=policy
    )


@_speaks_domain_errors
def check_statuses(campaign: str, salesforce_campaign_id: str) -> Preflight:
    """Before linking: the statuses each side lacks, and what each gap would skip or park."""
    return linking.check_campaign_statuses(_context(), campaign, salesforce_campaign_id)


@_speaks_domain_errors
def check_access(*, creating_campaign: bool = False) -> tuple[str, ...]:
    """What the Salesforce user cannot do that the sync needs, one line each (empty when
    nothing is missing); `link` refuses with `MissingAccessError` when anything is."""
    return linking.check_access(_context(), creating_campaign=creating_campaign)


@_speaks_domain_errors
def link(
    campaign: str,
    salesforce_campaign_id: str | None = None,
    *,
    create_new: bool = False,
    force: bool = False,
    policy: StatusPolicy = SPEC_POLICY,
) -> LinkResult:
    """Link an existing campaign to a Salesforce campaign, or to a new one (`create_new`).

    Queues the two-way initial sync: Salesforce's members land first, then Conversion's
    are pushed. Refuses a Salesforce campaign whose members hold statuses the type lacks
    (they would be skipped) unless `force`. `policy` says what happens to members whose
    status the other side lacks (the spec's rules by default).
    """
    if bool(salesforce_campaign_id) == create_new:
        raise ValidationError("give exactly one of salesforce_campaign_id or create_new=True")
    ctx = _context()
    if create_new:
        return linking.link_new(ctx, campaign, policy=policy)
    assert salesforce_campaign_id is not None
    return linking.link_existing(ctx, campaign, salesforce_campaign_id, force=force, policy=policy)


@_speaks_domain_errors
def preview_unlink(campaign: str) -> UnlinkPreview:
    """How many members `unlink(campaign, remove_synced_members=True)` would remove from
    Salesforce: show it, and ask, before calling it."""
    return linking.preview_unlink(_context(), campaign)


@_speaks_domain_errors
def unlink(campaign: str, *, remove_synced_members: bool = False) -> UnlinkResult:
    """Stop syncing. Both sides keep their members, unless `remove_synced_members`: then
    the members the sync added to Salesforce are removed from it (Conversion keeps them).
    """
    return linking.unlink(_context(), campaign, remove_synced_members=remove_synced_members)


@_speaks_domain_errors
def sync_now(campaign: str, *, full: bool = False) -> SyncRequest:
    """Queue a run of a linked campaign now (or join the one already open).

    `full`: drift repair, comparing every live Salesforce member with what the sync last
    saw (about one API call per 2,000 members).
    """
    run_id, started = linking.request_sync(_context(), campaign, full=full)
    return SyncRequest(run_id, started)


@_speaks_domain_errors
def status(campaign: str | None = None) -> list[LinkStatus]:
    """Every linked campaign (or one campaign's links): last run, lag, members, skipped,
    dead letters, pending edits."""
    return reporting.link_statuses(_context(), campaign)


@_speaks_domain_errors
def api_usage() -> ApiUsageReport:
    """convsync's Salesforce API calls over the rolling window, per campaign and per
    purpose, against its daily budget (`convsync status --api`)."""
    window = get_settings().salesforce_budget_window_seconds
    return api_usage_report(_context(), window_seconds=window)


# ---------------------------------------------------------------- members


@_speaks_domain_errors
def add_member(
    campaign: str,
    email: str,
    status: str,
    *,
    first_name: str | None = None,
    last_name: str | None = None,
    company: str | None = None,
) -> None:
    """Add a person to a campaign (a linked one pushes it to Salesforce in seconds)."""
    ctx = _context()
    catalog.add_member(
        ctx.sessions,
        campaign,
        email,
        status,
        must_exist=False,
        first_name=first_name,
        last_name=last_name,
        company=company,
    )
    edits.request_push(ctx, campaign)


@_speaks_domain_errors
def set_member_status(campaign: str, email: str, status: str) -> bool:
    """Change a member's status; returns whether it changed (it is pushed if it did)."""
    ctx = _context()
    changed = catalog.add_member(ctx.sessions, campaign, email, status, must_exist=True)
    if changed:
        edits.request_push(ctx, campaign)
    return changed


@_speaks_domain_errors
def remove_member(campaign: str, email: str) -> None:
    """Remove a member; the removal syncs like any other change."""
    ctx = _context()
    catalog.remove_member(ctx.sessions, campaign, email)
    edits.request_push(ctx, campaign)


@_speaks_domain_errors
def import_members(campaign: str, csv: TextIO) -> ImportResult:
    """Load members from CSV text (email,status[,first_name,last_name,company]), all or
    nothing; the whole file is one edit, pushed in one run."""
    ctx = _context()
    result = member_import.import_members(ctx.sessions, campaign, csv)
    if result.changed:
        edits.request_push(ctx, campaign)
    return result


@_speaks_domain_errors
def members(campaign: str, limit: int | None = None) -> list[MemberInfo]:
    """The campaign's members in Conversion."""
    return catalog.list_members(_context().sessions, campaign, limit)


@_speaks_domain_errors
def rename_type(old: str, new: str) -> str:
    """Rename a campaign type; returns the name as stored."""
    return catalog_admin.rename_type(_context(), old, new)


@_speaks_domain_errors
def add_status(
    type_name: str, label: str, *, default: bool = False, responded: bool = False
) -> StatusAdded:
    """Add a member status to a type; linked campaigns of the type re-read the Salesforce
    members they skipped for lacking it, and import them."""
    return catalog_admin.add_status(
        _context(), type_name, label, default=default, responded=responded
    )


@_speaks_domain_errors
def remove_status(type_name: str, label: str) -> str:
    """Remove a status from a type; refused while any member holds it."""
    return catalog_admin.remove_status(_context(), type_name, label)


@_speaks_domain_errors
def rename_campaign(old: str, new: str) -> str:
    """Rename a campaign; a linked campaign stays linked (links are kept by id)."""
    return catalog_admin.rename_campaign(_context(), old, new)


@_speaks_domain_errors
def delete_campaign(campaign: str, *, unlink: bool = False) -> CampaignDeleted:
    """Delete a campaign and its members; refused while linked unless `unlink`."""
    return catalog_admin.delete_campaign(_context(), campaign, unlink_first=unlink)
