"""What `convsync explain` prints (and the demo shows): a member's decisions, newest first."""

from __future__ import annotations

from rich.markup import escape

from convsync.domain.decisions import RecordedDecision
from convsync.domain.model import MemberValue
from convsync.sync.explain import MemberHistory
from convsync.views.output import console


def _value(value: MemberValue | None) -> str:
    if value is None or (value.status is None and value.updated_at is None):
        return "—"
    status = "removed" if value.status is None else repr(value.status)
    when = f" ({value.updated_at:%Y-%m-%d %H:%M:%S})" if value.updated_at else ""
    return escape(status) + when


def _print(kept: RecordedDecision) -> None:
    """One decision as three lines: what, from which values, why (tables wrap badly here)."""
    d = kept.decision
    what = d.kind.value.replace("_", " ") + (" [bold](conflict)[/]" if d.conflict else "")
    run = f"run {kept.run_id} " if kept.run_id else ""
    base = escape(repr(d.base)) if d.base is not None else "—"
    console.print(f"{kept.decided_at:%Y-%m-%d %H:%M:%S}  {run}{d.stage.value}  [bold]{what}[/]")
    console.print(
        f"  Conversion {_value(d.conversion)} · Salesforce {_value(d.salesforce)} · base {base}"
    )
    console.print(f"  why: {escape(d.rule)}")


def print_history(history: MemberHistory) -> None:
    if not history.decisions:
        console.print(
            f"no decision kept about {escape(history.email)} in {escape(history.campaign)} "
            "(none yet, or older than CONVSYNC_DECISION_RETENTION_DAYS)"
        )
        return
    console.print(f"{escape(history.email)} in {escape(history.campaign)}, newest first")
    for kept in history.decisions:
        _print(kept)
