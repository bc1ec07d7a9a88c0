"""The real services `convsync bench` runs against, and how it leaves them.

PostgreSQL and Redis come from CONVSYNC_DATABASE_URL / CONVSYNC_BROKER_URL when set;
otherwise the bench makes its own (a `convsync_bench_<pid>` database on 127.0.0.1:5432,
a free Redis database number on 127.0.0.1:6379) and drops/flushes them at the end, so a
benchmark never leaves anything behind. The emulator and the workers are child
processes, like in production: the bench measures what a deployment would pay for.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import psycopg
import redis
from sqlalchemy.engine import make_url

from convsync.bench.errors import BenchError
from convsync.harness.processes import ProcessGroup
from convsync.harness.services import claimed_redis_database, throwaway_database
from convsync.salesforce_emulator.testing import DEFAULT_LOGIN, AdminClient, CaBundleSession

# Where a throwaway database is created (override for another server or role).
PG_ADMIN_URL = os.environ.get(
    "CONVSYNC_BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_BASE_URL = os.environ.get("CONVSYNC_BENCH_REDIS_URL", "redis://127.0.0.1:6379")
# Login the emulator accepts (it accepts any well-formed one unless given a credentials file).
EMULATOR_LOGIN = {
    "CONVSYNC_SALESFORCE_CLIENT_ID": DEFAULT_LOGIN["client_id"],
    "CONVSYNC_SALESFORCE_CLIENT_SECRET": DEFAULT_LOGIN["client_secret"],
    "CONVSYNC_SALESFORCE_USERNAME": DEFAULT_LOGIN["username"],
    "CONVSYNC_SALESFORCE_PASSWORD": "password",
    "CONVSYNC_SALESFORCE_SECURITY_TOKEN": "token",
}


@dataclass(frozen=True)
class Emulator:
    url: str
    ca_file: str
    admin: AdminClient
    pid: int


@dataclass
class Services:
    """Everything a scenario needs: URLs for this process and the workers, and handles."""

    env: dict[str, str]
    database_url: str
    throwaway_database: bool
    emulator: Emulator
    log_dir: Path
    worker_concurrency: int
    details: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- PostgreSQL


def _configured_database() -> str | None:
    url = os.environ.get("CONVSYNC_DATABASE_URL")
    if not url:
        return None
    backend = url.split(":", 1)[0].split("+", 1)[0]
    if backend not in ("postgresql", "postgres"):
        raise BenchError(
            "convsync bench needs PostgreSQL: CONVSYNC_DATABASE_URL is not a postgresql:// URL "
            "(unset it to let the bench create a throwaway database on 127.0.0.1:5432)"
        )
    return "postgresql+psycopg://" + url.split("://", 1)[1]


@contextmanager
def database() -> Iterator[tuple[str, bool]]:
    """(SQLAlchemy URL, throwaway?): the configured database, or a fresh one dropped after."""
    configured = _configured_database()
    if configured is not None:
        yield configured, False
        return
    with throwaway_database(PG_ADMIN_URL, "convsync_bench") as url:
        yield url, True


# ---------------------------------------------------------------- Redis


def _configured_broker() -> str | None:
    configured = os.environ.get("CONVSYNC_BROKER_URL")
    if configured and not configured.startswith(("redis://", "rediss://")):
        raise BenchError(
            "convsync bench needs Redis: CONVSYNC_BROKER_URL is not a redis:// URL "
            "(unset it to let the bench claim a database on 127.0.0.1:6379)"
        )
    return configured or None


def check_configuration() -> None:
    """Refuse a configured SQLite database or non-Redis broker before starting anything."""
    _configured_database()
    _configured_broker()


@contextmanager
def broker() -> Iterator[tuple[str, str]]:
    """(broker URL, result backend URL): the configured Redis, or a claimed, flushed db."""
    configured = _configured_broker()
    if configured:
        yield configured, os.environ.get("CONVSYNC_RESULT_BACKEND") or configured
        return
    with claimed_redis_database(REDIS_BASE_URL) as url:
        yield url, url


# ---------------------------------------------------------------- child processes


def start_emulator(group: ProcessGroup, log_dir: Path, latency_ms: int) -> Emulator:
    info_file = log_dir / "emulator.json"
    group.start(
        "emulator",
        "emulator",
        "--port=0",
        f"--latency-ms={latency_ms}",
        "--api-limit=1000000000",
        f"--info-file={info_file}",
    )
    group.wait_for_log("emulator", "Salesforce emulator at", timeout=60)
    info = json.loads(info_file.read_text())
    admin = AdminClient(info["url"], CaBundleSession(info["ca_file"]))
    admin.reset()
    return Emulator(info["url"], info["ca_file"], admin, group.children["emulator"].pid)


def _stop_emulator(group: ProcessGroup) -> None:
    """Stop now: uvicorn waits for idle keep-alive clients on the first signal, not a second."""
    child = group.children.get("emulator")
    if child is None or child.poll() is not None:
        return
    for _ in range(2):
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signal.SIGINT)
        time.sleep(0.05)
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(timeout=10)


@contextmanager
def worker_pool(
    env: dict[str, str], log_dir: Path, name: str, concurrency: int
) -> Iterator[RssSampler]:
    """`convsync worker` with `concurrency` pool processes; yields its RSS sampler."""
    with ProcessGroup(env, log_dir) as group:
        child = group.start(
            name,
            "worker",
            f"--concurrency={concurrency}",
            f"--hostname={name}@%h",
            "--loglevel=INFO",
        )
        group.wait_for_log(name, "ready.", timeout=120)
        sampler = RssSampler(psutil.Process(child.pid))
        try:
            yield sampler
        finally:
            sampler.stop()


# ---------------------------------------------------------------- memory


class RssSampler:
    """Samples the RSS of a worker's process tree (main process + pool children).

    `peak()` since the last `reset()`: the largest single process and the largest total
    of the tree, in MB. Sampling every 100 ms misses spikes shorter than that, which is
    why the engine's memory bound is also enforced by `worker_max_memory_per_child`.
    """

    def __init__(self, root: psutil.Process, interval: float = 0.1) -> None:
        self.root = root
        self.interval = interval
        self._lock = threading.Lock()
        self._largest = 0
        self._total = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        try:
            processes = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return
        sizes = []
        for process in processes:
            try:
                sizes.append(process.memory_info().rss)
            except psutil.Error:
                continue
        with self._lock:
            self._largest = max(self._largest, max(sizes, default=0))
            self._total = max(self._total, sum(sizes))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def reset(self) -> None:
        with self._lock:
            self._largest = self._total = 0
        self._sample()

    def peak(self) -> tuple[float, float]:
        self._sample()
        with self._lock:
            return round(self._largest / 2**20, 1), round(self._total / 2**20, 1)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def cpu_seconds(workers: psutil.Process, emulator_pid: int) -> dict[str, float]:
    """CPU time so far of the worker tree, the emulator, every PostgreSQL process on the
    machine (other databases' work included), and this process."""

    def tree(root: psutil.Process) -> float:
        total = 0.0
        with contextlib.suppress(psutil.Error):
            for process in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    times = process.cpu_times()
                    total += times.user + times.system
        return total

    postgresql = 0.0
    for process in psutil.process_iter(["name"]):
        if process.info["name"] in ("postgres", "postmaster"):
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                postgresql += times.user + times.system
    return {
        "workers": tree(workers),
        "emulator": tree(psutil.Process(emulator_pid)),
        "postgresql": postgresql,
        "bench": sum(psutil.Process().cpu_times()[:2]),  # itself, not its children
    }


# ---------------------------------------------------------------- all together


def machine(database_url: str, broker_url: str, concurrency: int) -> dict[str, Any]:
    details: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "memory_mb": round(psutil.virtual_memory().total / 2**20),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "worker_concurrency": concurrency,
    }
    try:
        conninfo = make_url(database_url).set(drivername="postgresql")
        dsn = conninfo.render_as_string(hide_password=False)
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            details["postgresql"] = row[0] if row else None
        client = redis.Redis.from_url(broker_url)
        details["redis"] = client.info("server").get("redis_version")
        client.close()
    except (psycopg.Error, redis.RedisError):
        pass
    return details


@contextmanager
def running_services(log_dir: Path, *, latency_ms: int, concurrency: int) -> Iterator[Services]:
    """PostgreSQL, Redis and the emulator, up; the caller starts workers with `env`."""
    with ExitStack() as stack:
        database_url, throwaway = stack.enter_context(database())
        broker_url, backend_url = stack.enter_context(broker())
        group = stack.enter_context(ProcessGroup({}, log_dir))
        stack.callback(_stop_emulator, group)
        emulator = start_emulator(group, log_dir, latency_ms)
        env = {
            "CONVSYNC_DATABASE_URL": database_url,
            "CONVSYNC_BROKER_URL": broker_url,
            "CONVSYNC_RESULT_BACKEND": backend_url,
            "CONVSYNC_SALESFORCE_LOGIN_URL": emulator.url,
            "CONVSYNC_SALESFORCE_CA_BUNDLE": emulator.ca_file,
            "CONVSYNC_LOG_FORMAT": "json",
            **EMULATOR_LOGIN,
        }
        services = Services(
            env=env,
            database_url=database_url,
            throwaway_database=throwaway,
            emulator=emulator,
            log_dir=log_dir,
            worker_concurrency=concurrency,
            details=machine(database_url, broker_url, concurrency),
        )
        yield services
