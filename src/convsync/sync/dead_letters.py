"""The dead-letter queue: members (or tasks) the sync could not move, until replayed.

A dead-lettered member still differs from its base, so any later outbound stage retries
it; `replay` simply starts that stage now, and the scheduler starts it by itself when a
status appears on the Salesforce campaign. Letters resolve when their member lands.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from typing import Any

from convsync.domain.errors import NotFoundError
from convsync.domain.model import LinkState, RunKind, RunState
from convsync.store import dead_letters, links, runs
from convsync.store.db import transaction
from convsync.store.dead_letters import DeadLetter
from convsync.sync.catalog import require_campaign
from convsync.sync.context import SyncContext

__all__ = ["DeadLetter", "links_to_replay", "list_dead_letters", "purge", "record_task_failure"]


def list_dead_letters(
    ctx: SyncContext, campaign_name: str | None = None, *, include_resolved: bool = False
) -> list[DeadLetter]:
    with transaction(ctx.sessions) as session:
        campaign_id = None
        if campaign_name is not None:
            campaign_id = require_campaign(session, campaign_name).id
        return dead_letters.for_campaign(session, campaign_id, include_resolved=include_resolved)


def links_to_replay(
    ctx: SyncContext, ids: Sequence[int] = (), campaign_name: str | None = None
) -> list[int]:
    """The links whose open dead letters the request names (all, by id, or by campaign)."""
    with transaction(ctx.sessions) as session:
        link_id = None
        if campaign_name is not None:
            campaign = require_campaign(session, campaign_name)
            link = links.active_link(session, campaign.id)
            if link is None:
                raise NotFoundError(f"{campaign_name!r} is not linked to Salesforce")
            link_id = link.id
        found = dead_letters.open_letters(session, ids, link_id)
        missing = sorted(set(ids) - {row.id for row in found})
        if missing and campaign_name is not None:
            elsewhere = dead_letters.campaign_of_open_letter(session, missing[0])
            if elsewhere is not None:
                raise NotFoundError(
                    f"dead letter {missing[0]} belongs to campaign {elsewhere!r}, not "
                    f"{campaign_name!r}: drop --campaign or name {elsewhere!r}"
                )
    if missing:
        raise NotFoundError(f"no open dead letter with id {missing[0]} (see `convsync dlq list`)")
    return sorted({row.link_id for row in found})


def replay_link(ctx: SyncContext, link_id: int) -> int | None:
    """Start a run for the link (its outbound stage retries every dead letter)."""
    with transaction(ctx.sessions) as session:
        link = links.find_link(session, link_id)
        if link is None or link.state != LinkState.ACTIVE:
            return None
        run_id = runs.open_run(session, link_id, RunKind.MANUAL.value, ctx.options.lease)
    if run_id is not None:
        ctx.dispatch.inbound_stage(run_id)
    return run_id


def purge(ctx: SyncContext, campaign_name: str | None = None, *, resolved_only: bool = True) -> int:
    with transaction(ctx.sessions) as session:
        campaign_id = None
        if campaign_name is not None:
            campaign_id = require_campaign(session, campaign_name).id
        return dead_letters.purge(session, campaign_id, resolved_only=resolved_only)


def record_task_failure(
    ctx: SyncContext, *, task_name: str, task_id: str, kwargs: dict[str, Any], error: BaseException
) -> None:
    """A task that exhausted its retries lands here, and its run is failed (state kept)."""
    run_id = kwargs.get("run_id")
    link_id = None
    with transaction(ctx.sessions) as session:
        if isinstance(run_id, int):
            run = runs.get_run(session, run_id)
            if run is not None:
                link_id = run.link_id
                runs.finish_run(
                    session, run_id, RunState.FAILED, f"{type(error).__name__}: {error}"
                )
        dead_letters.record_task_failure(
            session,
            link_id=link_id,
            run_id=run_id if isinstance(run_id, int) else None,
            code=str(getattr(error, "code", type(error).__name__)),
            message=f"{task_name} failed: {error}",
            payload={
                "task_id": task_id,
                "kwargs": kwargs,
                "where": traceback.format_exception_only(error)[-1].strip()[:500],
            },
        )
