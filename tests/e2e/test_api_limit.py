"""The org's daily API limit reached mid-run: the run waits, keeps its work, resumes.

(When the budget does not come back, the run fails after its waits: the "API limit
reached mid-run" case of tests/integration/test_bad_input.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from convsync.salesforce_emulator.testing import EmulatorHandle
from tests.support.scenario import (
    WEBINAR_IN_SALESFORCE,
    cli,
    conversion_campaign,
    conversion_type,
    eventually,
    link_status,
    module_worker,
    salesforce_campaign,
    salesforce_members,
    succeeded_run,
)
from tests.support.workers import WorkerProcess

pytestmark = pytest.mark.e2e

WAITING = "waiting for the Salesforce API budget"


@pytest.fixture(scope="module", autouse=True)
def worker(
    salesforce_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    env = {**salesforce_env, "CONVSYNC_API_LIMIT_RETRY_SECONDS": "0.5"}
    with module_worker(env, tmp_path_factory.mktemp("api-limit")) as running:
        yield running


def day_used_up(org: EmulatorHandle) -> None:
    org.admin.set_limits(used=org.admin.counters()["api_usage"]["max"])


def waiting_run(campaign: str) -> dict[str, Any] | None:
    status = link_status(campaign)
    run = status["last_run"]
    waiting = run and run["state"] == "running" and WAITING in (status["last_error"] or "")
    return dict(run) if waiting else None


def test_a_run_that_reaches_the_api_limit_waits_and_then_finishes(org: EmulatorHandle) -> None:
    conversion_type()
    conversion_campaign("Spring", "Webinar", {"ann@example.com": "Invited"})
    sf = salesforce_campaign(org, "Spring SF", WEBINAR_IN_SALESFORCE, [])
    cli("link", "Spring", "--salesforce-campaign", sf["id"])
    first = succeeded_run("Spring")
    cli("members", "set", "Spring", "ann@example.com", "Attended")
    day_used_up(org)

    cli("sync", "Spring")
    waiting = eventually(lambda: waiting_run("Spring"))
    org.admin.set_limits(used=0)  # the rolling 24 hours moved on

    run = succeeded_run("Spring", after=first["id"])
    assert run["id"] == waiting["id"]
    assert run["error"] is None
    assert salesforce_members(org, sf["id"]) == {"ann@example.com": "Attended"}
