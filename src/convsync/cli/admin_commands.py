"""`types rename|add-status|remove-status`, `campaigns rename|delete`: changing the
Conversion side after the fact. Thin: the rules are in `sync.catalog_admin`."""

from __future__ import annotations

from typing import Annotated

import typer

from convsync import api
from convsync.cli.errors import UserError
from convsync.views.output import say


def types_rename(old: str, new: str) -> None:
    """Rename a campaign type."""
    say("renamed type {} to {}", old.strip(), api.rename_type(old, new))


def types_add_status(
    type_name: Annotated[str, typer.Argument(metavar="TYPE")],
    label: str,
    default: Annotated[bool, typer.Option("--default", help="Make it the default.")] = False,
    responded: Annotated[bool, typer.Option("--responded", help="It counts as responded.")] = False,
) -> None:
    """Add a member status to a type (linked campaigns then import the Salesforce members
    they skipped for lacking it)."""
    added = api.add_status(type_name, label, default=default, responded=responded)
    say("added status {} to type {}", added.label, type_name.strip())
    if added.runs:
        runs = ", ".join(str(r.run_id) for r in added.runs if r.run_id is not None)
        say(
            "{} skipped Salesforce member(s) with it are read again (run {})",
            added.skipped,
            runs,
        )


def types_remove_status(
    type_name: Annotated[str, typer.Argument(metavar="TYPE")], label: str
) -> None:
    """Remove a member status from a type (refused while any member holds it)."""
    say("removed status {} from type {}", api.remove_status(type_name, label), type_name.strip())


def campaigns_rename(old: str, new: str) -> None:
    """Rename a campaign (a linked campaign stays linked)."""
    say("renamed campaign {} to {}", old.strip(), api.rename_campaign(old, new))


def campaigns_delete(
    name: str,
    unlink: Annotated[
        bool, typer.Option("--unlink", help="If linked: unlink first (Salesforce keeps all).")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Delete without asking.")] = False,
) -> None:
    """Delete a campaign and its members in Conversion (refused while linked, unless
    --unlink). Salesforce is not touched."""
    if not yes:
        raise UserError(f"deleting {name.strip()!r} deletes its members too: add --yes to do it")
    deleted = api.delete_campaign(name, unlink=unlink)
    if deleted.unlinked_from:
        say("unlinked {} from Salesforce campaign {}", deleted.name, deleted.unlinked_from)
    say("deleted campaign {} and its {} member(s)", deleted.name, deleted.members)
