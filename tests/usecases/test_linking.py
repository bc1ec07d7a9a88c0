"""Linking a campaign: the link, its initial sync, and what it refuses."""

from __future__ import annotations

import pytest

from convsync.domain.errors import LinkError
from convsync.sync import catalog, linking, reporting
from tests.usecases.conftest import CAMPAIGN, Scene


def test_linking_queues_the_initial_sync_and_the_sync_ends_succeeded(scene: Scene) -> None:
    result = linking.link_existing(scene.ctx, CAMPAIGN, scene.sf_campaign)
    scene.run_tasks()
    [run] = reporting.campaign_runs(scene.ctx, CAMPAIGN)
    assert (run.id, run.state) == (result.run_id, "succeeded")


def test_a_campaign_already_linked_cannot_be_linked_again(scene: Scene) -> None:
    linking.link_existing(scene.ctx, CAMPAIGN, scene.sf_campaign)
    other = scene.salesforce.add_campaign("Autumn SF")
    with pytest.raises(LinkError, match="already linked"):
        linking.link_existing(scene.ctx, CAMPAIGN, other)


def test_two_campaigns_cannot_share_one_salesforce_campaign(scene: Scene) -> None:
    linking.link_existing(scene.ctx, CAMPAIGN, scene.sf_campaign)
    catalog.create_campaign(scene.sessions, "Autumn", "Webinar")
    with pytest.raises(LinkError, match="already linked to another campaign"):
        linking.link_existing(scene.ctx, "Autumn", scene.sf_campaign)
