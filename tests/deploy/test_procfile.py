"""deploy/Procfile: one box under honcho, read as honcho reads it and run for real."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from honcho.environ import parse_procfile

from tests.deploy.recipes import DEPLOY, convsync_args, env_file, option, parse_cli
from tests.support.scenario import eventually

HONCHO = Path(sys.executable).with_name("honcho")
# Marks the processes one honcho run started, wherever they end up in the process tree.
MARKER = "CONVSYNC_TEST_HONCHO_RUN"


def processes(name: str) -> dict[str, list[str]]:
    procfile = parse_procfile((DEPLOY / name).read_text())
    return {kind: convsync_args(cmd) for kind, cmd in procfile.processes.items()}


def test_the_procfile_runs_a_worker_beat_and_flower() -> None:
    found = processes("Procfile")
    assert {kind: parse_cli(args) for kind, args in found.items()} == {
        "worker": ["worker"],
        "beat": ["beat"],
        "flower": ["flower"],
    }


def test_the_procfile_worker_serves_every_queue_under_a_unique_name() -> None:
    worker = processes("Procfile")["worker"]
    assert option(worker, "--queues") is None  # all queues: the CLI's default
    assert "$PORT" in (option(worker, "--hostname") or "")  # honcho -c worker=2 stays unique


def test_the_procfile_keeps_flower_on_loopback_behind_its_login() -> None:
    flower = processes("Procfile")["flower"]
    assert option(flower, "--address") == "127.0.0.1"
    assert "--insecure-local" not in flower


def test_the_demo_profile_adds_the_emulator_and_points_only_at_this_machine() -> None:
    found = processes("Procfile.demo")
    assert {kind: parse_cli(args)[0] for kind, args in found.items()} == {
        "emulator": "emulator",
        "worker": "worker",
        "beat": "beat",
        "flower": "flower",
    }
    demo = env_file(DEPLOY / "demo.env")
    assert demo["CONVSYNC_SALESFORCE_LOGIN_URL"].startswith("https://127.0.0.1:")
    assert option(found["emulator"], "--port") == demo["CONVSYNC_SALESFORCE_LOGIN_URL"][-4:]
    for url in ("CONVSYNC_DATABASE_URL", "CONVSYNC_BROKER_URL", "CONVSYNC_RESULT_BACKEND"):
        assert "127.0.0.1" in demo[url]


def alive_with(token: str) -> list[psutil.Process]:
    """Processes (honcho's children and theirs) whose environment carries `token`."""
    found = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if process.environ().get(MARKER) == token and process.status() != "zombie":
                found.append(process)
    return found


@contextlib.contextmanager
def honcho_running(
    env: dict[str, str], workdir: Path, *kinds: str
) -> Iterator[tuple[subprocess.Popen[bytes], Callable[[], str], str]]:
    """`honcho start KINDS` on deploy/Procfile; whatever it started is gone afterwards.

    honcho starts each process in its own session, out of reach of a signal to honcho's
    group: a marker in their environment finds them if the test fails half-way.
    """
    token = uuid.uuid4().hex
    log = workdir / "honcho.log"
    with log.open("wb") as out:
        honcho = subprocess.Popen(
            [str(HONCHO), "-f", str(DEPLOY / "Procfile"), "--no-colour", "start", *kinds],
            cwd=workdir,
            env={**env, MARKER: token},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield honcho, lambda: log.read_text(errors="replace"), token
        finally:
            if honcho.poll() is None:
                honcho.send_signal(signal.SIGINT)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    honcho.wait(timeout=30)
            for process in alive_with(token):  # a test that failed half-way
                with contextlib.suppress(psutil.Error):
                    process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                honcho.kill()
                honcho.wait(timeout=10)


@pytest.mark.e2e
@pytest.mark.usefixtures("sessions")
def test_honcho_starts_the_procfile_worker_and_beat_and_stops_them(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **os.environ,
        **service_env,
        "PATH": f"{HONCHO.parent}{os.pathsep}{os.environ['PATH']}",
        # A one-second cadence: beat's first tick reaches the worker within the test.
        "CONVSYNC_SYNC_INTERVAL_SECONDS": "1",
    }
    with honcho_running(env, tmp_path, "worker", "beat") as (honcho, output, token):
        eventually(lambda: "worker.1 |" in output() and " ready." in output())
        eventually(lambda: "beat.1" in output() and "beat: Starting" in output())
        # Beat's tick went through Redis to the Procfile's worker, which ran it.
        ran = r"Task convsync\.schedule\.dispatch_due_syncs\[[-\w]+\] succeeded"
        eventually(lambda: re.search(ran, output()))
        assert list((tmp_path / ".convsync").glob("beat-schedule*"))  # shelve: .dat/.dir or .db

        honcho.send_signal(signal.SIGINT)  # Ctrl-C
        honcho.wait(timeout=30)
        assert eventually(lambda: not alive_with(token), timeout=15)
