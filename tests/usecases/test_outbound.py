"""Outbound: Conversion's members and their changes reach Salesforce."""

from __future__ import annotations

import pytest

from convsync.domain.model import MemberStatus
from convsync.store import pending_pushes
from convsync.sync import catalog, linking
from tests.usecases.conftest import CAMPAIGN, Scene


def linked(scene: Scene) -> None:
    linking.link_existing(scene.ctx, CAMPAIGN, scene.sf_campaign)
    scene.run_tasks()


def test_a_conversion_member_unknown_to_salesforce_lands_as_a_new_lead(scene: Scene) -> None:
    catalog.add_member(scene.sessions, CAMPAIGN, "bob@example.com", "Registered")
    linked(scene)
    assert scene.salesforce.live_members(scene.sf_campaign) == {"bob@example.com": "Registered"}
    [lead] = scene.salesforce.people.values()
    assert (lead.kind, lead.email) == ("Lead", "bob@example.com")


def test_a_conversion_member_who_is_a_contact_joins_as_that_contact(scene: Scene) -> None:
    carol = scene.salesforce.add_contact("carol@example.com")
    catalog.add_member(scene.sessions, CAMPAIGN, "carol@example.com", "Invited")
    linked(scene)
    [member] = scene.salesforce.members.values()
    assert (member.contact_id, member.status) == (carol.id, "Invited")


def test_an_edit_in_conversion_reaches_salesforce_at_the_next_tick(scene: Scene) -> None:
    catalog.add_member(scene.sessions, CAMPAIGN, "bob@example.com", "Invited")
    linked(scene)
    catalog.add_member(scene.sessions, CAMPAIGN, "bob@example.com", "Attended")
    scene.tick()
    assert scene.salesforce.live_members(scene.sf_campaign) == {"bob@example.com": "Attended"}


def test_a_member_removed_in_conversion_is_removed_from_salesforce(scene: Scene) -> None:
    catalog.add_member(scene.sessions, CAMPAIGN, "bob@example.com", "Invited")
    linked(scene)
    catalog.remove_member(scene.sessions, CAMPAIGN, "bob@example.com")
    scene.tick()
    assert scene.salesforce.live_members(scene.sf_campaign) == {}


def test_a_run_with_nothing_to_push_reads_no_statuses(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog.add_member(scene.sessions, CAMPAIGN, "bob@example.com", "Invited")
    linked(scene)
    dan = scene.salesforce.add_contact("dan@example.com")
    scene.salesforce.add_member(scene.sf_campaign, dan, "Registered")
    reads = counted(scene, monkeypatch)

    scene.tick()

    assert scene.conversion_members()["dan@example.com"] == "Registered"
    assert reads == []


def test_an_edit_made_while_the_stage_is_planned_is_checked_against_the_statuses(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog.add_member(scene.sessions, CAMPAIGN, "bob@example.com", "Invited")
    linked(scene)
    reads = counted(scene, monkeypatch)
    catalog.add_member(scene.sessions, CAMPAIGN, "bob@example.com", "Attended")
    # The look before planning saw nothing to push; the edit landed right after it.
    monkeypatch.setattr(pending_pushes, "has_push_candidates", lambda *_: False)

    scene.tick()

    assert scene.salesforce.live_members(scene.sf_campaign) == {"bob@example.com": "Attended"}
    assert reads == [scene.sf_campaign]


def counted(scene: Scene, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The Salesforce campaigns whose statuses are read from now on."""
    reads: list[str] = []
    read = scene.salesforce.campaign_statuses

    def counting(campaign_id: str) -> list[tuple[str, MemberStatus]]:
        reads.append(campaign_id)
        return read(campaign_id)

    monkeypatch.setattr(scene.salesforce, "campaign_statuses", counting)
    return reads
