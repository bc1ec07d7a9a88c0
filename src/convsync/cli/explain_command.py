"""`convsync explain CAMPAIGN EMAIL [--json]`: why a member ended where it is."""

from __future__ import annotations

from typing import Annotated

import typer

from convsync.sync.explain import explain as member_history
from convsync.tasks.dispatch import sync_context
from convsync.views.explain import print_history
from convsync.views.output import JSON_OPTION_HELP, emit_json


def explain(
    campaign: str,
    email: str,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_OPTION_HELP)] = False,
) -> None:
    """A member's history, newest first: what the sync decided, from which values, and why."""
    history = member_history(sync_context(), campaign, email)
    if as_json:
        emit_json(history)
    else:
        print_history(history)
