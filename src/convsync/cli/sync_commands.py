"""link, unlink, check-statuses, sync, status, dlq: the sync, by hand."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from convsync import api
from convsync.cli.errors import MAX_INTEGER, UserError, fail, seconds, typer_app
from convsync.cli.status_commands import InboundOption, OutboundOption, policy_from
from convsync.domain.errors import MissingAccessError, SalesforceError
from convsync.domain.model import RunState, SyncMode
from convsync.sync import dead_letters, linking
from convsync.tasks.dispatch import replay_dead_letters, sync_context
from convsync.views.access import listing_missing_access, print_missing_access
from convsync.views.api_usage import print_api_usage
from convsync.views.catalog import print_dead_letters
from convsync.views.links import print_link_statuses, print_preflight
from convsync.views.output import JSON_OPTION_HELP, console, emit_json, say
from convsync.views.runs import describe_run, wait_for_run

dlq_app = typer_app("The dead-letter queue: members the sync could not push.")
JsonFlag = Annotated[bool, typer.Option("--json", help=JSON_OPTION_HELP)]
SalesforceCampaign = Annotated[
    str | None, typer.Option("--salesforce-campaign", help="Salesforce Campaign id (701…).")
]


def check_statuses(
    campaign: str,
    salesforce_campaign: Annotated[str, typer.Option("--salesforce-campaign")],
    as_json: JsonFlag = False,
) -> None:
    """Show which statuses each side lacks, what each gap would skip or dead-letter, and
    which permissions the Salesforce user lacks for the sync."""
    try:
        check = api.check_statuses(campaign, salesforce_campaign)
    except SalesforceError:
        missing = api.check_access()
        if not missing:
            raise
        # The statuses cannot be read without the missing permissions: say which.
        print_missing_access(missing)
        raise fail(str(MissingAccessError(missing))) from None
    missing = api.check_access()
    if as_json:
        emit_json(
            {
                "gap": check.gap,
                "skipped_inbound": check.skipped_inbound,
                "dead_letter_outbound": check.dead_letter_outbound,
                "missing_access": missing,
            }
        )
        return
    print_preflight(check)
    for line in missing:
        console.print(f"[red]✗[/] {escape(line)}", highlight=False, soft_wrap=True)


def create_campaign(
    name: str,
    type_name: Annotated[str, typer.Option("--type", "-t", help="The campaign type.")],
    sync: Annotated[SyncMode, typer.Option(help="none, existing or new.")] = SyncMode.NONE,
    salesforce_campaign: SalesforceCampaign = None,
    force: Annotated[
        bool,
        typer.Option(help="Link even if Salesforce statuses in use are missing from the type."),
    ] = False,
    inbound_unknown: InboundOption = None,
    outbound_unknown: OutboundOption = None,
) -> None:
    """Create a campaign: no sync, synced to an existing Salesforce campaign, or a new one."""
    with listing_missing_access():
        result = api.create_campaign(
            name,
            type_name,
            sync,
            salesforce_campaign,
            force=force,
            policy=policy_from(inbound_unknown, outbound_unknown),
        )
    say("created campaign [bold]{}[/] ({})", name.strip(), type_name)
    if result is not None:
        _linked(result)


def _linked(result: linking.LinkResult) -> None:
    if result.check is not None:
        print_preflight(result.check)
    how = "created in Salesforce as" if result.mode is SyncMode.NEW else "linked to"
    say(
        "{} {} {}; initial sync queued (run {})",
        result.campaign,
        how,
        result.salesforce_campaign_id,
        result.run_id,
    )


def link(
    campaign: str,
    salesforce_campaign: SalesforceCampaign = None,
    create_new: Annotated[
        bool, typer.Option("--create-new", help="Create the Salesforce campaign.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(help="Link even if Salesforce statuses in use are missing from the type."),
    ] = False,
    inbound_unknown: InboundOption = None,
    outbound_unknown: OutboundOption = None,
) -> None:
    """Link an existing campaign; starts the two-way initial sync (Salesforce lands first)."""
    if bool(salesforce_campaign) == create_new:
        raise UserError("give exactly one of --salesforce-campaign ID or --create-new")
    policy = policy_from(inbound_unknown, outbound_unknown)
    with listing_missing_access():
        if create_new:
            result = api.link(campaign, create_new=True, policy=policy)
        else:
            assert salesforce_campaign is not None
            result = api.link(campaign, salesforce_campaign, force=force, policy=policy)
    _linked(result)


def unlink(
    campaign: str,
    remove_synced_members: Annotated[
        bool,
        typer.Option(
            "--remove-synced-members",
            help="Also remove from Salesforce the members the sync added (asks first).",
        ),
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="With --remove-synced-members: do not ask.")
    ] = False,
) -> None:
    """Stop syncing; both sides keep their members as they are (unless told otherwise)."""
    if not remove_synced_members:
        result = api.unlink(campaign)
        say(
            "{} is no longer synced with {} (data kept on both sides)",
            campaign,
            result.salesforce_campaign_id,
        )
        return
    preview = api.preview_unlink(campaign)
    say(
        "{} member(s) the sync added will be removed from Salesforce campaign {}; "
        "Conversion keeps all its members",
        preview.synced_members,
        preview.salesforce_campaign_id,
    )
    if not yes:
        typer.confirm("Unlink and remove them?", abort=True, err=True)
    result = api.unlink(campaign, remove_synced_members=True)
    gone = f" ({result.already_gone} were gone already)" if result.already_gone else ""
    say(
        "{} is no longer synced with {}; removed {} member(s) the sync added from Salesforce{}",
        campaign,
        result.salesforce_campaign_id,
        result.removed_from_salesforce,
        gone,
    )


def sync(
    campaign: str,
    wait: Annotated[bool, typer.Option("--wait", help="Show progress until the run ends.")] = False,
    timeout: Annotated[
        float,
        typer.Option(callback=seconds, help="With --wait: give up after this many seconds."),
    ] = 600.0,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Drift repair: compare every Salesforce member with what the sync last saw "
            "(about one API call per 2,000 members).",
        ),
    ] = False,
) -> None:
    """Sync a linked campaign now."""
    run_id, started = api.sync_now(campaign, full=full)
    # "queued", not "started": until a worker takes it, nothing is syncing.
    console.print(
        f"{'queued' if started else 'joined the open'} run {run_id} for {campaign}", markup=False
    )
    if wait:
        run = wait_for_run(run_id, timeout)
        console.print(describe_run(run), markup=False)
        if run.state != RunState.SUCCEEDED:
            raise UserError(f"run {run_id} failed: {run.error}")


def status(
    campaign: Annotated[str | None, typer.Argument()] = None,
    as_json: JsonFlag = False,
    calls: Annotated[
        bool, typer.Option("--api", help="Salesforce API calls in the last 24 h, and the budget.")
    ] = False,
) -> None:
    """Every linked campaign: state, last run, lag, members, skipped, dead letters, errors."""
    if calls:
        if campaign is not None:
            raise typer.BadParameter("--api shows every campaign: drop CAMPAIGN")
        report = api.api_usage()
        if as_json:
            emit_json(report)
        else:
            print_api_usage(report)
        return
    found = api.status(campaign)
    if as_json:
        emit_json(found)
        return
    if not found:
        console.print("no linked campaigns (see `convsync link`)")
        return
    print_link_statuses(found, "Linked campaigns")


@dlq_app.command("list")
def dlq_list(
    campaign: Annotated[str | None, typer.Option("--campaign")] = None,
    include_resolved: Annotated[bool, typer.Option("--all", help="Include resolved.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """List dead letters (open ones, unless --all)."""
    found = dead_letters.list_dead_letters(
        sync_context(), campaign, include_resolved=include_resolved
    )
    if as_json:
        emit_json(found)
        return
    print_dead_letters(found)


@dlq_app.command("replay")
def dlq_replay(
    ids: Annotated[
        list[int] | None,
        typer.Argument(min=1, max=MAX_INTEGER, help="Dead letter ids (default: all)."),
    ] = None,
    campaign: Annotated[str | None, typer.Option("--campaign")] = None,
) -> None:
    """Replay dead letters: their campaigns' outbound stage retries them now."""
    link_ids = dead_letters.links_to_replay(sync_context(), ids or (), campaign)
    for link_id in link_ids:
        replay_dead_letters(link_id)
    console.print(f"replay queued for {len(link_ids)} campaign(s)")


@dlq_app.command("purge")
def dlq_purge(
    campaign: Annotated[str | None, typer.Option("--campaign")] = None,
    include_open: Annotated[
        bool,
        typer.Option(
            "--include-open", help="Also delete open letters (they come back if still failing)."
        ),
    ] = False,
) -> None:
    """Delete resolved dead letters (and open ones with --include-open)."""
    n = dead_letters.purge(sync_context(), campaign, resolved_only=not include_open)
    console.print(f"purged {n} dead letter(s)")
