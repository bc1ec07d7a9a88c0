"""Inbound: Salesforce's members and their changes come into Conversion."""

from __future__ import annotations

from convsync.salesforce.records import MemberChange
from convsync.sync import linking
from tests.usecases.conftest import CAMPAIGN, Scene


def linked(scene: Scene) -> None:
    linking.link_existing(scene.ctx, CAMPAIGN, scene.sf_campaign)
    scene.run_tasks()


def test_the_initial_sync_brings_salesforce_members_into_conversion(scene: Scene) -> None:
    ann = scene.salesforce.add_contact("ann@example.com")
    scene.salesforce.add_member(scene.sf_campaign, ann, "Registered")
    linked(scene)
    assert scene.conversion_members() == {"ann@example.com": "Registered"}


def test_a_status_changed_in_salesforce_reaches_conversion(scene: Scene) -> None:
    ann = scene.salesforce.add_contact("ann@example.com")
    member = scene.salesforce.add_member(scene.sf_campaign, ann, "Invited")
    linked(scene)
    scene.salesforce.update_members([MemberChange(member, "Attended")])
    scene.tick()
    assert scene.conversion_members() == {"ann@example.com": "Attended"}


def test_a_member_removed_in_salesforce_is_removed_in_conversion(scene: Scene) -> None:
    ann = scene.salesforce.add_contact("ann@example.com")
    member = scene.salesforce.add_member(scene.sf_campaign, ann, "Invited")
    linked(scene)
    assert scene.conversion_members() == {"ann@example.com": "Invited"}
    scene.salesforce.delete_members([member])
    scene.tick()
    assert scene.conversion_members() == {}
