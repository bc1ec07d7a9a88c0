"""Near-real-time outbound: a Conversion edit reaches Salesforce seconds after its commit.

The edit counts itself on the campaign's link in its own transaction (`links.note_edit`):
that count is the durable signal, read by beat's next tick if everything else is lost.
After the commit, `request_push` asks for a push a quiet period later; `plan_edit_push`, run
by that delayed task, opens a run of kind `edits` when the rule of `domain.edits` says
so. The run then goes as every run does (Salesforce lands first); when it ends, edits
made after its outbound plan are asked for again (`stages.close_outbound`).
"""

from __future__ import annotations

import structlog

from convsync.domain.edits import push_now
from convsync.domain.model import RunKind
from convsync.store import catalog, links, runs
from convsync.store.db import transaction, utcnow
from convsync.sync.context import SyncContext

log = structlog.get_logger(__name__)


def request_push(ctx: SyncContext, campaign_name: str) -> None:
    """After an edit of `campaign_name` committed: ask for its push, a quiet period on.

    Never fails the edit, which is already saved: if the request cannot be made (the
    broker is down), the pending edits wait for beat's next tick instead.
    """
    try:
        with transaction(ctx.sessions) as session:
            campaign = catalog.find_campaign(session, campaign_name.strip())
            edited = None if campaign is None else links.edited_link(session, campaign.id)
        if edited is None or not edited.edits.pending:
            return
        request(ctx, edited.link_id, edited.edits.edit_count)
    except Exception as error:  # noqa: BLE001 - the edit is committed; beat is the safety net
        log.warning(
            "edit saved; its push waits for the next scheduled sync",
            campaign=campaign_name,
            error=f"{type(error).__name__}: {error}",
        )


def request(ctx: SyncContext, link_id: int, edit_count: int) -> None:
    """Ask for a push of the link's edits up to `edit_count`, a quiet period from now."""
    ctx.dispatch.push_edits(link_id, edit_count, delay=ctx.options.edit_push_delay.total_seconds())


def plan_edit_push(ctx: SyncContext, link_id: int, requested_after: int) -> int | None:
    """A push request come due: open a run for the link's pending edits, unless a later
    edit's request will (the burst goes on) or a run is open (its end asks again).

    Returns the run started, if any. Safe to run twice: a duplicate finds the run open,
    or the edits pushed.
    """
    with transaction(ctx.sessions) as session:
        edits = links.pending_edits(session, link_id)
        if edits is None or not push_now(
            edits,
            requested_after=requested_after,
            now=utcnow(),
            max_delay=ctx.options.edit_push_max_delay,
        ):
            return None
        run_id = runs.open_run(session, link_id, RunKind.EDITS.value, ctx.options.lease)
    if run_id is None:
        return None
    ctx.dispatch.inbound_stage(run_id)
    return run_id
