# The world's fixtures come from the first catalogue and are requested by name (F811):
# ruff: noqa: F811
"""Bad input at the boundaries: Salesforce ids in either form, settings and arguments
that used to end in tracebacks, a broker that cannot be reached, waits that must end
and say why, a deleted Salesforce campaign, and output that must stay parseable.

Each case ends in one clear line (exit 1; a usage error exits 2) with nothing written on
either side, or in the recorded outcome it names. The world and the module's real worker
come from the first catalogue (`test_bad_input`). Settings are read once per process,
so cases about the environment run `convsync` as a separate process, as a user would.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from convsync.domain.ids import to_18
from convsync.salesforce_emulator.testing import simple_salesforce_client
from convsync.store.db import make_engine
from convsync.store.migrate import upgrade
from tests.integration.test_bad_input import (  # noqa: F401 - fixtures, requested by name
    World,
    invoke,
    listed,
    module_worker,
    one_error_line,
    row_counts,
    spring_linked,
    status_missing_in_salesforce,
    world,
)
from tests.support.scenario import eventually
from tests.support.services import dedicated_redis_database, fresh_postgres_database
from tests.support.workers import WorkerProcess

UNREACHABLE_REDIS = "redis://:broker-password@127.0.0.1:1/0"
UNREACHABLE_AMQP = "amqp://guest:broker-password@127.0.0.1:1//"


def broker_down(broker: str = UNREACHABLE_REDIS) -> dict[str, str]:
    """The broker cannot be reached; the Redis holding the Salesforce request cap can."""
    return {"CONVSYNC_BROKER_URL": broker, "CONVSYNC_REDIS_URL": os.environ["CONVSYNC_BROKER_URL"]}


# ------------------------------------------------------------------ helpers


def convsync(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`convsync ARGS` in its own process, with these CONVSYNC_* overrides."""
    return subprocess.run(
        [sys.executable, "-m", "convsync.cli", *args],
        env={**os.environ, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def error_line(process: subprocess.CompletedProcess[str]) -> str:
    """The one `error: …` line a refused command prints on stderr, and nothing else."""
    output = process.stdout + process.stderr
    assert "Traceback" not in output, output
    lines = [line for line in process.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert lines[0].startswith("error: "), output
    return lines[0]


def flat(text: str) -> str:
    """A usage error's text without the box Rich draws around it."""
    return re.sub(r"[\s│╭╮╰╯─]+", " ", text)


@dataclass
class Snapshot:
    """Both sides' row counts, to show a refused command wrote nothing."""

    world: World
    database: dict[str, int]
    salesforce: dict[str, Any]

    @classmethod
    def take(cls, world: World) -> Snapshot:
        return cls(world, row_counts(world.sessions), world.org.admin.summary())

    def unchanged(self) -> bool:
        assert row_counts(self.world.sessions) == self.database, "the database was written"
        assert self.world.org.admin.summary() == self.salesforce, "Salesforce was written"
        return True


def settled(world: World) -> Any:
    """The run a case queued, ended: a worker still writing would race the next case's
    clean-up of the tables."""
    world.start_worker()
    return eventually(world.run_ended, timeout=120)


def link_spring_by_15_characters(world: World) -> None:
    world.link_and_wait("Spring", world.sf_campaign[:15])


def letter_in_odd_one_and_spring_linked(world: World) -> None:
    """An open dead letter in campaign "Odd one"; Spring linked too, without letters."""
    status_missing_in_salesforce(world)
    world.link_and_wait("Odd one", world.sf_campaign)
    world.link_and_wait("Spring", world.other_campaign)


# ------------------------------------------------------------------ refused in one line


@dataclass(frozen=True)
class Refusal:
    """A command refused with `message`: exit 1 (one `error:` line) or 2 (usage)."""

    name: str
    argv: Callable[[World], tuple[str, ...]]
    message: str
    arrange: Callable[[World], None] = lambda _world: None
    exit_code: int = 1


REFUSALS = [
    # -- Salesforce ids: one campaign, whichever form its id is typed in
    Refusal(
        "the 15-character form of an id already linked by its 18-character form",
        lambda w: ("link", "Autumn", "--salesforce-campaign", w.sf_campaign[:15]),
        "already linked to another campaign",
        arrange=spring_linked,
    ),
    Refusal(
        "the 18-character form of an id already linked by its 15-character form",
        lambda w: ("link", "Autumn", "--salesforce-campaign", w.sf_campaign),
        "already linked to another campaign",
        arrange=link_spring_by_15_characters,
    ),
    Refusal(
        "an id already linked, typed with a lower-case checksum",
        lambda w: (
            "link",
            "Autumn",
            "--salesforce-campaign",
            w.sf_campaign[:15] + w.sf_campaign[15:].lower(),
        ),
        "already linked to another campaign",
        arrange=spring_linked,
    ),
    # -- waits that could never end
    Refusal(
        "sync --wait --timeout nan",
        lambda _w: ("sync", "Spring", "--wait", "--timeout", "nan"),
        "must be a number of seconds above 0, not nan",
        exit_code=2,
    ),
    Refusal(
        "sync --wait --timeout inf",
        lambda _w: ("sync", "Spring", "--wait", "--timeout", "inf"),
        "must be a number of seconds above 0, not inf",
        exit_code=2,
    ),
    Refusal(
        "sync --wait --timeout -1",
        lambda _w: ("sync", "Spring", "--wait", "--timeout", "-1"),
        "must be a number of seconds above 0, not -1",
        exit_code=2,
    ),
    # -- integers too large for the database
    Refusal(
        "a dead letter id past 64 bits",
        lambda _w: ("dlq", "replay", str(2**63)),
        "less than or equal to 9223372036854775807",
        exit_code=2,
    ),
    Refusal(
        "a --limit past 64 bits",
        lambda _w: ("members", "list", "Spring", "--limit", str(2**64)),
        "less than or equal to 9223372036854775807",
        exit_code=2,
    ),
    # -- an unknown worker pool
    Refusal(
        "worker --pool bogus",
        lambda _w: ("worker", "--pool", "bogus"),
        "'bogus' is not one of 'prefork', 'threads', 'solo'",
        exit_code=2,
    ),
    # -- misleading words
    Refusal(
        "replaying a dead letter of another campaign",
        lambda _w: ("dlq", "replay", str(listed("dlq", "list")[0]["id"]), "--campaign", "Spring"),
        "dead letter \\d+ belongs to campaign 'Odd one', not 'Spring'",
        arrange=letter_in_odd_one_and_spring_linked,
    ),
]


@pytest.mark.parametrize("case", REFUSALS, ids=[c.name for c in REFUSALS])
def test_a_refused_command_says_what_to_fix_in_one_line_and_writes_nothing(
    case: Refusal, world: World
) -> None:
    case.arrange(world)
    before = Snapshot.take(world)
    result = invoke(*case.argv(world))
    assert result.exit_code == case.exit_code, result.output
    if case.exit_code == 1:
        assert re.search(case.message, one_error_line(result))
    else:
        assert "Traceback" not in result.output
        assert re.search(case.message, flat(result.output)), result.output
    assert before.unchanged()


# ------------------------------------------------------------------ settings, in a new process


@dataclass(frozen=True)
class BadSetting:
    """`convsync campaigns list` under these settings: one line naming the variable."""

    name: str
    env: Callable[[Path], dict[str, str]]
    message: str
    argv: tuple[str, ...] = ("campaigns", "list")


def _file(folder: Path, name: str, content: str) -> str:
    path = folder / name
    path.write_text(content)
    return str(path)


BAD_SETTINGS = [
    BadSetting(
        "a database URL naming a driver SQLAlchemy does not have",
        lambda _d: {"CONVSYNC_DATABASE_URL": "postgresql+bogus://u:db-password@host/db"},
        "CONVSYNC_DATABASE_URL: no database driver 'postgresql\\+bogus' is installed",
    ),
    BadSetting(
        "a database URL whose driver is not installed",
        lambda _d: {"CONVSYNC_DATABASE_URL": "sqlite+pysqlcipher:///x.db"},
        "CONVSYNC_DATABASE_URL: no database driver 'sqlite\\+pysqlcipher' is installed",
    ),
    BadSetting(
        "a database URL SQLAlchemy cannot parse",
        lambda _d: {"CONVSYNC_DATABASE_URL": "postgresql://u:db-password@host:port/db"},
        "CONVSYNC_DATABASE_URL: cannot be parsed as a database URL",
    ),
    BadSetting(
        "a SQLite file that is not a database",
        lambda d: {"CONVSYNC_DATABASE_URL": f"sqlite:///{_file(d, 'notes.txt', 'x' * 5000)}"},
        "names a file that is not a SQLite database",
    ),
    BadSetting(
        "a SQLite file in a folder that cannot be made",
        lambda d: {"CONVSYNC_DATABASE_URL": f"sqlite:///{_file(d, 'plain', '')}/sub/x.db"},
        "CONVSYNC_DATABASE_URL: cannot create the folder",
    ),
    BadSetting(
        "an API version without .0",
        lambda _d: {"CONVSYNC_SALESFORCE_API_VERSION": "60"},
        "CONVSYNC_SALESFORCE_API_VERSION: '60' is not a Salesforce API version: use the form 59.0",
    ),
    BadSetting(
        "a private key file that is not a key",
        lambda d: {
            "CONVSYNC_SALESFORCE_PRIVATE_KEY_FILE": _file(d, "key.pem", "not a key\n"),
        },
        "CONVSYNC_SALESFORCE_PRIVATE_KEY_FILE: .* is not a PEM-encoded RSA private key",
        argv=("check-statuses", "Spring", "--salesforce-campaign", to_18("701Hs0000000001")),
    ),
]


@pytest.mark.parametrize("case", BAD_SETTINGS, ids=[c.name for c in BAD_SETTINGS])
def test_a_bad_setting_is_one_line_naming_the_variable(
    case: BadSetting, world: World, tmp_path: Path
) -> None:
    before = Snapshot.take(world)
    env = case.env(tmp_path)
    process = convsync(*case.argv, env=env, cwd=tmp_path)
    assert process.returncode == 1, process.stderr
    line = error_line(process)
    assert re.search(case.message, line), line
    assert "db-password" not in line, "a password reached the terminal"
    assert before.unchanged()


# ------------------------------------------------------------------ an unreachable broker


@pytest.mark.parametrize("broker", [UNREACHABLE_REDIS, UNREACHABLE_AMQP], ids=["redis", "amqp"])
def test_link_with_the_broker_down_links_nothing_and_a_rerun_links(
    broker: str, world: World
) -> None:
    before = Snapshot.take(world)
    refused = convsync(
        "link", "Autumn", "--salesforce-campaign", world.other_campaign,
        env=broker_down(broker),
    )  # fmt: skip
    assert refused.returncode == 1
    line = error_line(refused)
    assert re.search(r"cannot reach the broker at CONVSYNC_BROKER_URL .*nothing was linked", line)
    assert "broker-password" not in line
    assert before.unchanged()
    rerun = invoke("link", "Autumn", "--salesforce-campaign", world.other_campaign)
    assert rerun.exit_code == 0, rerun.output
    assert settled(world).state == "succeeded"


def test_link_create_new_with_the_broker_down_leaves_no_salesforce_campaign(
    world: World,
) -> None:
    before = Snapshot.take(world)
    refused = convsync("link", "Autumn", "--create-new", env=broker_down())
    assert refused.returncode == 1
    assert "nothing was linked" in error_line(refused)
    assert row_counts(world.sessions) == before.database
    campaigns = world.org.admin.summary()["Campaign"]
    assert campaigns["live"] == before.salesforce["Campaign"]["live"], campaigns


def test_campaigns_create_sync_new_with_the_broker_down_creates_nothing(world: World) -> None:
    before = Snapshot.take(world)
    refused = convsync(
        "campaigns", "create", "Winter", "--type", "Webinar", "--sync", "new",
        env=broker_down(),
    )  # fmt: skip
    assert refused.returncode == 1
    assert "cannot reach the broker" in error_line(refused)
    assert row_counts(world.sessions) == before.database
    assert world.org.admin.summary()["Campaign"]["live"] == before.salesforce["Campaign"]["live"]


def test_sync_with_the_broker_down_leaves_no_open_run_behind(world: World) -> None:
    spring_linked(world)
    refused = convsync("sync", "Spring", env=broker_down())
    assert refused.returncode == 1
    assert re.search(r"cannot reach the broker .*no run was started", error_line(refused))
    again = invoke("sync", "Spring")
    assert again.exit_code == 0, again.output
    assert re.match(r"queued run \d+ for Spring", again.stdout), again.stdout
    assert settled(world).state == "succeeded"


def test_a_command_with_the_redis_broker_down_says_so_at_once_and_links_nothing(
    world: World,
) -> None:
    """The broker is also the Redis that caps concurrent Salesforce requests."""
    before = Snapshot.take(world)
    refused = convsync(
        "link", "Autumn", "--salesforce-campaign", world.other_campaign,
        env={"CONVSYNC_BROKER_URL": UNREACHABLE_REDIS},
    )  # fmt: skip
    assert refused.returncode == 1
    line = error_line(refused)
    assert re.search(r"cannot reach Redis for the cap on concurrent Salesforce requests", line)
    assert "broker-password" not in line
    assert before.unchanged()


# ------------------------------------------------------------------ waits that end and say why


def test_status_and_sync_wait_say_no_worker_has_picked_the_run_up(
    world: World, tmp_path: Path
) -> None:
    """No worker consumes this broker: the run stays queued, and nothing claims it syncs."""
    idle_broker = {"CONVSYNC_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"}
    linked = convsync(
        "link", "Autumn", "--salesforce-campaign", world.other_campaign, env=idle_broker
    )
    assert linked.returncode == 0, linked.stderr
    shown = invoke("status", "Autumn")
    assert "syncing" not in shown.stdout
    assert "queued" in shown.stdout
    assert "picked it up" in flat(shown.stdout)
    waited = convsync("sync", "Autumn", "--wait", "--timeout", "2", env=idle_broker)
    assert waited.returncode == 1
    assert re.search(
        r"run \d+ is still queued after 2s: no worker has picked it up", error_line(waited)
    )


def test_a_worker_on_another_database_is_named_as_the_likely_cause(
    world: World, salesforce_env: dict[str, str], tmp_path: Path
) -> None:
    with fresh_postgres_database() as other_database, dedicated_redis_database() as broker:
        upgrade(make_engine(other_database))
        worker = WorkerProcess(
            {**salesforce_env, "CONVSYNC_DATABASE_URL": other_database,
             "CONVSYNC_BROKER_URL": broker, "CONVSYNC_RESULT_BACKEND": broker},
            tmp_path, name="elsewhere", concurrency=1,
        )  # fmt: skip
        try:
            worker.wait_ready()
            shared = {"CONVSYNC_BROKER_URL": broker, "CONVSYNC_RESULT_BACKEND": broker}
            linked = convsync(
                "link", "Autumn", "--salesforce-campaign", world.other_campaign, env=shared
            )
            assert linked.returncode == 0, linked.stderr
            eventually(lambda: "run not found in this worker's database" in worker.log())
            waited = convsync("sync", "Autumn", "--wait", "--timeout", "2", env=shared)
            assert waited.returncode == 1
            assert "a worker on another database drops the run" in error_line(waited)
        finally:
            worker.stop()


def test_sync_wait_says_the_run_is_retrying_while_salesforce_is_unreachable(world: World) -> None:
    spring_linked(world)
    world.org.admin.inject_faults(rate=1.0, kinds=["drop"])
    try:
        waited = invoke("sync", "Spring", "--wait", "--timeout", "25")
        assert waited.exit_code == 1
        assert re.search(r"run \d+: retrying \(\d of 5\) after: ", waited.stdout), waited.stdout
        assert re.search(r"is still running after 25s", one_error_line(waited))
    finally:
        world.org.admin.inject_faults(clear=True)
    # Salesforce is back: the next retry goes through, and the run ends by itself.
    run = eventually(world.run_ended, timeout=180)
    assert run.state == "succeeded", run.error


# ------------------------------------------------------------------ a deleted Salesforce campaign


def test_a_deleted_salesforce_campaign_fails_the_run_and_removes_nothing(world: World) -> None:
    spring_linked(world)
    members = {m["email"] for m in listed("members", "list", "Spring")}
    assert members == {"ann@example.com", "carl@example.com"}
    simple_salesforce_client(world.org).Campaign.delete(world.sf_campaign)

    result = invoke("sync", "Spring", "--wait", "--timeout", "120")
    assert result.exit_code == 1
    assert re.search(
        rf"failed: .*{world.sf_campaign} linked to 'Spring' was deleted or is not visible",
        one_error_line(result),
    )
    assert {m["email"] for m in listed("members", "list", "Spring") if m["status"]} == members
    (status,) = listed("status", "Spring")
    assert status["last_run"]["state"] == "failed"
    assert "was deleted or is not visible" in status["last_error"]
    assert listed("dlq", "list") == [], "a run failed for this reason is not a dead letter"


# ------------------------------------------------------------------ the database keeps one form


def test_the_database_refuses_a_15_character_salesforce_campaign_id(world: World) -> None:
    with pytest.raises(IntegrityError), world.sessions.begin() as session:
        session.execute(
            text(
                "INSERT INTO salesforce_links (campaign_id, salesforce_campaign_id, mode, state,"
                " initial_sync_done, linked_at) SELECT id, :sf, 'existing', 'active', false, now()"
                " FROM campaigns WHERE name = 'Autumn'"
            ),
            {"sf": world.other_campaign[:15]},
        )


def test_a_link_made_with_a_15_character_id_is_kept_in_its_18_character_form(
    world: World,
) -> None:
    linked = invoke("link", "Autumn", "--salesforce-campaign", world.other_campaign[:15])
    assert linked.exit_code == 0, linked.output
    (status,) = listed("status", "Autumn")
    assert (
        status["salesforce_campaign_id"] == world.other_campaign == to_18(world.other_campaign[:15])
    )
    assert settled(world).state == "succeeded"


# ------------------------------------------------------------------ output and interrupts


def test_json_output_stays_json_when_the_client_logs_in_again(world: World) -> None:
    """A re-login is logged; the log line goes to stderr, so `--json | jq` still works."""
    world.org.admin.inject_faults(next=1, kind="INVALID_SESSION_ID")
    process = convsync(
        "check-statuses", "Spring", "--salesforce-campaign", world.sf_campaign, "--json",
        env={"CONVSYNC_LOG_LEVEL": "INFO"},
    )  # fmt: skip
    assert process.returncode == 0, process.stderr
    assert "salesforce.relogin" in process.stderr
    assert json.loads(process.stdout)["gap"]


@pytest.fixture
def silent_database() -> Iterator[tuple[socket.socket, str]]:
    """A TCP port that accepts connections and never answers: start-up hangs on it."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(60)
    port = server.getsockname()[1]
    yield server, f"postgresql+psycopg://convsync@127.0.0.1:{port}/convsync?connect_timeout=60"
    server.close()


def test_ctrl_c_during_start_up_exits_130_with_one_line(
    silent_database: tuple[socket.socket, str], tmp_path: Path
) -> None:
    server, url = silent_database
    process = subprocess.Popen(
        [sys.executable, "-m", "convsync.cli", "campaigns", "list"],
        env={**os.environ, "CONVSYNC_DATABASE_URL": url},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    connection, _ = server.accept()  # the command is connecting: it is starting up
    try:
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        connection.close()
    assert process.returncode == 130, stderr
    assert stderr == "error: interrupted\n"
    assert stdout == ""


# ------------------------------------------------------------------ the emulator


@pytest.fixture
def first_emulator(tmp_path: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """A standalone `convsync emulator` on a free port, with its info file."""
    info_file = tmp_path / "emulator.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "convsync.cli", "emulator", "--port", "0",
         "--info-file", str(info_file)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path,
    )  # fmt: skip
    try:
        info = eventually(lambda: info_file.is_file() and json.loads(info_file.read_text()))
        yield info_file, info
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_second_emulator_on_a_busy_port_fails_and_leaves_the_first_ones_files(
    first_emulator: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    info_file, info = first_emulator
    ca_before, info_before = Path(info["ca_file"]).read_bytes(), info_file.read_text()
    port = info["url"].rsplit(":", 1)[1]
    second = convsync("emulator", "--port", port, "--info-file", str(info_file), cwd=tmp_path)
    assert second.returncode == 1
    assert re.search(rf"cannot listen on 127.0.0.1:{port}: it is in use", error_line(second))
    assert Path(info["ca_file"]).read_bytes() == ca_before
    assert info_file.read_text() == info_before


def test_the_emulator_refuses_a_malformed_credentials_file_in_one_line(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials.json"
    credentials.write_text('{"username": "u", "password": ')
    info_file = tmp_path / "emulator.json"
    process = convsync(
        "emulator", "--port", "0", "--credentials", str(credentials), "--info-file", str(info_file),
        cwd=tmp_path,
    )  # fmt: skip
    assert process.returncode == 1
    assert re.search(r"--credentials .*credentials.json: is not JSON", error_line(process))
    assert not info_file.exists()
