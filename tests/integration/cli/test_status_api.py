"""`convsync status --api` at its boundaries: the default budget read from the org's
`limits`, a usage error, and a clear line when there is no Redis to count in."""

from __future__ import annotations

import pytest
import redis
from typer.testing import CliRunner

from convsync.cli.app import app
from convsync.salesforce.usage import PREFIX
from convsync.salesforce_emulator.testing import EmulatorHandle
from convsync.workers import root
from tests.support.scenario import cli_fails, cli_json

runner = CliRunner()


@pytest.fixture
def no_calls_yet(org: EmulatorHandle, redis_url: str) -> EmulatorHandle:
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{PREFIX}:*"))
    if keys:
        client.delete(*keys)
    return org


def test_without_a_setting_the_budget_is_half_the_orgs_daily_limit_read_from_limits(
    no_calls_yet: EmulatorHandle,
) -> None:
    org_limit = no_calls_yet.admin.counters()["api_usage"]["max"]

    report = cli_json("status", "--api")

    assert report["budget"] == org_limit // 2
    assert report["by_purpose"]["limits"] == 1
    assert report["campaigns"] == [
        {
            "campaign": "-",
            "calls": {**dict.fromkeys(report["by_purpose"], 0), "limits": 1},
            "total": 1,
        }
    ]
    assert report["paused"] is False


def test_status_api_takes_no_campaign(org: EmulatorHandle) -> None:
    result = runner.invoke(app, ["status", "Spring", "--api"])

    assert result.exit_code == 2
    assert "--api shows every campaign" in result.output


def test_without_redis_status_api_says_what_to_set(
    org: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The embedded mode: no Redis configured, so the composition root counts nothing.
    monkeypatch.setattr(root.Adapters, "api_usage", property(lambda _: None))

    output = cli_fails("status", "--api")

    assert "set CONVSYNC_REDIS_URL" in output
    assert "Traceback" not in output
