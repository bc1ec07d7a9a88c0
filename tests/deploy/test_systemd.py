"""deploy/systemd: units read as systemd reads them (and verified by systemd-analyze)."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from convsync.celeryconfig import QUEUES
from tests.deploy.recipes import ALL_QUEUES, DEPLOY, convsync_args, option, parse_cli

UNITS = DEPLOY / "systemd"
SERVICES = sorted(UNITS.glob("*.service"))
ENVIRONMENT_FILE = "/etc/convsync/convsync.env"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string((UNITS / name).read_text())
    return parser


def exec_start(name: str, instance: str = "members") -> list[str]:
    """ExecStart's convsync arguments, with the specifiers systemd would expand."""
    line = unit(name)["Service"]["ExecStart"].replace("%i", instance).replace("%H", "host")
    return convsync_args(line)


@pytest.mark.parametrize("path", SERVICES, ids=lambda p: p.name)
def test_every_service_reads_its_secrets_from_the_environment_file(path: Path) -> None:
    service = unit(path.name)["Service"]
    assert service["EnvironmentFile"] == ENVIRONMENT_FILE
    assert "Environment" not in service  # nothing set inline, secret or not
    assert service["User"] == "convsync"
    assert parse_cli(exec_start(path.name))


def test_a_worker_instance_serves_the_queue_it_is_named_after() -> None:
    for role, queue in QUEUES.items():
        args = exec_start("convsync-worker@.service", instance=role)
        assert parse_cli(args) == ["worker"]
        assert option(args, "--queues") == queue
        assert option(args, "--hostname") == f"{role}@host"
    assert {f"convsync.{role}" for role in QUEUES} == ALL_QUEUES


def test_workers_shut_down_warm_and_come_back() -> None:
    service = unit("convsync-worker@.service")["Service"]
    assert service["KillMode"] == "mixed"  # SIGTERM to the main process, not the pool
    assert service["Restart"] == "always"


def test_beat_is_a_single_unit_not_a_template() -> None:
    assert parse_cli(exec_start("convsync-beat.service")) == ["beat"]
    assert not any("beat@" in path.name for path in SERVICES)


def test_flower_binds_to_loopback_and_needs_its_login() -> None:
    args = exec_start("convsync-flower.service")
    assert option(args, "--address") == "127.0.0.1"
    assert "--insecure-local" not in args


def test_migrations_run_once_before_workers_and_beat() -> None:
    migrate = unit("convsync-migrate.service")["Service"]
    assert migrate["Type"] == "oneshot"
    assert parse_cli(exec_start("convsync-migrate.service")) == ["db", "upgrade"]
    for name in ("convsync-worker@.service", "convsync-beat.service"):
        assert "convsync-migrate.service" in unit(name)["Unit"]["After"].split()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not here")
def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    # Verify copies whose ExecStart points at this checkout's convsync (it must exist).
    convsync = Path(sys.executable).with_name("convsync")
    for path in UNITS.iterdir():
        text = path.read_text().replace("/opt/convsync/bin/convsync", str(convsync))
        name = path.name.replace("@.service", "@members.service")
        (tmp_path / name).write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
