"""One shared read for many campaigns: what each run would have read alone, in one
Composite API call per 100 campaigns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sf_helpers import seed_campaign, seed_small_campaigns

from convsync.salesforce import shared_read
from convsync.salesforce.gateway import SalesforceGateway
from convsync.salesforce.records import CampaignWindow
from convsync.salesforce.soql import to_18
from convsync.salesforce_emulator.testing import EmulatorHandle

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
MISSING_CAMPAIGN = to_18("701Hs0999999999")


def _later() -> datetime:
    return datetime.now(UTC) + timedelta(hours=1)


def _windows(*campaign_ids: str, since: datetime = LONG_AGO) -> list[CampaignWindow]:
    return [CampaignWindow(cid, since, _later()) for cid in campaign_ids]


def test_existence_changes_statuses_and_reach_of_three_campaigns_cost_one_call(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    spring, autumn = (seed_campaign(org, name=n, members=3) for n in ("Spring", "Autumn"))
    org.admin.reset_counters()

    read = gateway.read_campaigns(_windows(spring["id"], autumn["id"], MISSING_CAMPAIGN))

    assert read.present == {spring["id"], autumn["id"]}
    assert {cid: len(rows) for cid, rows in read.changes.items()} == {
        spring["id"]: 3,
        autumn["id"]: 3,
    }
    assert [s.label for s in read.statuses[spring["id"]]] == ["Sent", "Opened", "Clicked"]
    assert read.reach.earliest_date_available < read.reach.latest_date_covered
    assert read.cut_short == frozenset()
    assert org.admin.counters()["by_endpoint"] == {"composite": 1}


def test_each_campaigns_changes_start_after_its_own_bookmark(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    quiet, busy = (seed_campaign(org, name=n, members=2) for n in ("quiet", "busy"))
    after_quiet = max(
        m.system_modstamp
        for m in gateway.iter_members(quiet["id"], since=None, until=_later())
        if m.system_modstamp
    ) + timedelta(seconds=1)

    read = gateway.read_campaigns(
        [
            CampaignWindow(quiet["id"], after_quiet, _later()),
            CampaignWindow(busy["id"], LONG_AGO, _later()),
        ]
    )

    assert list(read.changes) == [busy["id"]]


def test_each_campaigns_changes_stop_at_its_own_bound(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    early, late = (seed_campaign(org, name=n, members=2) for n in ("early", "late"))
    before_early = min(
        m.system_modstamp
        for m in gateway.iter_members(early["id"], since=None, until=_later())
        if m.system_modstamp
    ) - timedelta(seconds=1)

    read = gateway.read_campaigns(
        [
            CampaignWindow(early["id"], LONG_AGO, before_early),
            CampaignWindow(late["id"], LONG_AGO, _later()),
        ]
    )

    assert list(read.changes) == [late["id"]]


def test_removed_members_come_with_the_changes(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    campaign = seed_campaign(org, members=2)
    gone = next(gateway.iter_members(campaign["id"], since=None, until=_later())).id
    assert gateway.delete_members([gone])[0].ok

    read = gateway.read_campaigns(_windows(campaign["id"]))

    assert {m.id: m.is_deleted for m in read.changes[campaign["id"]]}[gone] is True


def test_statuses_are_read_only_for_campaigns_that_ask(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    campaign = seed_campaign(org, members=1)
    read = gateway.read_campaigns([CampaignWindow(campaign["id"], LONG_AGO, _later(), False)])
    assert read.statuses == {}
    assert read.present == {campaign["id"]}


def test_changes_past_a_page_are_read_on_the_next_pages(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    spring, autumn = (seed_campaign(org, name=n, members=2_500) for n in ("Spring", "Autumn"))
    org.admin.reset_counters()

    read = gateway.read_campaigns(_windows(spring["id"], autumn["id"]))

    assert sum(len(rows) for rows in read.changes.values()) == 5_000
    assert len({m.id for rows in read.changes.values() for m in rows}) == 5_000
    assert org.admin.counters()["total"] == 3  # the composite, then a page of each slice


def test_a_read_past_its_row_cap_stops_and_names_the_campaigns_cut_short(
    org: EmulatorHandle, gateway: SalesforceGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shared_read, "MAX_SHARED_ROWS", 2_000)
    busy = seed_campaign(org, name="busy", members=4_500)
    quiet = seed_campaign(org, name="quiet", members=10)

    read = gateway.read_campaigns(_windows(busy["id"], quiet["id"]))

    assert read.cut_short == {busy["id"]}
    assert len(read.changes[busy["id"]]) == 2_000
    assert len(read.changes[quiet["id"]]) == 10
    # Oldest first: what was read of `busy` is all it has up to its last stamp.
    last = max(m.system_modstamp for m in read.changes[busy["id"]] if m.system_modstamp)
    every = gateway.iter_members(busy["id"], since=None, until=_later())
    older = {m.id for m in every if m.system_modstamp and m.system_modstamp < last}
    assert older <= {m.id for m in read.changes[busy["id"]]}


def test_a_composite_call_brings_the_first_page_of_each_slice_of_campaigns(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    campaigns = [seed_campaign(org, name=f"C{i}", members=1_500) for i in range(3)]
    org.admin.reset_counters()

    read = gateway.read_campaigns(_windows(*(c["id"] for c in campaigns)))

    assert sum(len(rows) for rows in read.changes.values()) == 4_500
    assert org.admin.counters()["by_endpoint"] == {"composite": 1}


def test_two_hundred_and_fifty_campaigns_take_three_calls(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    ids = seed_small_campaigns(org, 250)
    org.admin.reset_counters()

    read = gateway.read_campaigns(_windows(*ids))

    assert read.present == set(ids)
    assert set(read.changes) == set(ids)
    assert org.admin.counters()["by_endpoint"] == {"composite": 3}
