"""The dead-letter queue: members (or tasks) the sync could not move, until replayed.

A dead-lettered member still differs from its base, so any later outbound stage retries
it; `replay` simply starts that stage now, and the scheduler starts it by itself when a
status appears on the Salesforce campaign. Letters resolve when their member lands.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from convsync.domain.errors import NotFoundError
from convsync.domain.model import RunKind
from convsync.store import links, runs
from convsync.store.db import transaction
from convsync.store.tables import (
    CampaignRow,
    LinkRow,
    PersonRow,
    SyncErrorRow,
    utcnow,
)
from convsync.sync.catalog import require_campaign
from convsync.sync.context import SyncContext


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    campaign: str | None
    email: str | None
    direction: str
    code: str
    message: str
    attempts: int
    created_at: datetime
    last_attempt_at: datetime
    resolved_at: datetime | None


def list_dead_letters(
    ctx: SyncContext, campaign_name: str | None = None, *, include_resolved: bool = False
) -> list[DeadLetter]:
    with transaction(ctx.sessions) as session:
        query = (
            select(SyncErrorRow, CampaignRow.name, PersonRow.email)
            .outerjoin(LinkRow, LinkRow.id == SyncErrorRow.link_id)
            .outerjoin(CampaignRow, CampaignRow.id == LinkRow.campaign_id)
            .outerjoin(PersonRow, PersonRow.id == SyncErrorRow.person_id)
            .order_by(SyncErrorRow.id)
        )
        if campaign_name is not None:
            campaign = require_campaign(session, campaign_name)
            query = query.where(LinkRow.campaign_id == campaign.id)
        if not include_resolved:
            query = query.where(SyncErrorRow.resolved_at.is_(None))
        return [
            DeadLetter(
                e.id,
                name,
                email,
                e.direction,
                e.code,
                e.message,
                e.attempts,
                e.created_at,
                e.last_attempt_at,
                e.resolved_at,
            )
            for e, name, email in session.execute(query)
        ]


def links_to_replay(
    ctx: SyncContext, ids: Sequence[int] = (), campaign_name: str | None = None
) -> list[int]:
    """The links whose open dead letters the request names (all, by id, or by campaign)."""
    with transaction(ctx.sessions) as session:
        query = select(SyncErrorRow.id, SyncErrorRow.link_id).where(
            SyncErrorRow.resolved_at.is_(None), SyncErrorRow.link_id.is_not(None)
        )
        if ids:
            query = query.where(SyncErrorRow.id.in_(list(ids)))
        if campaign_name is not None:
            campaign = require_campaign(session, campaign_name)
            link = links.active_link(session, campaign.id)
            if link is None:
                raise NotFoundError(f"{campaign_name!r} is not linked to Salesforce")
            query = query.where(SyncErrorRow.link_id == link.id)
        found = session.execute(query).all()
        missing = sorted(set(ids) - {row.id for row in found})
        if missing and campaign_name is not None:
            elsewhere = _campaign_of_open_letter(session, missing[0])
            if elsewhere is not None:
                raise NotFoundError(
                    f"dead letter {missing[0]} belongs to campaign {elsewhere!r}, not "
                    f"{campaign_name!r}: drop --campaign or name {elsewhere!r}"
                )
    if missing:
        raise NotFoundError(f"no open dead letter with id {missing[0]} (see `convsync dlq list`)")
    return sorted({row.link_id for row in found})


def _campaign_of_open_letter(session: Session, letter_id: int) -> str | None:
    """The campaign an open dead letter belongs to, if it exists at all."""
    return session.scalar(
        select(CampaignRow.name)
        .join(LinkRow, LinkRow.campaign_id == CampaignRow.id)
        .join(SyncErrorRow, SyncErrorRow.link_id == LinkRow.id)
        .where(SyncErrorRow.id == letter_id, SyncErrorRow.resolved_at.is_(None))
    )


def replay_link(ctx: SyncContext, link_id: int) -> int | None:
    """Start a run for the link (its outbound stage retries every dead letter)."""
    with transaction(ctx.sessions) as session:
        link = session.get(LinkRow, link_id)
        if link is None or link.state != "active":
            return None
        run_id = runs.open_run(session, link_id, RunKind.MANUAL.value, ctx.options.lease)
    if run_id is not None:
        ctx.dispatch.inbound_stage(run_id)
    return run_id


def purge(ctx: SyncContext, campaign_name: str | None = None, *, resolved_only: bool = True) -> int:
    with transaction(ctx.sessions) as session:
        query = delete(SyncErrorRow)
        if resolved_only:
            query = query.where(SyncErrorRow.resolved_at.is_not(None))
        if campaign_name is not None:
            campaign = require_campaign(session, campaign_name)
            link_ids = select(LinkRow.id).where(LinkRow.campaign_id == campaign.id)
            query = query.where(SyncErrorRow.link_id.in_(link_ids))
        return int(session.execute(query).rowcount or 0)  # type: ignore[attr-defined]


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
                runs.finish_run(session, run_id, "failed", f"{type(error).__name__}: {error}")
        session.add(
            SyncErrorRow(
                link_id=link_id,
                person_id=None,
                run_id=run_id if isinstance(run_id, int) else None,
                direction="task",
                code=str(getattr(error, "code", type(error).__name__)),
                message=f"{task_name} failed: {error}"[:2_000],
                payload={
                    "task_id": task_id,
                    "kwargs": kwargs,
                    "where": traceback.format_exception_only(error)[-1].strip()[:500],
                },
                attempts=1,
                created_at=utcnow(),
                last_attempt_at=utcnow(),
            )
        )
