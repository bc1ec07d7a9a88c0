"""Real Celery worker processes for end-to-end tests, started and killed like in production."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import psutil


class WorkerProcess:
    """`convsync worker` in a subprocess, with its own log file."""

    def __init__(
        self,
        env: Mapping[str, str],
        log_dir: Path,
        name: str = "w1",
        concurrency: int = 2,
        queues: str | None = None,
        pool: str = "prefork",
    ) -> None:
        self.name = name
        self.log_path = log_dir / f"worker-{name}.log"
        args = [
            sys.executable,
            "-m",
            "convsync.cli",
            "worker",
            f"--concurrency={concurrency}",
            f"--pool={pool}",
            f"--hostname={name}@%h",
            "--loglevel=INFO",
        ]
        if queues:
            args.append(f"--queues={queues}")
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            args,
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log()}")
            if "ready." in self.log():
                return
            time.sleep(0.2)
        raise TimeoutError(f"worker not ready after {timeout}s:\n{self.log()[-4000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def children(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def kill_child(self) -> int:
        """SIGKILL one pool child (the main process replaces it)."""
        child = self.children()[0]
        child.send_signal(signal.SIGKILL)
        return child.pid

    def kill_all(self) -> None:
        """SIGKILL the whole worker: main process and children, no warm shutdown."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self._log.close()

    def stop(self, timeout: float = 20.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill_all()
                return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self._log.close()
