"""`convsync mapping set|list|remove` and `convsync link-policy`: how statuses cross.

A mapping names the Salesforce label a Conversion status is known by; a policy says what
happens to a member whose status the other side lacks. Both are judged again on every
member the link skipped or dead-lettered as soon as they change.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from convsync.cli.errors import typer_app
from convsync.domain.status_rules import InboundUnknown, OutboundUnknown, StatusPolicy
from convsync.sync import status_rules
from convsync.sync.status_rules import Reevaluation
from convsync.tasks.dispatch import sync_context
from convsync.views.catalog import print_mapping
from convsync.views.output import JSON_OPTION_HELP, console, emit_json, say

mapping_app = typer_app(
    "Status translation: a Conversion status known in Salesforce by another label."
)
JsonFlag = Annotated[bool, typer.Option("--json", help=JSON_OPTION_HELP)]
InboundOption = Annotated[
    InboundUnknown | None,
    typer.Option(
        "--inbound-unknown",
        help="A Salesforce status the type lacks: skip the member (the default) or import "
        "it with the type's default status.",
    ),
]
OutboundOption = Annotated[
    OutboundUnknown | None,
    typer.Option(
        "--outbound-unknown",
        help="A Conversion status the Salesforce campaign lacks: dead-letter the member "
        "(the default) or create the status in Salesforce, then push.",
    ),
]


def _say_reevaluation(campaign: str, reevaluation: Reevaluation) -> None:
    if reevaluation.run_id is None:
        return
    if reevaluation.joined:
        say(
            "run {} is under way; the next run judges {}'s skipped and dead-lettered members again",
            reevaluation.run_id,
            campaign,
        )
    else:
        say(
            "started run {}: {}'s skipped and dead-lettered members are judged again",
            reevaluation.run_id,
            campaign,
        )


@mapping_app.command("set")
def mapping_set(campaign: str, conversion_status: str, salesforce_label: str) -> None:
    """Write CONVERSION_STATUS as SALESFORCE_LABEL in Salesforce, and read it back as such."""
    reevaluation = status_rules.set_mapping(
        sync_context(), campaign, conversion_status, salesforce_label
    )
    say(
        "{}: {} ↔ {} in Salesforce",
        campaign,
        repr(conversion_status.strip()),
        repr(salesforce_label.strip()),
    )
    _say_reevaluation(campaign, reevaluation)


@mapping_app.command("list")
def mapping_list(campaign: str, as_json: JsonFlag = False) -> None:
    """The campaign's mapped statuses (the others keep their own name in Salesforce)."""
    found = status_rules.list_mapping(sync_context(), campaign)
    if as_json:
        emit_json(found)
        return
    if not found:
        say("{}: every status keeps its own name in Salesforce", campaign)
        return
    print_mapping(campaign, found)


@mapping_app.command("remove")
def mapping_remove(campaign: str, conversion_status: str) -> None:
    """CONVERSION_STATUS goes back to being written under its own name."""
    reevaluation = status_rules.remove_mapping(sync_context(), campaign, conversion_status)
    say("{}: {} keeps its own name in Salesforce", campaign, repr(conversion_status.strip()))
    _say_reevaluation(campaign, reevaluation)


def link_policy(
    campaign: str,
    inbound_unknown: InboundOption = None,
    outbound_unknown: OutboundOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Show, or change, what a linked campaign does with a status the other side lacks."""
    ctx = sync_context()
    if inbound_unknown is None and outbound_unknown is None:
        policy = status_rules.link_policy(ctx, campaign)
        reevaluation = Reevaluation(None)
    else:
        policy, reevaluation = status_rules.change_policy(
            ctx, campaign, inbound_unknown=inbound_unknown, outbound_unknown=outbound_unknown
        )
    if as_json:
        emit_json(policy)
        return
    console.print(describe_policy(campaign, policy))
    _say_reevaluation(campaign, reevaluation)


def describe_policy(campaign: str, policy: StatusPolicy) -> str:
    return (
        f"{escape(campaign)}: --inbound-unknown {policy.inbound_unknown.value} "
        f"--outbound-unknown {policy.outbound_unknown.value}"
    )


def policy_from(
    inbound_unknown: InboundUnknown | None, outbound_unknown: OutboundUnknown | None
) -> StatusPolicy:
    """The policy `link` records: the spec's rules unless told otherwise."""
    return StatusPolicy(
        inbound_unknown or InboundUnknown.SKIP, outbound_unknown or OutboundUnknown.DEAD_LETTER
    )
