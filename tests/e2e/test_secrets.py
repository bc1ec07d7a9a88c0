"""Security: secrets stay out of logs, task arguments and errors; SOQL is always quoted;
test servers listen on loopback unless told otherwise; credentials come only from the
environment (or a secrets directory); every dependency is bounded above and below.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import redis
from packaging.requirements import Requirement
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from convsync.config import load_settings
from convsync.domain.errors import ConfigurationError, ValidationError
from convsync.domain.model import MemberStatus
from convsync.salesforce.soql import to_18
from convsync.salesforce_emulator.testing import EmulatorHandle
from convsync.store.tables import RunRow, SyncErrorRow
from convsync.workers import root
from convsync.workers.app import app
from tests.support.scenario import cli, eventually, salesforce_campaign
from tests.support.services import without_convsync_environment
from tests.support.workers import WorkerProcess

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "convsync"
WEBINAR = [("Invited", True, False), ("Registered", False, False), ("Attended", False, True)]
SECRET_SETTINGS = (
    "CONVSYNC_SALESFORCE_PASSWORD",
    "CONVSYNC_SALESFORCE_SECURITY_TOKEN",
    "CONVSYNC_SALESFORCE_CLIENT_SECRET",
)


# ------------------------------------------------------------------ what a full sync leaves


class EventTap:
    """Celery's task and worker events, as Flower receives them, collected in a thread."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._receiver: Any = None
        self._thread = threading.Thread(target=self._run, name="event-tap", daemon=True)

    def _run(self) -> None:
        with app.connection_for_read() as connection:
            self._receiver = app.events.Receiver(connection, handlers={"*": self.events.append})
            self._receiver.capture(limit=None, timeout=None, wakeup=True)

    def __enter__(self) -> EventTap:
        self._thread.start()
        with app.events.default_dispatcher() as dispatcher:

            def heard() -> bool:
                dispatcher.send("tap-ready")
                return any(e.get("type") == "tap-ready" for e in self.events)

            eventually(heard)
        return self

    def settled(self) -> bool:
        """Every task seen starting has since been seen ending (its last events are in)."""
        last: dict[str, str] = {}
        for event in list(self.events):
            if "uuid" in event and str(event.get("type", "")).startswith("task-"):
                last[event["uuid"]] = event["type"]
        return not any(kind in {"task-started", "task-received"} for kind in last.values())

    def __exit__(self, *_: object) -> None:
        if self._receiver is not None:
            self._receiver.should_stop = True
        self._thread.join(timeout=10)


def redis_dump(url: str) -> str:
    """Everything in the broker's Redis database, as text (queues, unacked, results)."""
    client = redis.Redis.from_url(url)
    parts: list[str] = []
    for key in client.scan_iter():
        kind = client.type(key).decode()
        if kind == "string":
            parts.append(repr(client.get(key)))
        elif kind == "list":
            parts.append(repr(client.lrange(key, 0, -1)))
        elif kind == "hash":
            parts.append(repr(client.hgetall(key)))
        elif kind == "zset":
            parts.append(repr(client.zrange(key, 0, -1)))
        elif kind == "set":
            parts.append(repr(client.smembers(key)))
        parts.append(repr(key))
    client.close()
    return "\n".join(parts)


def database_dump(sessions: sessionmaker[Session]) -> str:
    """What the sync stored about failures: run errors and dead letters with payloads."""
    with sessions() as session:
        errors = [str(e) for e in session.scalars(select(RunRow.error))]
        letters = [
            json.dumps([row.code, row.message, row.payload], default=str)
            for row in session.scalars(select(SyncErrorRow))
        ]
    return "\n".join(errors + letters)


