"""Throwaway Redis and PostgreSQL servers on their own ports, for tests that restart them.

The chaos suite restarts the broker and the database mid-sync; it must never touch the
machine's own services, so it starts its own: `redis-server` without persistence (a
restart loses every queued message, like a real crash), and a PostgreSQL cluster made
with `initdb` (run as the `postgres` user when we are root, as PostgreSQL demands).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import redis


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(check: object, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except Exception as error:  # noqa: BLE001 - still starting: try again
            last = error
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not come up within {timeout:.0f}s ({last!r})")


class RedisServer:
    """`redis-server` on a free loopback port: no RDB, no AOF."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        subprocess.run(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "yes",
                "--dir",
                str(self.workdir),
                "--pidfile",
                str(self.workdir / "redis.pid"),
                "--logfile",
                str(self.workdir / "redis.log"),
            ],
            check=True,
        )
        _wait(lambda: redis.Redis(port=self.port, socket_timeout=1).ping(), "redis-server")

    def stop(self) -> None:
        with contextlib.suppress(redis.exceptions.ConnectionError):
            redis.Redis(port=self.port, socket_timeout=2).shutdown(nosave=True)
        _wait(lambda: not _answers(self.port), "redis-server shutdown", timeout=30)

    def restart(self) -> None:
        self.stop()
        self.start()


def _answers(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _postgres_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    path = found[-1] if found else shutil.which(name)
    if not path:
        raise RuntimeError(f"PostgreSQL's {name} is not installed")
    return path


class PostgresServer:
    """A PostgreSQL cluster of our own (initdb) on a free loopback port, fsync off."""

    def __init__(self) -> None:
        self.port = free_port()
        # Not under pytest's tmp_path: the postgres user must be able to reach it.
        self.root = Path(tempfile.mkdtemp(prefix="convsync-chaos-pg-"))
        self.data = self.root / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            self.root.chmod(0o755)
            shutil.chown(self.root, "postgres", "postgres")

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        subprocess.run([*prefix, *args], check=True, capture_output=True, cwd=self.root)

    def create(self) -> None:
        self._run(
            _postgres_bin("initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        )
        self.start()

    def _ctl(self, action: str, *extra: str) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            " -c max_connections=200"
        )
        self._run(
            _postgres_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "pg.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            action,
            *extra,
        )

    def start(self) -> None:
        self._ctl("start")
        _wait(
            lambda: (
                psycopg.connect(self.url.replace("+psycopg", ""), connect_timeout=2).close() is None
            ),
            "PostgreSQL",
        )

    def restart(self) -> None:
        """A fast shutdown (open connections are cut, as in a crash-restart) and start."""
        self._ctl("restart", "-m", "fast")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._ctl("stop", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def own_redis_and_postgres(workdir: Path) -> Iterator[tuple[RedisServer, PostgresServer]]:
    """Both servers, started; both gone afterwards, whatever happened."""
    redis_server = RedisServer(workdir)
    postgres = PostgresServer()
    try:
        redis_server.start()
        postgres.create()
        yield redis_server, postgres
    finally:
        redis_server.stop()
        postgres.destroy()
