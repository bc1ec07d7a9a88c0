"""The update pool: member updates of many runs go out together, and a pooled update
that does not land is written again by its own chunk."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from convsync.domain.errors import TransientSalesforceError
from convsync.domain.outcomes import RecordResult
from convsync.salesforce.records import MemberChange
from convsync.sync import catalog, reporting, update_pool
from tests.usecases.conftest import AUTUMN, CAMPAIGN, Scene, spring_and_autumn_linked


def ann_attends_both(scene: Scene) -> None:
    for campaign in (CAMPAIGN, AUTUMN):
        catalog.add_member(scene.sessions, campaign, "ann@example.com", "Attended")


def run_states(scene: Scene) -> set[str]:
    return {r.state for c in (CAMPAIGN, AUTUMN) for r in reporting.campaign_runs(scene.ctx, c)}


def test_updates_of_two_runs_go_out_in_one_call(scene: Scene) -> None:
    sf_autumn = spring_and_autumn_linked(scene)
    ann_attends_both(scene)
    scene.tick()
    assert scene.salesforce.live_members(scene.sf_campaign) == {"ann@example.com": "Attended"}
    assert scene.salesforce.live_members(sf_autumn) == {"ann@example.com": "Attended"}
    assert scene.salesforce.writes["update_members"] == 1
    assert run_states(scene) == {"succeeded"}


def test_with_no_linger_each_run_writes_its_own(scene: Scene) -> None:
    sf_autumn = spring_and_autumn_linked(scene)
    scene.ctx = replace(
        scene.ctx, options=replace(scene.ctx.options, update_pool_linger=timedelta())
    )
    ann_attends_both(scene)
    scene.tick()
    assert scene.salesforce.live_members(sf_autumn) == {"ann@example.com": "Attended"}
    assert scene.salesforce.writes["update_members"] == 2


def test_a_new_member_is_written_by_its_own_chunk(scene: Scene) -> None:
    spring_and_autumn_linked(scene)
    catalog.add_member(scene.sessions, CAMPAIGN, "bob@example.com", "Registered")
    scene.tick()
    assert scene.salesforce.live_members(scene.sf_campaign)["bob@example.com"] == "Registered"
    assert scene.salesforce.writes["update_members"] == 0


def test_pooled_updates_salesforce_refuses_are_written_again_by_their_chunks(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    sf_autumn = spring_and_autumn_linked(scene)
    ann_attends_both(scene)
    write = scene.salesforce.update_members
    refused: list[int] = []

    def refuse_once(rows: list[MemberChange], *, use_bulk: bool = False) -> list[RecordResult]:
        if not refused:
            refused.append(len(rows))
            raise TransientSalesforceError("Salesforce is busy")
        return write(rows, use_bulk=use_bulk)

    monkeypatch.setattr(scene.salesforce, "update_members", refuse_once)
    scene.tick()
    assert refused == [2]
    assert scene.salesforce.live_members(scene.sf_campaign) == {"ann@example.com": "Attended"}
    assert scene.salesforce.live_members(sf_autumn) == {"ann@example.com": "Attended"}
    assert run_states(scene) == {"succeeded"}


def test_pooled_updates_that_landed_before_a_failure_are_not_written_twice(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    spring_and_autumn_linked(scene)
    ann_attends_both(scene)
    write = scene.salesforce.update_members
    landed: list[int] = []

    def land_then_fail(rows: list[MemberChange], *, use_bulk: bool = False) -> list[RecordResult]:
        results = write(rows, use_bulk=use_bulk)
        if not landed:
            landed.append(len(rows))
            raise TransientSalesforceError("the connection dropped after the write")
        return results

    monkeypatch.setattr(scene.salesforce, "update_members", land_then_fail)
    scene.tick()
    assert landed == [2]
    # Each chunk read its members back, found them written, and wrote nothing more.
    assert scene.salesforce.writes["update_members"] == 1
    assert run_states(scene) == {"succeeded"}


def test_a_chunk_with_a_collections_worth_of_updates_writes_its_own(scene: Scene) -> None:
    spring_and_autumn_linked(scene)
    emails = [f"p{n}@example.com" for n in range(update_pool.FLUSH_LEAST)]
    for email in emails:
        scene.salesforce.add_member(
            scene.sf_campaign, scene.salesforce.add_contact(email), "Invited"
        )
    scene.tick()
    for email in emails:
        catalog.add_member(scene.sessions, CAMPAIGN, email, "Attended")
    scene.salesforce.writes.clear()
    scene.dispatcher.flushes_asked = 0
    scene.tick()
    live = scene.salesforce.live_members(scene.sf_campaign)
    assert {live[email] for email in emails} == {"Attended"}
    assert scene.dispatcher.flushes_asked == 0
    assert scene.salesforce.writes["update_members"] == 1
    assert run_states(scene) == {"succeeded"}
