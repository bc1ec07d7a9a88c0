"""Bad input, catalogued: each case ends in one clear line and exit code 1 with nothing
written on either side, or in a skip / dead letter the user can list, or (the API
budget running out mid-run) in a failed run that keeps its state and resumes. Never a
traceback, never a partial write.

One table, one test. Cases that need a run to happen share one real worker, started
for this module on first use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from convsync.salesforce.soql import to_18
from convsync.salesforce_emulator.auth import Credentials
from convsync.salesforce_emulator.testing import EmulatorHandle
from convsync.store.tables import RunRow
from tests.support.catalogue import invoke, one_error_line, row_counts
from tests.support.scenario import eventually, salesforce_campaign
from tests.support.workers import WorkerProcess

WEBINAR = [("Invited", True, False), ("Registered", False, False), ("Attended", False, True)]
ODD_STATUS = "Atténded ✓"  # an accent and a symbol: not the type's "Attended"


# ------------------------------------------------------------------ the world each case meets


@dataclass
class World:
    """Conversion: type Webinar, campaigns Spring (ann, Invited) and Autumn (empty).
    Salesforce: campaigns "Spring SF" (carl, Registered) and "Other SF", a Lead and a
    Contact whose ids are wrong-object-type campaign ids."""

    org: EmulatorHandle
    sessions: sessionmaker[Session]
    files: Path
    start_worker: Callable[[], WorkerProcess]
    sf_campaign: str = ""
    other_campaign: str = ""
    lead: str = ""
    contact: str = ""
    undo: list[Callable[[], None]] = field(default_factory=list)

    def file(self, name: str, content: str | bytes) -> str:
        path = self.files / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return str(path)

    def latest_run(self) -> RunRow | None:
        with self.sessions() as session:
            return session.scalar(select(RunRow).order_by(RunRow.id.desc()).limit(1))

    def run_ended(self) -> RunRow | None:
        run = self.latest_run()
        return run if run is not None and run.state in ("succeeded", "failed") else None

    def link_and_wait(self, campaign: str, salesforce_campaign: str, *more: str) -> None:
        self.start_worker()
        invoke("link", campaign, "--salesforce-campaign", salesforce_campaign, *more)
        run = eventually(self.run_ended, timeout=120)
        assert run.state == "succeeded", run.error


# ------------------------------------------------------------------ arrangements


def nothing(world: World) -> None:
    return None


def spring_linked(world: World) -> None:
    world.link_and_wait("Spring", world.sf_campaign)


def credentials_revoked(world: World) -> None:
    """The integration user's password changed in Salesforce; every session is ended."""
    sessions = world.org.app.sessions
    before = sessions.credentials
    sessions.credentials = Credentials(password="rotated-password-and-token")
    sessions.expire_all()
    world.undo.append(lambda: setattr(sessions, "credentials", before))


def salesforce_members(*members: dict[str, Any]) -> Callable[[World], None]:
    """Seed a campaign "Bad SF" with these member specs (lead fields + Status)."""

    def arrange(world: World) -> None:
        statuses = [
            {"Label": label, "IsDefault": default, "HasResponded": responded}
            for label, default, responded in [*WEBINAR, (ODD_STATUS, False, False)]
        ]
        leads = [{k: v for k, v in m.items() if k != "Status"} for m in members]
        seeded = world.org.admin.seed(
            leads=leads,
            campaigns=[
                {
                    "Name": "Bad SF",
                    "statuses": statuses,
                    "members": [{"lead": i, "Status": m["Status"]} for i, m in enumerate(members)],
                }
            ],
        )
        world.other_campaign = seeded["campaigns"][0]["id"]

    return arrange


def null_status(world: World) -> None:
    """A member whose Status is null (an unrestricted picklist, a data load gone wrong):
    set behind the API's back, since the API itself never stores one."""
    salesforce_members(
        {"LastName": "Nil", "Company": "Acme", "Email": "nil@example.com", "Status": "Invited"}
    )(world)
    store = world.org.app.store
    for member in store.tables["CampaignMember"].values():
        if member and member["CampaignId"] == world.other_campaign:
            member["Status"] = None


