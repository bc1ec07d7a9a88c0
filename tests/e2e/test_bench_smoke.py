"""`convsync bench`: a small real run (shape and ratios, never a time threshold) and its
one-line refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psycopg
import pytest
from typer.testing import CliRunner

from convsync.cli.app import app
from tests.support.services import PG_ADMIN_URL

SCENARIOS = (
    "initial",
    "idle_tick",
    "incremental",
    "many_campaigns",
    "incremental_many",
    "post_push_tick",
)
REQUIRED = (
    "members",
    "campaigns",
    "seconds",
    "api_calls",
    "floor_seconds",
    "floor_api_calls",
    "floor_kind",
    "time_ratio",
    "api_ratio",
    "peak_worker_rss_mb",
)


def bench_environment() -> dict[str, str]:
    """No CONVSYNC_* of the test session: the bench makes and removes its own services."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVSYNC_")}
    env["CONVSYNC_BENCH_PG_ADMIN_URL"] = PG_ADMIN_URL
    return env


def databases_named(prefix: str) -> list[str]:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (f"{prefix}%",)
        ).fetchall()
    return [str(name) for (name,) in rows]


@pytest.mark.e2e
def test_bench_reports_every_scenario_against_its_floor_and_cleans_up() -> None:
    bench = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "convsync.cli",
            "bench",
            "--members",
            "1000",
            "--campaigns",
            "5",
            "--json",
        ],
        env=bench_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # A bound, not a figure: about 40 s on a quiet machine, more beside other test runs.
    out, err = bench.communicate(timeout=280)  # under pytest-timeout's 300 s
    assert bench.returncode == 0, err[-3000:]

    report = json.loads(out)
    assert report["machine"]["cpus"] == os.cpu_count()
    scenarios = report["scenarios"]
    assert set(SCENARIOS) <= set(scenarios)
    for name, figures in scenarios.items():
        assert all(key in figures for key in REQUIRED), name
        assert figures["time_ratio"] == round(figures["seconds"] / figures["floor_seconds"], 2)
        assert figures["api_ratio"] == round(figures["api_calls"] / figures["floor_api_calls"], 2)
        assert figures["peak_worker_rss_mb"] > 0
    assert scenarios["initial"]["members"] == 1000
    assert scenarios["initial"]["write_path"] == "collections"  # below the threshold
    # Every member of the initial sync has its decision kept, and what that costs.
    assert scenarios["initial"]["decisions"] >= 1000
    assert scenarios["initial"]["decision_write_us_each"] > 0
    assert scenarios["initial_bulk"]["write_path"] == "bulk"  # the variant, threshold 200
    # The floor writes the way the sync did, with the gateway's own calls.
    assert scenarios["initial"]["floor_kind"] == "collections"
    assert scenarios["initial_bulk"]["floor_kind"] == "bulk"
    assert (
        scenarios["initial"]["floor_moved"]["looked_up"]
        == scenarios["initial"]["floor_moved"]["leads"]
        > 0
    )
    assert scenarios["many_campaigns"]["campaigns"] == 5
    assert scenarios["idle_tick"]["due"] == 0
    # 1 % of the members changed on each side, over the linked campaigns; then one tick.
    assert scenarios["incremental_many"]["changed_per_side"] == 10
    assert scenarios["incremental_many"]["runs"] == 5
    assert scenarios["post_push_tick"]["campaigns"] == 5
    assert not databases_named(f"convsync_bench_{bench.pid}_")


def test_bench_refuses_a_database_that_is_not_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVSYNC_DATABASE_URL", "sqlite:///bench.sqlite")

    result = CliRunner().invoke(app, ["bench", "--members", "400", "--campaigns", "4"])

    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "error: convsync bench needs PostgreSQL: CONVSYNC_DATABASE_URL is not a postgresql:// "
        "URL (unset it to let the bench create a throwaway database on 127.0.0.1:5432)"
    ]


def test_bench_needs_enough_members_per_campaign() -> None:
    result = CliRunner().invoke(app, ["bench", "--members", "100", "--campaigns", "10"])

    assert result.exit_code == 1
    assert "--members must be at least 20 per campaign" in result.output