@pytest.mark.e2e
def test_a_full_sync_leaves_no_secret_in_logs_task_arguments_or_the_broker(
    org: EmulatorHandle,
    salesforce_env: dict[str, str],
    sessions: sessionmaker[Session],
    start_worker: Callable[..., WorkerProcess],
) -> None:
    cli("types", "create", "Webinar", "-s", "Invited", "-s", "Registered", "-s", "Attended")
    cli("campaigns", "create", "Spring", "--type", "Webinar")
    for i in range(30):
        cli("members", "add", "Spring", f"here{i}@example.com", "Registered")
    there = [(f"there{i}@example.com", "Attended") for i in range(30)]
    sf = salesforce_campaign(org, "Spring SF", WEBINAR, there)

    with EventTap() as tap:
        cli("link", "Spring", "--salesforce-campaign", sf["id"])
        # For the worker's first calls: an expired session (a re-login with the password),
        # a 503 and a dropped connection, where a secret could slip into a log or error.
        for kind in ("INVALID_SESSION_ID", "503", "drop"):
            org.admin.inject_faults(next=1, kind=kind)
        worker = start_worker(extra_env={"CONVSYNC_LOG_LEVEL": "DEBUG"})
        run = eventually(lambda: _ended(sessions), timeout=120)
        assert run.state == "succeeded", run.error
        cli("status", "Spring")
        eventually(tap.settled)
    org.admin.inject_faults(clear=True)

    events = json.dumps(tap.events, default=str)
    haystack = "\n".join(
        [
            worker.log(),
            events,
            redis_dump(salesforce_env["CONVSYNC_BROKER_URL"]),
            database_dump(sessions),
        ]
    )
    # Not vacuous: the tap saw the sync's tasks with their arguments, the log is verbose.
    assert '"convsync.sync.push_outbound_chunk"' in events
    assert re.search(r"'run_id': \d+|\"run_id\": \d+", events)
    assert "salesforce.relogin" in worker.log()
    assert "salesforce.retry" in worker.log()
    secrets = [salesforce_env[name] for name in SECRET_SETTINGS]
    secrets += list(org.app.sessions._tokens) + list(org.app.sessions._refresh)
    assert len(secrets) > len(SECRET_SETTINGS), "the worker never logged in"
    leaked = [s for s in secrets if s in haystack]
    assert leaked == []


def _ended(sessions: sessionmaker[Session]) -> RunRow | None:
    with sessions() as session:
        run = session.scalar(select(RunRow).order_by(RunRow.id.desc()).limit(1))
    return run if run is not None and run.state in ("succeeded", "failed") else None


# ------------------------------------------------------------------ SOQL


@pytest.fixture
def gateway(org: EmulatorHandle) -> Any:
    return root.adapters().salesforce


@pytest.fixture
def people(org: EmulatorHandle) -> dict[str, str]:
    """Leads with an apostrophe, a backslash and a percent sign in their emails."""
    emails = ["o'brien@example.com", "back\\slash@example.com", "pct%@example.com", "x@example.com"]
    seeded = org.admin.seed(
        leads=[{"LastName": "L", "Company": "Acme", "Email": email} for email in emails]
    )
    return dict(zip(emails, seeded["leads"], strict=True))


INJECTIONS = [
    "x@example.com' OR Email != 'nobody@example.com",
    "x@example.com' OR Email LIKE '%",
    "x@example.com\\' OR Email != '",
    "%@example.com",
    "' OR Id != null) OR (Email = '",
]


@pytest.mark.parametrize("injection", INJECTIONS)
def test_an_injected_email_matches_nobody(
    gateway: Any, people: dict[str, str], injection: str
) -> None:
    assert gateway.find_people_by_email([injection]) == {}


def test_emails_with_quotes_backslashes_and_wildcards_match_exactly_themselves(
    gateway: Any, people: dict[str, str]
) -> None:
    found = gateway.find_people_by_email(list(people))
    assert {email: person.id for email, person in found.items()} == people


@pytest.mark.parametrize(
    "call",
    [
        lambda g: g.get_campaign("701Hs0000000001' OR Name != '"),
        lambda g: g.campaign_statuses("' OR CampaignId != null"),
        lambda g: g.member_status_counts("701Hs0000000001') OR (Id != null"),
        lambda g: g.find_members(to_18("701Hs0000000001"), ["00QHs0000000001' OR Id != null"]),
        lambda g: g.changed_campaigns(["701' OR Id != null"], None),
        lambda g: g.members_by_id(["00vHs0000000001' OR Id != null"]),
    ],
    ids=[
        "get_campaign",
        "campaign_statuses",
        "member_status_counts",
        "find_members",
        "changed",
        "members_by_id",
    ],
)
def test_an_injected_id_is_refused_before_any_api_call(
    gateway: Any, org: EmulatorHandle, call: Callable[[Any], Any]
) -> None:
    gateway.api_usage()
    before = org.admin.counters()["total"]
    with pytest.raises(ValidationError, match="is not a valid Salesforce"):
        call(gateway)
    assert org.admin.counters()["total"] == before


def test_names_and_labels_with_soql_metacharacters_are_stored_literally(
    gateway: Any, org: EmulatorHandle
) -> None:
    name = "Spring' OR Name != '\\ %_ \"launch\""
    campaign = gateway.create_campaign(name)
    label = 'It\'s "done" \\ 100%'
    gateway.create_status(campaign, MemberStatus(label, sort_order=3))
    assert gateway.get_campaign(campaign).name == name
    assert label in [s.label for _, s in gateway.campaign_statuses(campaign)]