def status_missing_in_salesforce(world: World) -> None:
    labels = [label for label, _, _ in WEBINAR]
    invoke("types", "create", "Odd", *(f"--status={label}" for label in [*labels, ODD_STATUS]))
    invoke("campaigns", "create", "Odd one", "--type", "Odd")
    invoke("members", "add", "Odd one", "odd@example.com", ODD_STATUS)


def budget_nearly_spent(world: World) -> None:
    """Linked and synced; then 450 new members, with two API calls left in the day."""
    spring_linked(world)
    rows = "\n".join(f"new{i}@example.com,Registered" for i in range(450))
    invoke("members", "import", "Spring", world.file("many.csv", f"email,status\n{rows}\n"))
    usage = world.org.admin.counters()["api_usage"]
    world.org.admin.set_limits(used=usage["max"] - 2)


# ------------------------------------------------------------------ the catalogue


Argv = Callable[[World], tuple[str, ...]]


@dataclass(frozen=True)
class Case:
    """`expect`: "error" (exit 1, this one line, nothing written), "skip" or
    "dead_letter" (the run succeeds and records one, matching), or "run_failed"
    (exit 1 with this line; the run failed with its state kept and resumes)."""

    name: str
    argv: Argv
    message: str
    arrange: Callable[[World], None] = nothing
    expect: str = "error"


def argv(*args: str) -> Argv:
    return lambda _world: args


def link_autumn(campaign_id: str) -> Argv:
    return argv("link", "Autumn", "--salesforce-campaign", campaign_id)


NO_CAMPAIGN = to_18("701Hs0000009999")
BAD_ID = r"is not a valid Salesforce Campaign id"

