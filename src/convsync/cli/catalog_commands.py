"""`types`, `campaigns` and `members`: the Conversion side, by hand."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Annotated

import typer

from convsync import api
from convsync.cli.errors import MAX_INTEGER, UserError, typer_app
from convsync.sync import catalog, csv_input
from convsync.views.catalog import print_campaigns, print_members, print_skipped, print_types
from convsync.views.output import JSON_OPTION_HELP, emit_json, say
from convsync.workers.root import adapters

types_app = typer_app("Campaign types and their member statuses.")
campaigns_app = typer_app("Conversion campaigns.")
members_app = typer_app("Members of a campaign.")

JsonFlag = Annotated[bool, typer.Option("--json", help=JSON_OPTION_HELP)]


@types_app.command("create")
def types_create(
    name: str,
    status: Annotated[list[str], typer.Option("--status", "-s", help="A member status (repeat).")],
    default: Annotated[
        str | None, typer.Option(help="The default status (else the first).")
    ] = None,
    responded: Annotated[
        list[str] | None, typer.Option(help="A status that counts as responded (repeat).")
    ] = None,
) -> None:
    """Create a campaign type with its member statuses."""
    created = api.create_type(name, status, default=default, responded=responded or ())
    labels = ", ".join(
        s.label
        + (" (default)" if s.is_default else "")
        + (" (responded)" if s.has_responded else "")
        for s in created.statuses
    )
    say("created type [bold]{}[/]: {}", created.name, labels)


@types_app.command("list")
def types_list(as_json: JsonFlag = False) -> None:
    """List campaign types."""
    found = catalog.list_types(adapters().sessions)
    if as_json:
        emit_json(found)
        return
    print_types(found)


@campaigns_app.command("list")
def campaigns_list(as_json: JsonFlag = False) -> None:
    """List campaigns with their type, member count and link."""
    found = catalog.list_campaigns(adapters().sessions)
    if as_json:
        emit_json(found)
        return
    print_campaigns(found)


@members_app.command("add")
def members_add(
    campaign: str,
    email: str,
    status: str,
    first_name: Annotated[str | None, typer.Option()] = None,
    last_name: Annotated[str | None, typer.Option()] = None,
    company: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Add a person to a campaign with a status."""
    api.add_member(
        campaign,
        email,
        status,
        first_name=first_name,
        last_name=last_name,
        company=company,
    )
    say("added {} to {} as {}", email.strip().lower(), campaign, status.strip())


@members_app.command("set")
def members_set(campaign: str, email: str, status: str) -> None:
    """Change a member's status."""
    changed = api.set_member_status(campaign, email, status)
    say(
        "{} in {}: {}{}",
        email.strip().lower(),
        campaign,
        status.strip(),
        "" if changed else " (unchanged)",
    )


@members_app.command("remove")
def members_remove(campaign: str, email: str) -> None:
    """Remove a member (the removal syncs to Salesforce)."""
    api.remove_member(campaign, email)
    say("removed {} from {}", email.strip().lower(), campaign)


@members_app.command("import")
def members_import(
    campaign: str,
    file: Annotated[
        str, typer.Argument(help="CSV with columns email,status[,first_name,...]; - for stdin")
    ],
) -> None:
    """Load members from a CSV, all or nothing (refused with line numbers if ambiguous)."""
    if file == "-":
        data, source = sys.stdin.buffer.read(), "standard input"
    else:
        path = Path(file)
        if not path.is_file():
            raise UserError(f"no such file: {file}")
        data, source = path.read_bytes(), file
    result = api.import_members(campaign, io.StringIO(csv_input.decode(data, source)))
    say("imported {} rows into {} ({} added or changed)", result.rows, campaign, result.changed)


@members_app.command("list")
def members_list(
    campaign: str,
    as_json: JsonFlag = False,
    limit: Annotated[
        int | None, typer.Option(min=1, max=MAX_INTEGER, help="Show at most this many.")
    ] = None,
    skipped: Annotated[
        bool, typer.Option("--skipped", help="Salesforce members not imported, and why.")
    ] = False,
) -> None:
    """List a campaign's members (or, with --skipped, the ones the sync skipped)."""
    if skipped:
        _list_skipped(campaign, as_json)
        return
    found = api.members(campaign, limit)
    if as_json:
        emit_json(found)
        return
    print_members(campaign, found)


def _list_skipped(campaign: str, as_json: bool) -> None:
    from convsync.sync.reporting import skipped_members
    from convsync.tasks.dispatch import sync_context

    found = skipped_members(sync_context(), campaign)
    if as_json:
        emit_json(
            [
                {"email": e, "status": s, "reason": r, "salesforce_member_id": i}
                for e, s, r, i in found
            ]
        )
        return
    print_skipped(campaign, found)
