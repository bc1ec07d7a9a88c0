"""`convsync status` asks the database the same few questions whatever the number of
linked campaigns: an org with a thousand campaigns gets its status in well under a second."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session, sessionmaker

from convsync.store.tables import (
    CampaignRow,
    CampaignTypeRow,
    ChunkRow,
    LinkRow,
    MemberRow,
    MemberSyncStateRow,
    PersonRow,
    RunRow,
    SkippedMemberRow,
    SyncErrorRow,
    TypeStatusRow,
    utcnow,
)
from convsync.workers import root
from tests.support.scenario import cli_json


def webinar(sessions: sessionmaker[Session]) -> tuple[int, list[int]]:
    """A campaign type and two people: (type id, person ids)."""
    with sessions.begin() as session:
        type_id = session.execute(
            insert(CampaignTypeRow).values(name="Webinar").returning(CampaignTypeRow.id)
        ).scalar_one()
        session.execute(
            insert(TypeStatusRow),
            [
                {"type_id": type_id, "label": label, "is_default": i == 0, "sort_order": i}
                for i, label in enumerate(("Invited", "Attended"))
            ],
        )
        people = session.scalars(
            insert(PersonRow).returning(PersonRow.id),
            [{"email": f"p{i}@example.com"} for i in range(2)],
        ).all()
    return type_id, list(people)


def linked_campaigns(sessions: sessionmaker[Session], numbers: range) -> None:
    """Linked campaigns, each with two members, a skip, a dead letter, and a run (every
    other one still open, with a chunk done and one pending)."""
    now = utcnow()
    type_id, people = webinar(sessions) if numbers.start == 0 else existing(sessions)
    with sessions.begin() as session:
        for i in numbers:
            campaign_id = session.execute(
                insert(CampaignRow)
                .values(name=f"Campaign {i:04}", type_id=type_id)
                .returning(CampaignRow.id)
            ).scalar_one()
            link_id = session.execute(
                insert(LinkRow)
                .values(
                    campaign_id=campaign_id,
                    salesforce_campaign_id=f"701{i:012}AAA",
                    mode="existing",
                    outbound_mark=now - timedelta(seconds=30),
                )
                .returning(LinkRow.id)
            ).scalar_one()
            session.execute(
                insert(MemberRow),
                [
                    {
                        "campaign_id": campaign_id,
                        "type_id": type_id,
                        "person_id": p,
                        "status": "Invited",
                    }
                    for p in people
                ],
            )
            session.execute(
                insert(MemberSyncStateRow),
                [{"link_id": link_id, "person_id": people[0], "synced": True, "status": "Invited"}],
            )
            session.execute(
                insert(SkippedMemberRow).values(
                    link_id=link_id, salesforce_member_id=f"00v{i:015}", reason="Clicked"
                )
            )
            session.execute(
                insert(SyncErrorRow).values(
                    link_id=link_id,
                    person_id=people[1],
                    direction="outbound",
                    code="STATUS_MISSING",
                    message=f"no status in campaign {i}",
                )
            )
            state = "running" if i % 2 else "succeeded"
            run_id = session.execute(
                insert(RunRow)
                .values(
                    link_id=link_id,
                    kind="scheduled",
                    state=state,
                    stage="outbound",
                    started_at=now,
                    counts={"pushed": 1},
                )
                .returning(RunRow.id)
            ).scalar_one()
            session.execute(
                insert(ChunkRow),
                [
                    {
                        "run_id": run_id,
                        "stage": "outbound",
                        "number": n,
                        "state": "done" if n == 0 else "pending",
                        "counts": {"pushed": 1},
                    }
                    for n in range(2)
                ],
            )


def existing(sessions: sessionmaker[Session]) -> tuple[int, list[int]]:
    with sessions() as session:
        type_id = session.scalars(select(CampaignTypeRow.id)).one()
        return type_id, list(session.scalars(select(PersonRow.id).order_by(PersonRow.id)))


@contextmanager
def counted_statements() -> Iterator[list[str]]:
    engine = root.adapters().engine
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def status_of_every_campaign() -> tuple[list[dict[str, Any]], int, float]:
    with counted_statements() as statements:
        started = time.perf_counter()
        shown = cli_json("status")
        seconds = time.perf_counter() - started
    return shown, len(statements), seconds


def test_status_makes_as_many_queries_for_a_thousand_campaigns_as_for_two(
    sessions: sessionmaker[Session],
) -> None:
    linked_campaigns(sessions, range(2))
    few, few_queries, _ = status_of_every_campaign()
    assert len(few) == 2

    linked_campaigns(sessions, range(2, 1_000))
    many, many_queries, seconds = status_of_every_campaign()

    assert len(many) == 1_000
    assert many_queries == few_queries
    assert seconds < 5.0, f"status of 1,000 campaigns took {seconds:.2f} s"
    print(f"\nstatus of 1,000 linked campaigns: {many_queries} queries, {seconds:.2f} s")  # noqa: T201


def test_status_figures_come_from_each_campaigns_own_rows(
    sessions: sessionmaker[Session],
) -> None:
    linked_campaigns(sessions, range(3))
    shown = {s["campaign"]: s for s in cli_json("status")}
    open_run = shown["Campaign 0001"]
    assert open_run["members_in_conversion"] == 2
    assert open_run["members_synced"] == 1
    assert open_run["skipped"] == 1
    assert open_run["dead_letters"] == 1
    assert open_run["last_error"] == "no status in campaign 1"
    assert open_run["last_run"]["counts"] == {"pushed": 2}  # live: summed over its chunks
    assert open_run["last_run"]["progress"] == {"outbound": [1, 2]}
    assert shown["Campaign 0000"]["last_run"]["counts"] == {"pushed": 1}  # final
    assert json.dumps(shown)  # plain JSON all the way down
