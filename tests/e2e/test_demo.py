"""`convsync demo`: the whole product on one machine, run as a user runs it.

The demo runs a smaller story here (`--members 200`), through the same code path:
emulator, worker and beat processes, linking through the use cases, beat's cadence.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.support.logs import json_events
from tests.support.scenario import cli, cli_json, eventually

pytestmark = pytest.mark.e2e

MEMBERS = "200"
CAMPAIGNS_LINKED = {"Spring Webinar", "Product Launch", "Partner Roadshow"}


@dataclass(frozen=True)
class DemoRun:
    where: Path
    returncode: int
    stdout: str
    stderr: str

    @property
    def data(self) -> Path:
        return self.where / ".convsync" / "demo"


def fresh_machine() -> dict[str, str]:
    """The environment without CONVSYNC_* (session fixtures set some): the embedded default."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CONVSYNC_")}


def demo_command() -> list[str]:
    return [sys.executable, "-m", "convsync.cli", "demo", "--members", MEMBERS, "--timeout", "90"]


def run_demo(where: Path, env: Mapping[str, str]) -> DemoRun:
    done = subprocess.run(
        demo_command(),
        cwd=where,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    return DemoRun(where, done.returncode, done.stdout, done.stderr)


def processes_in(where: Path) -> list[str]:
    """Command lines of processes working in `where` (the demo and all it started)."""
    found = []
    for process in psutil.process_iter(["cwd", "cmdline"]):
        cwd = process.info.get("cwd")
        if cwd and Path(cwd).is_relative_to(where):
            found.append(" ".join(process.info.get("cmdline") or []))
    return found


def leftovers(where: Path) -> list[str]:
    """Processes still in `where` once they had a few seconds to go."""
    deadline = time.monotonic() + 10
    while (found := processes_in(where)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


@pytest.fixture(scope="module")
def embedded_demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """One demo run on a fresh machine's defaults, shared by the tests that read its results."""
    return run_demo(tmp_path_factory.mktemp("demo"), fresh_machine())


def test_the_demo_syncs_the_story_and_exits_0(embedded_demo: DemoRun) -> None:
    out = embedded_demo.stdout

    assert embedded_demo.returncode == 0, out + embedded_demo.stderr
    for shown in (
        "embedded: SQLite + SQLAlchemy broker",
        "What the sync did",
        "Skipped (Salesforce members not imported",
        "Dead letters (Conversion members not pushed",
        "Salesforce API calls spent:",
        "every count matches the story",
        "Conversion now has",
        "Salesforce now has",
        "as 'Attended - Roadshow', the mapped label",
        "`convsync mapping set` 'Attended' ↔ 'Attended - Roadshow'",
        "imported (conflict)",
        "both sides changed: the later change wins",
        "Prometheus, from the worker's http://127.0.0.1:",
        "worker, beat and emulator stopped",
    ):
        assert shown in out
    assert "Traceback" not in out + embedded_demo.stderr


def test_the_demo_stops_every_process_it_started(embedded_demo: DemoRun) -> None:
    emulator_pid = json.loads((embedded_demo.data / "emulator.json").read_text())["pid"]

    assert leftovers(embedded_demo.where) == []
    assert not psutil.pid_exists(emulator_pid)


def status_after(demo: DemoRun, *args: str) -> str:
    """`convsync status` on the demo's database (a wide "terminal": no wrapped names)."""
    env = {
        **fresh_machine(),
        "CONVSYNC_DATABASE_URL": f"sqlite:///{demo.data / 'convsync.sqlite'}",
        "COLUMNS": "200",
    }
    done = subprocess.run(
        [sys.executable, "-m", "convsync.cli", "status", *args],
        cwd=demo.where,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_status_shows_every_linked_campaign_with_its_numbers(embedded_demo: DemoRun) -> None:
    found = {s["campaign"]: s for s in json.loads(status_after(embedded_demo, "--json"))}

    assert set(found) == CAMPAIGNS_LINKED
    for status in found.values():
        assert status["state"] == "active"
        assert status["last_run"]["state"] == "succeeded"
        assert 0 <= status["lag_seconds"] < 600
        assert status["members_in_conversion"] > 0
        assert status["members_in_salesforce"] > 0
    assert found["Spring Webinar"]["skipped"] > 0
    assert found["Partner Roadshow"]["dead_letters"] > 0
    assert "Waitlisted" in found["Partner Roadshow"]["last_error"]


def test_status_table_lists_the_linked_campaigns(embedded_demo: DemoRun) -> None:
    table = status_after(embedded_demo)

    for heading in ("state", "last run", "lag", "here / SF", "skipped", "dead", "last error"):
        assert heading in table
    for campaign in CAMPAIGNS_LINKED:
        assert campaign in table


def test_the_demo_worker_logs_say_which_campaign_run_stage_and_task(
    embedded_demo: DemoRun,
) -> None:
    log = (embedded_demo.data / "logs" / "worker.log").read_text()

    for stage in ("inbound", "outbound"):
        lines = json_events(log, f"{stage} chunk applied")
        assert lines, f"no {stage} chunk in the worker log"
        for line in lines:
            assert line["stage"] == stage
            assert isinstance(line["campaign_id"], int)
            assert isinstance(line["run_id"], int)
            assert line["task_id"]


def test_the_demo_logs_hold_no_credential(embedded_demo: DemoRun) -> None:
    credentials: dict[str, Any] = json.loads(
        (embedded_demo.data / "emulator-credentials.json").read_text()
    )
    secrets = [credentials[k] for k in ("password", "security_token", "client_secret")]
    logs = "".join(p.read_text() for p in (embedded_demo.data / "logs").iterdir())

    assert [s for s in secrets if s in logs + embedded_demo.stdout] == []
    assert re.search(r"00D[A-Za-z0-9]{12,15}!", logs) is None


def test_ctrl_c_stops_the_demo_and_all_it_started_without_a_traceback(tmp_path: Path) -> None:
    output = tmp_path / "output.txt"
    env = {**fresh_machine(), "PYTHONUNBUFFERED": "1"}
    with output.open("w") as sink:
        demo = subprocess.Popen(demo_command(), cwd=tmp_path, env=env, stdout=sink, stderr=sink)
        try:
            eventually(lambda: "Linking" in output.read_text(), timeout=90)
            demo.send_signal(signal.SIGINT)
            code = demo.wait(timeout=60)
        finally:
            if demo.poll() is None:
                demo.kill()

    text = output.read_text()
    assert code == 130, text
    assert "interrupted: every process the demo started is stopped" in text
    assert "Traceback" not in text
    assert leftovers(tmp_path) == []


@pytest.fixture
def scratch_services(
    service_env: dict[str, str], sessions: sessionmaker[Session]
) -> dict[str, str]:
    """This run's PostgreSQL (emptied) and Redis (nothing left queued) for a demo."""
    from convsync.workers.app import app

    app.control.purge()
    return {**fresh_machine(), **service_env}


def test_the_demo_runs_on_postgresql_and_redis_when_pointed_at_them(
    tmp_path: Path, scratch_services: dict[str, str]
) -> None:
    done = run_demo(tmp_path, scratch_services)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "on the services CONVSYNC_* points at" in done.stdout
    assert "every count matches the story" in done.stdout
    linked = {s["campaign"]: s["last_run"]["state"] for s in cli_json("status")}
    assert linked == dict.fromkeys(CAMPAIGNS_LINKED, "succeeded")
    assert not (tmp_path / ".convsync" / "demo" / "convsync.sqlite").exists()
    assert leftovers(tmp_path) == []


def test_the_demo_refuses_a_database_that_is_not_empty(
    tmp_path: Path, scratch_services: dict[str, str]
) -> None:
    cli("types", "create", "Existing", "--status", "Invited")

    done = run_demo(tmp_path, scratch_services)

    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: the database at CONVSYNC_DATABASE_URL is not empty: point the demo at a "
        "scratch database (or unset it to use a throwaway SQLite file)"
    ]
    assert leftovers(tmp_path) == []
