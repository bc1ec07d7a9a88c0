"""The admin commands, through Typer's runner and once through a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from convsync.cli.app import app

runner = CliRunner()


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def webinar(sessions: sessionmaker[Session]) -> str:
    assert (
        cli("types", "create", "Webinar", "-s", "Invited", "-s", "Registered", "-s", "Attended")[0]
        == 0
    )
    assert cli("campaigns", "create", "Spring Webinar", "--type", "Webinar")[0] == 0
    return "Spring Webinar"


def members(campaign: str) -> list[dict[str, object]]:
    code, output = cli("members", "list", campaign, "--json")
    assert code == 0, output
    return json.loads(output)


def test_first_status_is_the_default(sessions: sessionmaker[Session]) -> None:
    cli("types", "create", "Event", "-s", "Invited", "-s", "Came")
    code, output = cli("types", "list", "--json")
    assert code == 0
    [event] = json.loads(output)
    assert [s["is_default"] for s in event["statuses"]] == [True, False]


def test_default_can_be_chosen(sessions: sessionmaker[Session]) -> None:
    cli("types", "create", "Event", "-s", "Invited", "-s", "Came", "--default", "Came")
    [event] = json.loads(cli("types", "list", "--json")[1])
    assert [s["label"] for s in event["statuses"] if s["is_default"]] == ["Came"]


def test_add_then_list_a_member(webinar: str) -> None:
    assert cli("members", "add", webinar, "Ann@Example.com", "Invited")[0] == 0
    assert [(m["email"], m["status"]) for m in members(webinar)] == [("ann@example.com", "Invited")]


def test_set_changes_a_status(webinar: str) -> None:
    cli("members", "add", webinar, "ann@example.com", "Invited")
    assert cli("members", "set", webinar, "ann@example.com", "Attended")[0] == 0
    assert members(webinar)[0]["status"] == "Attended"


def test_remove_hides_the_member(webinar: str) -> None:
    cli("members", "add", webinar, "ann@example.com", "Invited")
    assert cli("members", "remove", webinar, "ann@example.com")[0] == 0
    assert members(webinar) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("campaigns", "create", "X", "--type", "Nope"), "no campaign type named 'Nope'"),
        (("campaigns", "create", "Spring Webinar", "--type", "Webinar"), "already exists"),
        (("types", "create", "Webinar", "-s", "A"), "already exists"),
        (("types", "create", "Dup", "-s", "A", "-s", "a"), "listed twice"),
        (("members", "add", "Nope", "a@example.com", "Invited"), "no campaign named 'Nope'"),
        (("members", "add", "Spring Webinar", "not-an-email", "Invited"), "not a valid email"),
        (("members", "add", "Spring Webinar", "a@example.com", "Clicked"), "not in campaign type"),
        (("members", "set", "Spring Webinar", "z@example.com", "Invited"), "not a member"),
        (("members", "import", "Spring Webinar", "/no/such.csv"), "no such file"),
    ],
    ids=[
        "unknown-type",
        "duplicate-campaign",
        "duplicate-type",
        "duplicate-status",
        "unknown-campaign",
        "malformed-email",
        "status-not-in-type",
        "set-non-member",
        "missing-file",
    ],
)
def test_bad_input_exits_1_with_one_line_and_writes_nothing(
    webinar: str, args: tuple[str, ...], message: str
) -> None:
    code, output = cli(*args)
    assert code == 1
    assert message in output
    assert output.strip().count("\n") == 0
    assert "Traceback" not in output
    assert members(webinar) == []


def test_csv_import_is_all_or_nothing_with_bad_lines_listed(webinar: str, tmp_path: Path) -> None:
    csv = tmp_path / "m.csv"
    csv.write_text("email,status\nok@example.com,Invited\nbad,Invited\nx@example.com,Nope\n")
    code, output = cli("members", "import", webinar, str(csv))
    assert code == 1
    assert "line 3" in output
    assert "line 4" in output
    assert members(webinar) == []


def test_csv_import_loads_many_rows_with_names(webinar: str, tmp_path: Path) -> None:
    csv = tmp_path / "m.csv"
    rows = "".join(f"p{i}@example.com,Registered,First{i},Last{i},Acme\n" for i in range(5_000))
    csv.write_text("email,status,first_name,last_name,company\n" + rows)
    code, output = cli("members", "import", webinar, str(csv))
    assert code == 0, output
    assert "5000 rows" in output
    listed = members(webinar)
    assert len(listed) == 5_000
    assert listed[0]["company"] == "Acme"


def test_reimporting_the_same_csv_changes_nothing(webinar: str, tmp_path: Path) -> None:
    csv = tmp_path / "m.csv"
    csv.write_text("email,status\na@example.com,Invited\nb@example.com,Attended\n")
    cli("members", "import", webinar, str(csv))
    code, output = cli("members", "import", webinar, str(csv))
    assert code == 0
    assert "(0 added or changed)" in output


def test_the_console_script_reports_errors_in_one_line(
    webinar: str, service_env: dict[str, str]
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "convsync.cli", "members", "add", webinar, "x@example.com", "Nope"],
        env={**os.environ, **service_env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: status 'Nope' is not in campaign type")
    assert "Traceback" not in result.stderr


def test_usage_errors_exit_2(sessions: sessionmaker[Session]) -> None:
    assert cli("members", "list")[0] == 2