def _soql_built_outside_the_helper(path: Path) -> list[str]:
    """f-strings, `%` and `.format()` whose literal text is SOQL (SELECT / WHERE ...)."""
    keyword = re.compile(r"\b(SELECT|WHERE|FROM [A-Z]|ORDER BY|GROUP BY)\b")
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        literal = ""
        if isinstance(node, ast.JoinedStr):
            literal = "".join(
                v.value
                for v in node.values
                if isinstance(v, ast.Constant) and isinstance(v.value, str)
            )
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            literal = node.left.value if isinstance(node.left, ast.Constant) else ""
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "format"
            and isinstance(node.func.value, ast.Constant)
        ):
            literal = str(node.func.value.value)
        if isinstance(literal, str) and keyword.search(literal):
            found.append(f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}")
    return found


def test_soql_is_built_only_through_the_quoting_helper() -> None:
    helper = SOURCE / "salesforce" / "soql.py"
    sources = [
        p for p in SOURCE.rglob("*.py") if p != helper and "salesforce_emulator" not in p.parts
    ]
    offenders = [hit for path in sources for hit in _soql_built_outside_the_helper(path)]
    assert offenders == []
    # The check itself sees an f-string query when there is one.
    probe = ROOT / "tests" / "e2e" / "test_secrets.py"
    assert _soql_built_outside_the_helper(probe)  # the f-string below


_PROBE = f"SELECT Id FROM Lead WHERE Email = '{ROOT.name}'"  # noqa: S608 - a probe for the check


# ------------------------------------------------------------------ loopback by default


def _listening(pid: int) -> list[str]:
    try:
        connections = psutil.Process(pid).net_connections(kind="inet")
    except psutil.NoSuchProcess:
        return []
    return [c.laddr.ip for c in connections if c.status == psutil.CONN_LISTEN]


@contextlib.contextmanager
def _started(args: list[str], env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    log = (cwd / "out.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "convsync.cli", *args],
        env={**os.environ, **env},
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)
        log.close()


def test_the_emulator_listens_on_loopback_by_default(tmp_path: Path) -> None:
    info = tmp_path / "emulator.json"
    with _started(["emulator", "--port", "0", "--info-file", str(info)], {}, tmp_path) as process:
        addresses = eventually(lambda: _listening(process.pid), timeout=60)
        assert set(addresses) == {"127.0.0.1"}
        written = eventually(lambda: info.is_file() and info.read_text())
        assert json.loads(written)["url"].startswith("https://127.0.0.1:")


def test_flower_listens_on_loopback_by_default(service_env: dict[str, str], tmp_path: Path) -> None:
    args = ["flower", "--insecure-local", "--port=0", f"--db={tmp_path / 'flower.db'}"]
    with _started(args, {"CONVSYNC_FLOWER_BASIC_AUTH": ""}, tmp_path) as process:
        addresses = eventually(lambda: _listening(process.pid), timeout=60)
        assert set(addresses) == {"127.0.0.1"}


# ------------------------------------------------------------------ credentials and packages


def test_credentials_come_from_the_environment_or_a_secrets_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    without_convsync_environment(monkeypatch)
    (tmp_path / "CONVSYNC_SALESFORCE_PASSWORD").write_text("from-a-file\n")
    (tmp_path / "CONVSYNC_SALESFORCE_CLIENT_SECRET").write_text("secret-from-a-file")
    monkeypatch.setenv("CONVSYNC_SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("CONVSYNC_SALESFORCE_CLIENT_SECRET", "secret-from-the-environment")

    settings = load_settings()

    assert settings.salesforce_password is not None
    assert settings.salesforce_password.get_secret_value() == "from-a-file"
    assert settings.salesforce_client_secret is not None
    assert settings.salesforce_client_secret.get_secret_value() == "secret-from-the-environment"
    assert "from-a-file" not in repr(settings)


def test_a_missing_secrets_directory_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    without_convsync_environment(monkeypatch)
    monkeypatch.setenv("CONVSYNC_SECRETS_DIR", str(tmp_path / "nope"))
    with pytest.raises(ConfigurationError, match=r"^CONVSYNC_SECRETS_DIR: no such directory"):
        load_settings()


def test_every_dependency_has_a_lower_and_an_upper_bound() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"]] + [
        r for extra in project["optional-dependencies"].values() for r in extra
    ]
    unbounded = []
    for text in requirements:
        operators = {spec.operator for spec in Requirement(text).specifier}
        lower = operators & {">=", ">", "~=", "=="}
        upper = operators & {"<", "<=", "~=", "=="}
        if not (lower and upper):
            unbounded.append(text)
    assert len(requirements) > 20
    assert unbounded == []
