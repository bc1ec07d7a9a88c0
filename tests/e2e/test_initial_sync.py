"""Linking: the initial two-way sync, with real workers, Redis, PostgreSQL and the emulator."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from convsync.salesforce_emulator.testing import EmulatorHandle
from tests.support.scenario import cli, eventually, salesforce_campaign, salesforce_members
from tests.support.workers import WorkerProcess

pytestmark = pytest.mark.e2e

WEBINAR = [("Invited", True, False), ("Registered", False, False), ("Attended", False, True)]


def members_here(campaign: str) -> dict[str, str]:
    return {m["email"]: m["status"] for m in json.loads(cli("members", "list", campaign, "--json"))}


def last_run_state(campaign: str) -> str | None:
    [status] = json.loads(cli("status", campaign, "--json"))
    run = status["last_run"]
    return run["state"] if run and run["state"] in ("succeeded", "failed") else None


def test_link_later_imports_then_pushes_both_ways(
    org: EmulatorHandle, start_worker: Callable[..., WorkerProcess]
) -> None:
    cli("types", "create", "Webinar", "-s", "Invited", "-s", "Registered", "-s", "Attended")
    cli("campaigns", "create", "Spring", "--type", "Webinar")
    cli("members", "add", "Spring", "only-here@example.com", "Registered")
    sf = salesforce_campaign(org, "Spring SF", WEBINAR, [("only-there@example.com", "Attended")])
    start_worker()

    cli("link", "Spring", "--salesforce-campaign", sf["id"])

    assert eventually(lambda: last_run_state("Spring")) == "succeeded"
    assert members_here("Spring") == {
        "only-here@example.com": "Registered",
        "only-there@example.com": "Attended",
    }
    assert salesforce_members(org, sf["id"]) == members_here("Spring")