CASES = [
    # -- Salesforce ids
    Case("id too short", link_autumn("701"), BAD_ID),
    Case("id of 14 characters", link_autumn("701Hs000000000"), BAD_ID),
    Case("id with a wrong checksum", link_autumn("701Hs0000000001ZZZ"), "checksum mismatch"),
    Case("id carrying SOQL", link_autumn("701Hs0000000001' OR Id != null"), BAD_ID),
    Case("id with odd Unicode", link_autumn("701Hs000000000é"), BAD_ID),
    Case("huge id", link_autumn("701" + "A" * 5_000), BAD_ID),
    Case("empty id", link_autumn(""), "give exactly one of --salesforce-campaign"),
    Case(
        "a Lead id where a Campaign id belongs",
        lambda w: ("link", "Autumn", "--salesforce-campaign", w.lead),
        r"\(it is a Lead id\)",
    ),
    Case(
        "a Contact id where a Campaign id belongs",
        lambda w: ("check-statuses", "Autumn", "--salesforce-campaign", w.contact),
        r"\(it is a Contact id\)",
    ),
    Case("well-formed id of no campaign", link_autumn(NO_CAMPAIGN), "does not exist"),
    Case(
        "creating a campaign synced to no campaign",
        argv(
            "campaigns",
            "create",
            "Winter",
            "--type",
            "Webinar",
            "--sync",
            "existing",
            "--salesforce-campaign",
            NO_CAMPAIGN,
        ),
        "does not exist",
    ),
    Case(
        "creating a campaign synced to a malformed id",
        argv(
            "campaigns",
            "create",
            "Winter",
            "--type",
            "Webinar",
            "--sync",
            "existing",
            "--salesforce-campaign",
            "701'--",
        ),
        BAD_ID,
    ),
    Case(
        "--sync existing without an id",
        argv("campaigns", "create", "Winter", "--type", "Webinar", "--sync", "existing"),
        "needs --salesforce-campaign",
    ),
    Case(
        "--salesforce-campaign without --sync existing",
        argv(
            "campaigns",
            "create",
            "Winter",
            "--type",
            "Webinar",
            "--salesforce-campaign",
            NO_CAMPAIGN,
        ),
        "goes with --sync existing",
    ),
    Case(
        "both --salesforce-campaign and --create-new",
        lambda w: ("link", "Autumn", "--salesforce-campaign", w.sf_campaign, "--create-new"),
        "give exactly one of",
    ),
    # -- unknown names
    Case(
        "link an unknown campaign",
        lambda w: ("link", "Nope", "--salesforce-campaign", w.sf_campaign),
        "no campaign named 'Nope'",
    ),
    Case(
        "check statuses of an unknown campaign",
        lambda w: ("check-statuses", "Nope", "--salesforce-campaign", w.sf_campaign),
        "no campaign named 'Nope'",
    ),
    Case(
        "campaign of an unknown type",
        argv("campaigns", "create", "Winter", "--type", "Nope"),
        "no campaign type named 'Nope'",
    ),
    Case(
        "member of an unknown campaign",
        argv("members", "add", "Nope", "x@example.com", "Invited"),
        "no campaign named 'Nope'",
    ),
    Case("huge campaign name", argv("members", "list", "C" * 10_000), "no campaign named"),
    # -- names and types
    Case(
        "blank campaign name",
        argv("campaigns", "create", "   ", "--type", "Webinar"),
        "must not be empty",
    ),
    Case(
        "campaign name over 80 characters",
        argv("campaigns", "create", "x" * 81, "--type", "Webinar"),
        "at most 80 characters",
    ),
    Case(
        "campaign name taken",
        argv("campaigns", "create", "Spring", "--type", "Webinar"),
        "already exists",
    ),
    Case("blank type name", argv("types", "create", "", "-s", "A"), "must not be empty"),
    Case("blank status label", argv("types", "create", "T", "-s", ""), "must not be empty"),
    Case(
        "status over 40 characters",
        argv("types", "create", "T", "-s", "s" * 41),
        "at most 40 characters",
    ),
    Case(
        "status listed twice in other case",
        argv("types", "create", "T", "-s", "Going", "-s", "going"),
        "listed twice",
    ),
    Case(
        "default not among the statuses",
        argv("types", "create", "T", "-s", "A", "--default", "B"),
        "is not one of the statuses",
    ),
    Case("type name taken", argv("types", "create", "Webinar", "-s", "A"), "already exists"),
    # -- members: emails and statuses
    Case(
        "malformed email",
        argv("members", "add", "Spring", "not-an-email", "Invited"),
        "is not a valid email address",
    ),
    Case(
        "empty email",
        argv("members", "add", "Spring", "", "Invited"),
        "is not a valid email address",
    ),
    Case(
        "two emails in one",
        argv("members", "add", "Spring", "a@example.com\nb@example.com", "Invited"),
        "is not a valid email address",
    ),
    Case(
        "huge email",
        argv("members", "add", "Spring", "a" * 300 + "@example.com", "Invited"),
        "longer than 254 characters",
    ),
    Case(
        "first name of 100 characters",
        argv("members", "add", "Spring", "bob@example.com", "Invited", "--first-name", "n" * 100),
        "the first name must be at most 80 characters",
    ),
    Case(
        "unknown status",
        argv("members", "add", "Spring", "bob@example.com", "Maybe"),
        "is not in campaign type 'Webinar'",
    ),
    Case(
        "status with an accent",
        argv("members", "add", "Spring", "bob@example.com", "Invitéd"),
        "is not in campaign type",
    ),
    Case(
        "status with a zero-width space",
        argv("members", "add", "Spring", "bob@example.com", "Invited\u200b"),
        "is not in campaign type",
    ),
    Case(
        "status in full-width letters",
        argv(
            "members",
            "add",
            "Spring",
            "bob@example.com",
            "Ｉｎｖｉｔｅｄ",  # noqa: RUF001 - full-width letters on purpose
        ),
        "is not in campaign type",
    ),
    Case(
        "status carrying SOQL",
        argv("members", "add", "Spring", "bob@example.com", "Invited' OR Status != '"),
        "is not in campaign type",
    ),
    Case(
        "status with backslash and wildcards",
        argv("members", "add", "Spring", "bob@example.com", "Invited\\%_"),
        "is not in campaign type",
    ),
    Case(
        "huge status",
        argv("members", "add", "Spring", "bob@example.com", "S" * 10_000),
        "is not in campaign type",
    ),
    Case(
        "add a member twice",
        argv("members", "add", "Spring", "ann@example.com", "Invited"),
        "already a member",
    ),
    Case(
        "set a non-member",
        argv("members", "set", "Spring", "nobody@example.com", "Invited"),
        "is not a member",
    ),
    Case(
        "remove a non-member",
        argv("members", "remove", "Spring", "nobody@example.com"),
        "is not a member",
    ),
    # -- files
    Case(
        "import a missing file",
        argv("members", "import", "Spring", "/nonexistent/x.csv"),
        "no such file",
    ),
    Case(
        "import rows with a bad email, an unknown status and a repeat",
        lambda w: (
            "members",
            "import",
            "Spring",
            w.file(
                "bad.csv",
                "email,status\nok@example.com,Invited\nnot-an-email,Invited\n"
                "bob@example.com,Maybe\nok@example.com,Registered\n",
            ),
        ),
        "nothing imported",
    ),
    Case(
        "import a file that is not UTF-8",
        lambda w: (
            "members",
            "import",
            "Spring",
            w.file("latin1.csv", "email,status\nrené@example.com,Invited\n".encode("latin-1")),
        ),
        "is not UTF-8",
    ),
    Case(
        "import an empty file",
        lambda w: ("members", "import", "Spring", w.file("empty.csv", "")),
        "needs a header row",
    ),
    Case(
        "import a company name of 300 characters",
        lambda w: (
            "members",
            "import",
            "Spring",
            w.file("long.csv", f"email,status,company\nz@example.com,Invited,{'c' * 300}\n"),
        ),
        "line 2: the company must be at most 255 characters",
    ),
    Case(
        "import 50,000 rows, the last one bad",
        lambda w: (
            "members",
            "import",
            "Spring",
            w.file(
                "huge.csv",
                "email,status\n"
                + "".join(f"p{i}@example.com,Invited\n" for i in range(49_999))
                + "last@example.com,Maybe\n",
            ),
        ),
        "nothing imported",
    ),
    # -- links
    Case("sync an unlinked campaign", argv("sync", "Autumn"), "is not linked"),
    Case("unlink an unlinked campaign", argv("unlink", "Autumn"), "is not linked"),
    Case(
        "replay an unknown dead letter",
        argv("dlq", "replay", "424242"),
        "no open dead letter with id 424242",
    ),
    Case(
        "link one campaign twice",
        lambda w: ("link", "Spring", "--salesforce-campaign", w.other_campaign),
        "'Spring' is already linked",
        arrange=spring_linked,
    ),
    Case(
        "link two campaigns to one Salesforce campaign",
        lambda w: ("link", "Autumn", "--salesforce-campaign", w.sf_campaign),
        "already linked to another campaign",
        arrange=spring_linked,
    ),
    Case(
        "revoked credentials",
        lambda w: ("check-statuses", "Spring", "--salesforce-campaign", w.sf_campaign),
        "Salesforce login failed .*: check CONVSYNC_SALESFORCE_USERNAME",
        arrange=credentials_revoked,
    ),
    # -- what a run records instead of failing
    Case(
        "a Salesforce member whose Lead has no email",
        lambda w: ("link", "Autumn", "--salesforce-campaign", w.other_campaign),
        "no valid email",
        arrange=salesforce_members({"LastName": "Anon", "Company": "Acme", "Status": "Invited"}),
        expect="skip",
    ),
    Case(
        "a Salesforce member with a null status",
        lambda w: ("link", "Autumn", "--salesforce-campaign", w.other_campaign, "--force"),
        "is not in the campaign type",
        arrange=null_status,
        expect="skip",
    ),
    Case(
        "a Salesforce status with odd Unicode the type lacks",
        lambda w: ("link", "Autumn", "--salesforce-campaign", w.other_campaign, "--force"),
        f"status '{ODD_STATUS}' is not in the campaign type",
        arrange=salesforce_members(
            {
                "LastName": "Odd",
                "Company": "Acme",
                "Email": "o'd\\d@example.com",
                "Status": ODD_STATUS,
            }
        ),
        expect="skip",
    ),
    Case(
        "a Conversion status with odd Unicode the Salesforce campaign lacks",
        lambda w: ("link", "Odd one", "--salesforce-campaign", w.sf_campaign),
        f"status '{ODD_STATUS}' does not exist on Salesforce campaign",
        arrange=status_missing_in_salesforce,
        expect="dead_letter",
    ),
    Case(
        "API limit reached mid-run",
        argv("sync", "Spring", "--wait", "--timeout", "120"),
        r"run \d+ failed: Salesforce API limit reached",
        arrange=budget_nearly_spent,
        expect="run_failed",
    ),
]


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def module_worker(
    salesforce_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], WorkerProcess]]:
    """One worker for the cases that need a run; started on first use.

    Its budget share is 1.0 and its waits for the API budget start at 0.2 s (about 6 s
    in all) so that the API-limit case fails within seconds instead of pacing.
    """
    started: list[WorkerProcess] = []

    def start() -> WorkerProcess:
        if not started:
            env = {
                **salesforce_env,
                "CONVSYNC_SALESFORCE_BUDGET_SHARE": "1.0",
                "CONVSYNC_API_LIMIT_RETRY_SECONDS": "0.2",
            }
            worker = WorkerProcess(env, tmp_path_factory.mktemp("bad-input-worker"), name="bad")
            started.append(worker)
            worker.wait_ready()
        return started[0]

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def world(
    org: EmulatorHandle,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    module_worker: Callable[[], WorkerProcess],
) -> Iterator[World]:
    for args in (
        ("types", "create", "Webinar", "-s", "Invited", "-s", "Registered", "-s", "Attended"),
        ("campaigns", "create", "Spring", "--type", "Webinar"),
        ("campaigns", "create", "Autumn", "--type", "Webinar"),
        ("members", "add", "Spring", "ann@example.com", "Invited"),
    ):
        assert invoke(*args).exit_code == 0
    spring = salesforce_campaign(org, "Spring SF", WEBINAR, [("carl@example.com", "Registered")])
    other = salesforce_campaign(org, "Other SF", WEBINAR, [])
    people = org.admin.seed(contacts=[{"LastName": "Doe", "Email": "doe@example.com"}])
    built = World(
        org,
        sessions,
        tmp_path,
        module_worker,
        sf_campaign=spring["id"],
        other_campaign=other["id"],
        lead=spring["leads"]["carl@example.com"],
        contact=people["contacts"][0],
    )
    yield built
    for undo in built.undo:
        undo()


