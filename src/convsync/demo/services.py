"""The processes and services the demo runs on: the emulator, worker and beat, its environment.

A fresh login for this run only, the emulator started as a process of its own, SIGTERM
turned into a clean stop of every process, the embedded services (SQLite and kombu's
SQLAlchemy transport) or the ones CONVSYNC_* names, and an empty database migrated.
Kept apart from the story so what the demo shows reads without the plumbing.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from convsync.config import DATA_DIR
from convsync.demo.errors import DemoError
from convsync.harness.processes import ProcessGroup
from convsync.views.output import console

DEMO_DIR = DATA_DIR / "demo"
# Beat's cadence in the demo: short, so the ongoing sync shows within seconds, yet
# longer than an edit takes to reach Salesforce without it.
SYNC_INTERVAL_SECONDS = 10

# Environment variables that would send the demo to a real org: never inherited.
_REAL_ORG_VARIABLES = (
    "CONVSYNC_SALESFORCE_PRIVATE_KEY_FILE",
    "CONVSYNC_SALESFORCE_REFRESH_TOKEN",
    "CONVSYNC_SALESFORCE_INSTANCE_URL",
    "CONVSYNC_SALESFORCE_SESSION_ID",
)
_SERVICE_VARIABLES = ("CONVSYNC_DATABASE_URL", "CONVSYNC_BROKER_URL", "CONVSYNC_RESULT_BACKEND")


@dataclass(frozen=True)
class Emulator:
    url: str
    ca_file: str


@dataclass(frozen=True)
class Login:
    """Throwaway credentials made per run: the emulator accepts these and nothing else."""

    client_id: str
    client_secret: str
    username: str
    password: str
    security_token: str

    @classmethod
    def fresh(cls) -> Login:
        return cls(
            client_id="convsync-demo",
            client_secret=secrets.token_urlsafe(24),
            username="sync@demo.example",
            password=secrets.token_urlsafe(16),
            security_token=secrets.token_urlsafe(12),
        )

    def credentials_file(self, path: Path) -> Path:
        data = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "username": self.username,
            "password": self.password,
            "security_token": self.security_token,
        }
        path.write_text(json.dumps(data))
        path.chmod(0o600)
        return path

    def environment(self, emulator: Emulator) -> dict[str, str]:
        return {
            "CONVSYNC_SALESFORCE_LOGIN_URL": emulator.url,
            "CONVSYNC_SALESFORCE_CA_BUNDLE": emulator.ca_file,
            "CONVSYNC_SALESFORCE_CLIENT_ID": self.client_id,
            "CONVSYNC_SALESFORCE_CLIENT_SECRET": self.client_secret,
            "CONVSYNC_SALESFORCE_USERNAME": self.username,
            "CONVSYNC_SALESFORCE_PASSWORD": self.password,
            "CONVSYNC_SALESFORCE_SECURITY_TOKEN": self.security_token,
        }


# ---------------------------------------------------------------- processes and signals


class _Stop(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: unwind, stop the children, exit."""


def raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


@contextlib.contextmanager
def stopping(group: ProcessGroup) -> Iterator[ProcessGroup]:
    """Stop the group's processes on the way out, deaf to a second Ctrl-C meanwhile."""
    try:
        yield group
    finally:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            group.stop_all()
        finally:
            signal.signal(signal.SIGINT, previous)


def wait_for(group: ProcessGroup, name: str, needle: str, log: Path) -> None:
    try:
        group.wait_for_log(name, needle, timeout=90)
    except (RuntimeError, TimeoutError):
        raise DemoError(f"the demo's {name} did not start; see {log}") from None


def start_emulator(group: ProcessGroup, root: Path, login: Login) -> Emulator:
    info = root / "emulator.json"
    credentials = login.credentials_file(root / "emulator-credentials.json")
    group.start(
        "emulator",
        "emulator",
        "--port=0",
        f"--info-file={info}",
        f"--credentials={credentials}",
    )
    wait_for(group, "emulator", "Salesforce emulator at", root / "logs" / "emulator.log")
    data = json.loads(info.read_text())
    return Emulator(url=data["url"], ca_file=data["ca_file"])


# ---------------------------------------------------------------- environment


def prepare_directory(root: Path) -> None:
    """A fresh demo directory each run, so reruns start from the same place."""
    if root.exists():
        shutil.rmtree(root)
    (root / "logs").mkdir(parents=True)


def use_environment(values: Mapping[str, str]) -> None:
    """Make `values` this process's configuration too (the demo calls use cases in-process)."""
    from convsync.config import get_settings
    from convsync.workers import root

    os.environ.update(values)
    for name in _REAL_ORG_VARIABLES:
        os.environ.pop(name, None)
    get_settings.cache_clear()
    root.reset(None)


def embedded_services(root: Path) -> dict[str, str]:
    """SQLite files in the demo directory for every service the environment leaves unset."""
    defaults = {
        "CONVSYNC_DATABASE_URL": f"sqlite:///{(root / 'convsync.sqlite').resolve()}",
        "CONVSYNC_BROKER_URL": f"sqla+sqlite:///{(root / 'broker.sqlite').resolve()}",
        "CONVSYNC_RESULT_BACKEND": f"db+sqlite:///{(root / 'results.sqlite').resolve()}",
    }
    return {k: v for k, v in defaults.items() if not os.environ.get(k)}


def where(services: Mapping[str, str]) -> str:
    if len(services) == len(_SERVICE_VARIABLES):
        return f"embedded: SQLite + SQLAlchemy broker under {DEMO_DIR}/"
    return "on the services CONVSYNC_* points at"


def migrate_empty_database() -> None:
    from convsync.store.migrate import upgrade
    from convsync.sync import catalog
    from convsync.workers.root import adapters

    built = adapters()
    upgrade(built.engine)
    if catalog.list_campaigns(built.sessions) or catalog.list_types(built.sessions):
        raise DemoError(
            "the database at CONVSYNC_DATABASE_URL is not empty: point the demo at a "
            "scratch database (or unset it to use a throwaway SQLite file)"
        )
    url = built.engine.url.render_as_string(hide_password=True)
    console.print(f"[green]✓[/] database schema migrated ({url})")
