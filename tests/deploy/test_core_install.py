"""`pip install convsync` (no extras) is what production runs: workers and beat need no
emulator server stack and no psutil, and the commands that do need them say so."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from typer.testing import CliRunner

from convsync.cli import extras
from convsync.cli.app import app
from tests.support.beat import BeatProcess
from tests.support.workers import WorkerProcess

ROOT = Path(__file__).resolve().parents[2]
EMULATOR_EXTRA = extras.EXTRAS["emulator"]

# Installed as `sitecustomize` on the children's PYTHONPATH: any import of the emulator
# extra's modules fails as it would on a core install.
BLOCKER = f"""
import importlib.abc, sys

class _CoreInstall(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {set(EMULATOR_EXTRA)!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (core install)")
        return None

sys.meta_path.insert(0, _CoreInstall())
"""


def project() -> dict[str, object]:
    return dict(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"])


def requirement_names(requirements: list[str]) -> set[str]:
    return {Requirement(r).name.lower() for r in requirements}


def test_the_core_dependencies_leave_out_the_emulator_stack_and_psutil() -> None:
    core = requirement_names(list(project()["dependencies"]))  # type: ignore[call-overload]
    assert core.isdisjoint(EMULATOR_EXTRA)


def test_the_emulator_extra_brings_every_module_the_commands_check_for() -> None:
    optional = dict(project()["optional-dependencies"])  # type: ignore[call-overload]
    assert requirement_names(optional["emulator"]) == set(EMULATOR_EXTRA)


@pytest.fixture
def core_install(tmp_path: Path) -> dict[str, str]:
    """Environment for child processes that behave as if no extra were installed."""
    site = tmp_path / "core-install"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    return {"PYTHONPATH": f"{site}:{ROOT / 'src'}:{ROOT}"}


def test_the_children_really_miss_the_extra(core_install: dict[str, str]) -> None:
    probe = subprocess.run(
        [sys.executable, "-c", "import psutil"],
        env={**os.environ, **core_install},
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode == 1
    assert "core install" in probe.stderr


def test_a_worker_and_beat_run_without_the_emulator_extra(
    service_env: dict[str, str],
    core_install: dict[str, str],
    tmp_path: Path,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    worker = start_worker(name="core", concurrency=1, extra_env=core_install)
    cadence = {"CONVSYNC_SYNC_INTERVAL_SECONDS": "2"}
    beat = BeatProcess({**service_env, **core_install, **cadence}, tmp_path, name="core-beat")
    try:
        beat.wait_ready()
    finally:
        beat.stop()
    assert "core install" not in worker.log() + beat.log()


def test_a_command_that_needs_the_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(extras, "find_spec", lambda name: None if name == "uvicorn" else object())
    result = CliRunner().invoke(app, ["emulator", "--port", "0"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: convsync emulator needs the 'emulator' extra (uvicorn not installed): "
        "pip install 'convsync[emulator]'"
    )