# ------------------------------------------------------------------ the test


def listed(*args: str) -> list[dict[str, Any]]:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    return list(json.loads(result.stdout))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_ends_in_one_line_or_a_record_never_a_traceback(case: Case, world: World) -> None:
    case.arrange(world)
    args = case.argv(world)
    counts, salesforce = row_counts(world.sessions), world.org.admin.summary()
    result = invoke(*args)

    if case.expect == "error":
        assert result.exit_code == 1, result.output
        assert re.search(case.message, one_error_line(result))
        assert row_counts(world.sessions) == counts, "a refused command wrote to the database"
        assert world.org.admin.summary() == salesforce, "a refused command wrote to Salesforce"
    elif case.expect == "run_failed":
        assert result.exit_code == 1, result.output
        assert re.search(case.message, one_error_line(result))
        world.org.admin.set_limits(used=0)  # the next day
        resumed = invoke("sync", "Spring", "--wait", "--timeout", "120")
        assert resumed.exit_code == 0, resumed.output
        assert len(listed("members", "list", "Spring")) == 452  # ann, carl and the 450
    else:
        assert result.exit_code == 0, result.output
        run = eventually(world.run_ended, timeout=120)
        assert run.state == "succeeded", run.error
        if case.expect == "skip":
            skipped = listed("members", "list", args[1], "--skipped")
            assert [s["reason"] for s in skipped if re.search(case.message, s["reason"])]
        else:
            letters = listed("dlq", "list")
            assert [d["message"] for d in letters if re.search(case.message, d["message"])]
    if case.expect != "error":
        assert "Traceback" not in world.start_worker().log()
