"""Dead letters: a member Salesforce refuses is recorded, listed, and replayed."""

from __future__ import annotations

from convsync.sync import catalog, dead_letters, linking
from tests.usecases.conftest import CAMPAIGN, Scene


def refused_bob(scene: Scene) -> None:
    """bob's initial push meets a validation rule of the org."""
    scene.salesforce.refused_emails.add("bob@example.com")
    catalog.add_member(scene.sessions, CAMPAIGN, "bob@example.com", "Invited")
    linking.link_existing(scene.ctx, CAMPAIGN, scene.sf_campaign)
    scene.run_tasks()


def test_a_member_salesforce_refuses_becomes_an_open_dead_letter(scene: Scene) -> None:
    refused_bob(scene)
    [letter] = dead_letters.list_dead_letters(scene.ctx, CAMPAIGN)
    assert (letter.email, letter.code, letter.resolved_at) == (
        "bob@example.com",
        "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        None,
    )
    assert scene.salesforce.live_members(scene.sf_campaign) == {}


def test_a_replay_after_the_cause_is_fixed_lands_the_member_and_resolves_it(
    scene: Scene,
) -> None:
    refused_bob(scene)
    scene.salesforce.refused_emails.clear()
    for link_id in dead_letters.links_to_replay(scene.ctx, campaign_name=CAMPAIGN):
        dead_letters.replay_link(scene.ctx, link_id)
    scene.run_tasks()
    assert scene.salesforce.live_members(scene.sf_campaign) == {"bob@example.com": "Invited"}
    assert dead_letters.list_dead_letters(scene.ctx, CAMPAIGN) == []


def test_purge_deletes_resolved_letters_only(scene: Scene) -> None:
    refused_bob(scene)
    assert dead_letters.purge(scene.ctx, CAMPAIGN) == 0
    assert len(dead_letters.list_dead_letters(scene.ctx, CAMPAIGN)) == 1
