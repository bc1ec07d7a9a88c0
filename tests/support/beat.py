"""A real `convsync beat` process for end-to-end tests, like `WorkerProcess` for workers.

Each beat keeps its schedule file in the test's own directory (`--schedule`), so test
runs going on at the same time never share, or corrupt, one another's beat state.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import redis
from celery import Celery

from convsync.celeryconfig import build_celery_config
from convsync.config import get_settings
from convsync.workers import root

# What beat logs when it sends an entry: "Scheduler: Sending due task reconcile (…)".
_SENT = "Sending due task {entry} "


class BeatProcess:
    """`convsync beat` in a subprocess (its own session, so a kill takes it whole)."""

    def __init__(self, env: Mapping[str, str], log_dir: Path, name: str = "beat") -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self.schedule_path = log_dir / f"{name}-schedule"
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "convsync.cli",
                "beat",
                "--loglevel=INFO",
                f"--schedule={self.schedule_path}",
            ],
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def sent(self, entry: str) -> int:
        """How many times beat has sent `entry` (e.g. "dispatch-due-syncs") so far."""
        return self.log().count(_SENT.format(entry=entry))

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until beat has sent its first tick (it sends every entry once at start)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"beat exited early:\n{self.log()[-4000:]}")
            if self.sent("dispatch-due-syncs"):
                return
            time.sleep(0.2)
        raise TimeoutError(f"beat sent nothing after {timeout}s:\n{self.log()[-4000:]}")

    def stop(self, timeout: float = 20.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=timeout)
        self._log.close()


@contextlib.contextmanager
def beats(env: Mapping[str, str], log_dir: Path) -> Iterator[Callable[..., BeatProcess]]:
    """Start beat processes with `start(name)`; all are stopped on exit."""
    started: list[BeatProcess] = []

    def start(name: str = "beat", *, wait: bool = True) -> BeatProcess:
        beat = BeatProcess(env, log_dir, name)
        started.append(beat)
        if wait:
            beat.wait_ready()
        return beat

    try:
        yield start
    finally:
        for beat in started:
            beat.stop()


@contextlib.contextmanager
def fast_cadence(
    *, interval: int, lease: int, redis_url: str, **more: str
) -> Iterator[dict[str, str]]:
    """CONVSYNC_* for a short cadence and lease, in this process and every child it starts.

    The test's Redis database is flushed first: messages a previous test left queued (or
    unacked by a killed worker) must not be consumed by this test's workers, since run
    ids restart at 1 when the tables are truncated.
    """
    env = {
        "CONVSYNC_SYNC_INTERVAL_SECONDS": str(interval),
        "CONVSYNC_LEASE_SECONDS": str(lease),
        **more,
    }
    flush(redis_url)
    strangers = workers_on_broker()
    assert not strangers, f"{redis_url} is consumed by workers not started here: {strangers}"
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    get_settings.cache_clear()
    root.reset(root.build())
    try:
        yield env
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()
        root.reset(root.build())


def flush(redis_url: str) -> None:
    """Empty a test's Redis database: queued, unacked and scheduled messages included."""
    client = redis.Redis.from_url(redis_url)
    try:
        client.flushdb()
    finally:
        client.close()


def broker_app() -> Celery:
    """A Celery app on this process's current settings (the test session's Redis database).

    Built afresh rather than reusing `convsync.workers.app`, whose configuration is read
    once, on first use, from whatever environment the process had then.
    """
    app = Celery("convsync", set_as_current=False)
    app.config_from_object(build_celery_config(get_settings()))
    return app


def workers_on_broker(timeout: float = 0.5) -> list[str]:
    """The Celery workers that answer a ping on this process's broker (its Redis database).

    A worker left running by another test run on the same database would take this test's
    messages (beat ticks, chunks) and make it fail in puzzling ways; better to say so.
    """
    app = broker_app()
    try:
        return sorted(name for reply in app.control.ping(timeout=timeout) for name in reply)
    finally:
        app.close()
