"""The schedule: a linked campaign is synced when either side changed, not otherwise."""

from __future__ import annotations

from convsync.sync import catalog, linking, schedule
from tests.usecases.conftest import CAMPAIGN, Scene


def linked(scene: Scene) -> None:
    linking.link_existing(scene.ctx, CAMPAIGN, scene.sf_campaign)
    scene.run_tasks()


def test_a_tick_with_no_change_on_either_side_starts_no_run(scene: Scene) -> None:
    linked(scene)
    report = schedule.dispatch_due_syncs(scene.ctx)
    assert (report.linked, report.started) == (1, 0)
    assert scene.dispatcher.queue == []


def test_a_change_in_salesforce_makes_the_link_due(scene: Scene) -> None:
    linked(scene)
    ann = scene.salesforce.add_contact("ann@example.com")
    scene.salesforce.add_member(scene.sf_campaign, ann, "Invited")
    assert schedule.dispatch_due_syncs(scene.ctx).started == 1


def test_an_edit_in_conversion_makes_the_link_due(scene: Scene) -> None:
    linked(scene)
    catalog.add_member(scene.sessions, CAMPAIGN, "bob@example.com", "Invited")
    assert schedule.dispatch_due_syncs(scene.ctx).started == 1
