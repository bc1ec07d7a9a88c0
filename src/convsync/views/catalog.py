"""The listings of `types list`, `campaigns list`, `members list [--skipped]`,
`mapping list` and `dlq list`: one table each; `--json` prints the data itself."""

from __future__ import annotations

from collections.abc import Sequence

from convsync.domain.model import CampaignType
from convsync.store.catalog import CampaignInfo, MemberInfo
from convsync.store.dead_letters import DeadLetter
from convsync.sync.status_rules import StatusMapping
from convsync.views.output import emit_table


def print_types(found: Sequence[CampaignType]) -> None:
    emit_table(
        "Campaign types",
        ["type", "statuses", "default", "responded"],
        [
            (
                t.name,
                ", ".join(s.label for s in t.statuses),
                t.default_status.label,
                ", ".join(s.label for s in t.statuses if s.has_responded),
            )
            for t in found
        ],
    )


def print_campaigns(found: Sequence[CampaignInfo]) -> None:
    emit_table(
        "Campaigns",
        ["campaign", "type", "members", "Salesforce campaign", "sync"],
        [
            (c.name, c.type_name, c.members, c.salesforce_campaign_id, c.link_mode or "none")
            for c in found
        ],
    )


def print_members(campaign: str, found: Sequence[MemberInfo]) -> None:
    emit_table(
        f"Members of {campaign}",
        ["email", "status", "updated", "name", "company"],
        [
            (
                m.email,
                m.status,
                m.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
                " ".join(filter(None, (m.first_name, m.last_name))),
                m.company,
            )
            for m in found
        ],
    )


def print_skipped(campaign: str, found: Sequence[tuple[str | None, str | None, str, str]]) -> None:
    emit_table(
        f"Skipped members of {campaign}", ["email", "status", "reason", "Salesforce id"], found
    )


def print_dead_letters(found: Sequence[DeadLetter]) -> None:
    emit_table(
        "Dead letters",
        ["id", "campaign", "member", "code", "message", "attempts", "resolved"],
        [
            (
                d.id,
                d.campaign,
                d.email,
                d.code,
                d.message[:80],
                d.attempts,
                d.resolved_at.strftime("%Y-%m-%d %H:%M") if d.resolved_at else "",
            )
            for d in found
        ],
    )


def print_mapping(campaign: str, found: Sequence[StatusMapping]) -> None:
    emit_table(
        f"Status mapping of {campaign}",
        ["Conversion status", "Salesforce label"],
        [(m.conversion_status, m.salesforce_label) for m in found],
    )
