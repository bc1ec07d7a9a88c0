"""Bad input, catalogued (issue 16, part A): data printed as markup, names that are not
names, files that cannot be read unambiguously, and the commands that change types and
campaigns. Each case either ends in one `error:` line, exit 1 and nothing written, or
is accepted and then shows, literally, what the user typed (in its stored form).

The world: type Webinar (Invited, Registered, Attended); campaigns Spring (ann,
Registered), Autumn (empty) and Café (NFC, empty). No Salesforce, no worker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.support.catalogue import invoke, one_error_line, row_counts

NFD_CAFE = "Cafe\u0301"  # "Café" decomposed: e + a combining acute accent
HEADER = "email,status,first_name,last_name,company\n"


@dataclass(frozen=True)
class Case:
    """`expect` "error": exit 1 with one line matching `message`, nothing written.
    `expect` "ok": exit 0, then `then` (a command) prints `message` literally."""

    name: str
    argv: tuple[str, ...]
    message: str
    expect: str = "error"
    then: tuple[str, ...] = ()
    stdin: str | bytes | None = None
    file: str | bytes | None = None  # written to a file whose path ends the command


def error(name: str, message: str, *argv: str, stdin: str | bytes | None = None) -> Case:
    return Case(name, argv, message, stdin=stdin)


def shows(name: str, argv: tuple[str, ...], then: tuple[str, ...], text: str) -> Case:
    return Case(name, argv, text, expect="ok", then=then)


def create(name: str) -> tuple[str, ...]:
    return ("campaigns", "create", name, "--type", "Webinar")


def imports(name: str, content: str | bytes, message: str) -> Case:
    """`members import Spring FILE` with this content in FILE."""
    return Case(name, ("members", "import", "Spring"), message, file=content)


LIST_CAMPAIGNS = ("campaigns", "list")
LIST_TYPES = ("types", "list")
LIST_SPRING = ("members", "list", "Spring")

PRINTING = [
    shows("a campaign named a[/]b", create("a[/]b"), LIST_CAMPAIGNS, "a[/]b"),
    shows("a campaign named [red]Spring", create("[red]Spring2"), LIST_CAMPAIGNS, "[red]Spring2"),
    shows("a campaign named [/]", create("[/]"), LIST_CAMPAIGNS, "[/]"),
    shows("a campaign named x[/red]", create("x[/red]"), LIST_CAMPAIGNS, "x[/red]"),
    shows(
        "a type named a[/]b",
        ("types", "create", "a[/]b", "-s", "Going"),
        LIST_TYPES,
        "a[/]b",
    ),
    shows(
        "a status label [bold]Going",
        ("types", "create", "Party", "-s", "[bold]Going"),
        LIST_TYPES,
        "[bold]Going",
    ),
    shows(
        "an email with brackets",
        ("members", "add", "Spring", "[b]x@example.com", "Invited"),
        LIST_SPRING,
        "[b]x@example.com",
    ),
    shows(
        "a first name with markup",
        ("members", "add", "Spring", "bo@example.com", "Invited", "--first-name", "[i]Bo"),
        LIST_SPRING,
        "[i]Bo",
    ),
    shows(
        "the message after adding quotes the name literally",
        ("members", "add", "Spring", "cy@example.com", "Invited"),
        ("campaigns", "rename", "Spring", "[dim]Spring"),
        "renamed campaign Spring to [dim]Spring",
    ),
    shows(
        "a members table titled with markup",
        ("campaigns", "rename", "Spring", "[u]S"),
        ("members", "list", "[u]S"),
        "Members of [u]S",
    ),
]

NAMES = [
    error("a campaign name with a newline", "must not contain a newline", *create("Spr\ning")),
    error(
        "a campaign name with an escape sequence",
        "must not contain an escape",
        *create("\x1b[31mRed"),
    ),
    error("a type name with a tab", "must not contain a tab", "types", "create", "A\tB", "-s", "X"),
    error(
        "a status label with a newline",
        "must not contain a newline",
        "types",
        "create",
        "T",
        "-s",
        "Go\ning",
    ),
    error("a campaign name with a C1 control", "control character U\\+0085", *create("a\x85b")),
    error("a campaign name with DEL", "control character U\\+007F", *create("a\x7fb")),
    error("a campaign name with NUL", "control character U\\+0000", *create("a\x00b")),
    error(
        "a first name with a newline",
        "first name must not contain a newline",
        "members",
        "add",
        "Spring",
        "bob@example.com",
        "Invited",
        "--first-name",
        "B\nob",
    ),
    error(
        "a company with an escape",
        "company must not contain an escape",
        "members",
        "add",
        "Spring",
        "bob@example.com",
        "Invited",
        "--company",
        "A\x1b[2J",
    ),
    error(
        "an email with a C1 control",
        "is not a valid email",
        "members",
        "add",
        "Spring",
        "a\x9bb@example.com",
        "Invited",
    ),
    error("a campaign that differs only in case", "already exists", *create("spring")),
    error("a campaign that differs only in NFC form", "already exists", *create(NFD_CAFE)),
    error(
        "a type that differs only in case",
        "already exists",
        "types",
        "create",
        "WEBINAR",
        "-s",
        "A",
    ),
    error(
        "two labels that differ only in NFC form",
        "listed twice",
        "types",
        "create",
        "T",
        "-s",
        "Café",
        "-s",
        NFD_CAFE,
    ),
    shows(
        "a campaign looked up in another case",
        ("members", "add", "spring", "bob@example.com", "Invited"),
        LIST_SPRING,
        "bob@example.com",
    ),
    shows(
        "a campaign looked up with surrounding spaces",
        ("members", "add", "  Spring ", "bob@example.com", "Invited"),
        LIST_SPRING,
        "bob@example.com",
    ),
    shows(
        "a campaign looked up in NFD form",
        ("members", "add", NFD_CAFE, "bob@example.com", "Invited"),
        ("members", "list", "Café"),
        "bob@example.com",
    ),
    shows(
        "a status given in another case is stored as the type spells it",
        ("members", "add", "Spring", "bob@example.com", "attended"),
        LIST_SPRING,
        "Attended",
    ),
    shows(
        "a type looked up in another case",
        ("campaigns", "create", "Winter", "--type", "webinar"),
        LIST_CAMPAIGNS,
        "Winter",
    ),
    shows(
        "--default given in another case",
        ("types", "create", "Event", "-s", "Invited", "-s", "Came", "--default", "came"),
        LIST_TYPES,
        "Came",
    ),
    shows(
        "a name is stored in NFC form",
        create("Cafe\u0301 2"),
        LIST_CAMPAIGNS,
        "Café 2",
    ),
]

FILES = [
    imports(
        "an unquoted comma in a value",
        HEADER + "a@example.com,Invited,A,B,Acme, Inc\n",
        r"line 2: 6 fields where the header has 5",
    ),
    imports(
        "a row with fewer fields than the header",
        HEADER + "a@example.com,Invited\n",
        r"line 2: 2 fields where the header has 5",
    ),
    imports(
        "a repeated column",
        "email,email,status\na@example.com,b@example.com,Invited\n",
        r"column 'email' appears more than once",
    ),
    imports(
        "a repeated column in another case",
        "Email,email,status\na@example.com,b@example.com,Invited\n",
        r"column 'email' appears more than once",
    ),
    imports(
        "an unknown column",
        "email,status,firstname\na@example.com,Invited,Ann\n",
        r"unknown column 'firstname'",
    ),
    imports(
        "an unterminated quote at the end",
        HEADER + 'a@example.com,Invited,A,B,"Acme\nb@example.com,Invited,C,D,Beta\n',
        r"a quote is opened and never closed",
    ),
    imports(
        "a quote that swallows the next row",
        HEADER + 'a@example.com,Invited,A,B,"Acme\nb@example.com,Invited,C,D,Beta"\n',
        r"line 2: a quoted value runs over several lines",
    ),
    imports(
        "text after a closing quote",
        HEADER + 'a@example.com,Invited,A,B,"Acme"x\n',
        r"line 2: .*quote values",
    ),
    imports(
        "a field of 200 KB",
        HEADER + f"a@example.com,Invited,A,B,{'x' * 200_000}\n",
        r"line 2: a value is longer than 10,000 characters",
    ),
    imports(
        "bytes that are not UTF-8, on line 3",
        HEADER.encode() + b"a@example.com,Invited,A,B,C\nr\xe9ne@example.com,Invited,R,N,C\n",
        r"is not UTF-8 text \(line 3\)",
    ),
    error(
        "an unquoted comma on standard input",
        r"line 2: 3 fields where the header has 2",
        "members",
        "import",
        "Spring",
        "-",
        stdin="email,status\na@example.com,Invited,Acme\n",
    ),
    imports(
        "a first name too long for the column",
        HEADER + f"a@example.com,Invited,{'n' * 81},B,C\n",
        r"line 2: the first name must be at most 80 characters",
    ),
    imports(
        "a last name with an escape",
        HEADER + "a@example.com,Invited,A,\x1b[2JB,C\n",
        r"line 2: the last name must not contain an escape",
    ),
    imports(
        "good rows before a bad one are not imported",
        HEADER + "a@example.com,Invited,A,B,C\nb@example.com,Invited,A,B,C,D\n",
        r"line 3: 6 fields",
    ),
    Case(
        "a CSV on standard input",
        ("members", "import", "Spring", "-"),
        "b@example.com",
        expect="ok",
        then=LIST_SPRING,
        stdin="email,status\nb@example.com,Registered\n",
    ),
]

COMMANDS = [
    error(
        "removing a status that members hold",
        r"1 member\(s\) hold status 'Registered', in 'Spring' \(1\)",
        "types",
        "remove-status",
        "Webinar",
        "registered",
    ),
    error(
        "removing the default status",
        "is the default status",
        "types",
        "remove-status",
        "Webinar",
        "Invited",
    ),
    error(
        "removing a status the type lacks",
        "has no status 'Maybe'",
        "types",
        "remove-status",
        "Webinar",
        "Maybe",
    ),
    error(
        "adding a status the type has, in another case",
        "already has status 'Invited'",
        "types",
        "add-status",
        "Webinar",
        "INVITED",
    ),
    error(
        "adding a status with a newline",
        "must not contain a newline",
        "types",
        "add-status",
        "Webinar",
        "Wait\nlisted",
    ),
    error(
        "renaming a campaign onto another, in another case",
        "a campaign named 'Autumn' already exists",
        "campaigns",
        "rename",
        "Spring",
        "autumn",
    ),
    error(
        "renaming a type to an escape sequence",
        "must not contain an escape",
        "types",
        "rename",
        "Webinar",
        "\x1b]0;x\x07",
    ),
    error(
        "renaming a campaign that does not exist",
        "no campaign named 'Nope'",
        "campaigns",
        "rename",
        "Nope",
        "Yes",
    ),
    error("deleting a campaign without --yes", "add --yes", "campaigns", "delete", "Spring"),
    error(
        "deleting a campaign that does not exist",
        "no campaign named 'Nope'",
        "campaigns",
        "delete",
        "Nope",
        "--yes",
    ),
    shows(
        "a campaign renamed in case only",
        ("campaigns", "rename", "Spring", "SPRING"),
        LIST_CAMPAIGNS,
        "SPRING",
    ),
    shows(
        "a status added to a type",
        ("types", "add-status", "webinar", "Waitlisted", "--default"),
        LIST_TYPES,
        "Waitlisted",
    ),
]

MAPPINGS = [
    shows(
        "a mapping given the status in another case keeps the type's spelling",
        ("mapping", "set", "Spring", "attended", "Attended - Webinar"),
        ("mapping", "list", "Spring", "--json"),
        '"conversion_status": "Attended"',
    ),
    error(
        "a Salesforce label with a newline",
        "must not contain a newline",
        "mapping",
        "set",
        "Spring",
        "Attended",
        "Attended\nWebinar",
    ),
]

CASES = [*PRINTING, *NAMES, *FILES, *COMMANDS, *MAPPINGS]


@pytest.fixture
def world(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    for args in (
        ("types", "create", "Webinar", "-s", "Invited", "-s", "Registered", "-s", "Attended"),
        create("Spring"),
        create("Autumn"),
        create("Café"),
        ("members", "add", "Spring", "ann@example.com", "Registered"),
    ):
        result = invoke(*args)
        assert result.exit_code == 0, result.output
    return sessions


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_names_and_files_end_in_one_line_or_are_shown_as_typed(
    case: Case, world: sessionmaker[Session], tmp_path: Path
) -> None:
    argv = case.argv
    if case.file is not None:
        path = tmp_path / "members.csv"
        if isinstance(case.file, bytes):
            path.write_bytes(case.file)
        else:
            path.write_text(case.file, encoding="utf-8")
        argv = (*argv, str(path))
    counts = row_counts(world)
    result = invoke(*argv, stdin=case.stdin)

    if case.expect == "error":
        assert result.exit_code == 1, result.output
        assert re.search(case.message, one_error_line(result))
        assert row_counts(world) == counts, "a refused command wrote to the database"
    else:
        assert result.exit_code == 0, result.output
        shown = invoke(*case.then)
        assert shown.exit_code == 0, shown.output
        assert case.message in shown.output
