"""The tick reads ahead: one shared read serves every run it starts, and a run the read
does not serve reads for itself, with the same outcome."""

from __future__ import annotations

from datetime import timedelta

import pytest

from convsync.domain.errors import TransientSalesforceError
from convsync.salesforce.records import CampaignWindow, MemberChange, SharedRead
from convsync.store.db import utcnow
from convsync.sync import catalog, read_ahead, reporting, schedule
from tests.usecases.conftest import AUTUMN, CAMPAIGN, Scene, spring_and_autumn_linked


def members_of(scene: Scene, campaign: str) -> dict[str, str | None]:
    return {m.email: m.status for m in catalog.list_members(scene.sessions, campaign)}


def join(scene: Scene, sf_campaign: str, email: str, status: str) -> str:
    return scene.salesforce.add_member(sf_campaign, scene.salesforce.add_contact(email), status)


def failed_runs(scene: Scene, campaign: str) -> list[str | None]:
    return [r.error for r in reporting.campaign_runs(scene.ctx, campaign) if r.state == "failed"]


def test_one_shared_read_serves_every_run_a_tick_starts(scene: Scene) -> None:
    sf_autumn = spring_and_autumn_linked(scene)
    join(scene, scene.sf_campaign, "bob@example.com", "Registered")
    join(scene, sf_autumn, "cy@example.com", "Attended")
    scene.tick()
    assert members_of(scene, CAMPAIGN) == {
        "ann@example.com": "Invited",
        "bob@example.com": "Registered",
    }
    assert members_of(scene, AUTUMN) == {"ann@example.com": "Invited", "cy@example.com": "Attended"}
    assert dict(scene.salesforce.reads) == {"read_campaigns": 1}


def test_a_campaign_gone_from_salesforce_fails_its_run_and_removes_nothing(scene: Scene) -> None:
    sf_autumn = spring_and_autumn_linked(scene)
    join(scene, sf_autumn, "cy@example.com", "Attended")
    scene.salesforce.delete_campaign(sf_autumn)
    scene.tick()
    assert members_of(scene, AUTUMN) == {"ann@example.com": "Invited"}
    [error] = failed_runs(scene, AUTUMN)
    assert "was deleted or is not visible" in str(error)
    assert scene.salesforce.reads["get_campaign"] == 0


def test_a_run_whose_bookmark_the_delete_log_no_longer_reaches_compares_on_its_own(
    scene: Scene,
) -> None:
    spring_and_autumn_linked(scene)
    join(scene, scene.sf_campaign, "bob@example.com", "Registered")
    scene.salesforce.earliest_available = utcnow() + timedelta(seconds=1)
    scene.tick()
    assert members_of(scene, CAMPAIGN) == {
        "ann@example.com": "Invited",
        "bob@example.com": "Registered",
    }
    assert scene.salesforce.reads["iter_members"] == 1  # the run's own whole compare


def test_a_shared_read_cut_short_is_carried_on_by_each_run(scene: Scene) -> None:
    sf_autumn = spring_and_autumn_linked(scene)
    for n in range(3):
        join(scene, scene.sf_campaign, f"s{n}@example.com", "Registered")
        join(scene, sf_autumn, f"a{n}@example.com", "Attended")
    scene.salesforce.shared_row_cap = 3
    scene.tick()
    assert len(members_of(scene, CAMPAIGN)) == 4
    assert len(members_of(scene, AUTUMN)) == 4
    assert scene.salesforce.reads["iter_members"] == 2  # each run read on from its rows


def test_a_shared_read_salesforce_refuses_leaves_each_run_to_read_alone(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    sf_autumn = spring_and_autumn_linked(scene)
    join(scene, sf_autumn, "cy@example.com", "Attended")

    def refuse(windows: list[CampaignWindow]) -> SharedRead:
        raise TransientSalesforceError("Salesforce is busy")

    monkeypatch.setattr(scene.salesforce, "read_campaigns", refuse)
    scene.tick()
    assert members_of(scene, AUTUMN) == {"ann@example.com": "Invited", "cy@example.com": "Attended"}
    assert scene.salesforce.reads["iter_members"] == 1


def test_pushes_are_checked_against_the_statuses_the_tick_read(scene: Scene) -> None:
    spring_and_autumn_linked(scene)
    catalog.add_member(scene.sessions, CAMPAIGN, "dee@example.com", "Attended")
    scene.tick()
    assert scene.salesforce.live_members(scene.sf_campaign)["dee@example.com"] == "Attended"
    assert scene.salesforce.reads["campaign_statuses"] == 0


def test_statuses_read_longer_than_a_lease_ago_are_read_again(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    spring_and_autumn_linked(scene)
    catalog.add_member(scene.sessions, CAMPAIGN, "dee@example.com", "Attended")
    schedule.dispatch_due_syncs(scene.ctx)
    later = utcnow() + scene.ctx.options.lease + timedelta(seconds=1)
    monkeypatch.setattr(read_ahead, "utcnow", lambda: later)
    scene.run_tasks()
    assert scene.salesforce.live_members(scene.sf_campaign)["dee@example.com"] == "Attended"
    assert scene.salesforce.reads["campaign_statuses"] == 1


def test_a_run_served_by_the_shared_read_moves_its_bookmark(scene: Scene) -> None:
    spring_and_autumn_linked(scene)
    member = join(scene, scene.sf_campaign, "bob@example.com", "Registered")
    scene.tick()
    scene.salesforce.update_members([MemberChange(member, "Attended")])
    scene.tick()
    assert members_of(scene, CAMPAIGN)["bob@example.com"] == "Attended"
    assert {r.state for r in reporting.campaign_runs(scene.ctx, CAMPAIGN)} == {"succeeded"}
    assert scene.salesforce.reads["iter_members"] == 0
