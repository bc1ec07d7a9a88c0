"""Small factories for end-to-end scenarios: both sides of a sync, arranged in a line."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from simple_salesforce import format_soql
from typer.testing import CliRunner

from convsync.cli.app import app
from convsync.salesforce_emulator.testing import EmulatorHandle, simple_salesforce_client
from tests.support.workers import WorkerProcess

runner = CliRunner()


def cli(*args: str) -> str:
    """Run a convsync command in-process; fail the test with its output if it fails."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (
        f"convsync {' '.join(args)} → {result.exit_code}:\n{result.output}"
    )
    return result.output


def cli_fails(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 1, f"expected exit 1, got {result.exit_code}:\n{result.output}"
    return result.output


def salesforce_campaign(
    org: EmulatorHandle,
    name: str,
    statuses: list[tuple[str, bool, bool]],
    members: list[tuple[str, str]],
) -> dict[str, Any]:
    """Seed a Salesforce campaign: statuses (label, default, responded), members (email, status)
    as Leads. Returns the seed result (campaign id, member ids, lead ids)."""
    leads = [
        {"LastName": email.split("@")[0], "Company": "Acme", "Email": email} for email, _ in members
    ]
    result = org.admin.seed(
        {
            "leads": leads,
            "campaigns": [
                {
                    "Name": name,
                    "statuses": [
                        {"Label": label, "IsDefault": default, "HasResponded": responded}
                        for label, default, responded in statuses
                    ],
                    "members": [
                        {"lead": i, "Status": status} for i, (_, status) in enumerate(members)
                    ],
                }
            ],
        }
    )
    campaign = result["campaigns"][0]
    campaign["leads"] = dict(zip([e for e, _ in members], result["leads"], strict=True))
    return campaign


def salesforce_members(org: EmulatorHandle, campaign_id: str) -> dict[str, str]:
    """email → status of the campaign's live members, read through simple-salesforce."""
    sf = simple_salesforce_client(org)
    query = format_soql(
        "SELECT Status, Lead.Email, Contact.Email FROM CampaignMember WHERE CampaignId = {}",
        campaign_id,
    )
    rows = sf.query_all(query)["records"]
    found = {}
    for row in rows:
        person = row.get("Contact") or row.get("Lead") or {}
        found[str(person.get("Email")).lower()] = row["Status"]
    return found


def eventually(check: Callable[[], Any], timeout: float = 60.0, interval: float = 0.3) -> Any:
    """Poll until `check()` returns something truthy (and return it), or fail."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


# ---------------------------------------------------------------- one worker per module


@contextmanager
def module_worker(env: Mapping[str, str], log_dir: Path) -> Iterator[WorkerProcess]:
    """A real `convsync worker` shared by the tests of one module.

    Starting a worker costs seconds; sharing one keeps the suite in budget. Tests stay
    independent because `org` empties both sides before each test and every test waits
    for its own runs to end before it returns. Messages earlier modules left queued are
    purged first: run ids restart with every truncation, so they would act on ours.
    """
    from convsync.workers.app import app

    app.control.purge()
    worker = WorkerProcess(env, log_dir, name="shared", concurrency=2)
    try:
        worker.wait_ready()
        yield worker
    finally:
        # Every test waited for its runs: the worker is idle, and a warm shutdown would
        # only add seconds per module.
        worker.kill_all()


# ---------------------------------------------------------------- the Conversion side

WEBINAR_STATUSES = ("Invited", "Registered", "Attended")


def cli_json(*args: str) -> Any:
    """Run a listing with `--json` and parse its standard output (stderr may carry logs)."""
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, (
        f"convsync {' '.join(args)} --json → {result.exit_code}:\n{result.output}"
    )
    return json.loads(result.stdout)


def one_line_error(output: str) -> str:
    """The error of a failed command, checked to be one line and no traceback."""
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got:\n{output}"
    assert lines[0].startswith("error: "), output
    return lines[0]


def conversion_type(
    name: str = "Webinar",
    statuses: Sequence[str] = WEBINAR_STATUSES,
    *,
    default: str | None = None,
    responded: Sequence[str] = (),
) -> str:
    """A campaign type (first status the default, last one responded unless told)."""
    args = ["types", "create", name]
    for status in statuses:
        args += ["--status", status]
    if default is not None:
        args += ["--default", default]
    for status in responded:
        args += ["--responded", status]
    cli(*args)
    return name


def conversion_campaign(name: str, type_name: str, members: Mapping[str, str] | None = None) -> str:
    """An unlinked Conversion campaign with members (email → status)."""
    cli("campaigns", "create", name, "--type", type_name)
    for email, status in (members or {}).items():
        cli("members", "add", name, email, status)
    return name


def members_here(campaign: str) -> dict[str, str]:
    """email → status of the campaign's members in Conversion."""
    return {m["email"]: m["status"] for m in cli_json("members", "list", campaign)}


def skipped_here(campaign: str) -> dict[str, dict[str, Any]]:
    """email → {status, reason, salesforce_member_id} of the members inbound skipped."""
    return {s["email"]: s for s in cli_json("members", "list", campaign, "--skipped")}


def link_status(campaign: str) -> dict[str, Any]:
    """`convsync status CAMPAIGN --json` for a campaign with one link."""
    [found] = cli_json("status", campaign)
    return dict(found)


def finished_run(campaign: str, after: int = 0, timeout: float = 60.0) -> dict[str, Any]:
    """Wait for the campaign's latest run (newer than run `after`) to end; return it."""

    def ended() -> dict[str, Any] | None:
        run = link_status(campaign)["last_run"]
        if run and run["id"] > after and run["state"] in ("succeeded", "failed"):
            return dict(run)
        return None

    run: dict[str, Any] = eventually(ended, timeout=timeout)
    return run


def succeeded_run(campaign: str, after: int = 0) -> dict[str, Any]:
    run = finished_run(campaign, after)
    assert run["state"] == "succeeded", run
    return run


def sync_now(campaign: str) -> str:
    """`convsync sync CAMPAIGN --wait`: one run, start to end; returns what it printed."""
    return cli("sync", campaign, "--wait", "--timeout", "90")


def dead_letters(campaign: str | None = None, *, include_resolved: bool = False) -> list[Any]:
    args = ["dlq", "list"]
    if campaign is not None:
        args += ["--campaign", campaign]
    if include_resolved:
        args.append("--all")
    return list(cli_json(*args))


# ---------------------------------------------------------------- the Salesforce side

WEBINAR_IN_SALESFORCE = [(s, s == "Invited", s == "Attended") for s in WEBINAR_STATUSES]


def linked_spring(
    org: EmulatorHandle, here: Mapping[str, str], there: Mapping[str, str] | None = None
) -> str:
    """Spring (Webinar) with `here`, linked to "Spring SF" holding `there` (none by
    default), initial sync done; the Salesforce campaign's id."""
    conversion_type()
    conversion_campaign("Spring", "Webinar", here)
    sf = salesforce_campaign(org, "Spring SF", WEBINAR_IN_SALESFORCE, list((there or {}).items()))
    cli("link", "Spring", "--salesforce-campaign", sf["id"])
    succeeded_run("Spring")
    return str(sf["id"])


def salesforce_member_ids(org: EmulatorHandle, campaign_id: str) -> dict[str, str]:
    """email → CampaignMember id of the campaign's live members."""
    sf = simple_salesforce_client(org)
    query = format_soql(
        "SELECT Id, Lead.Email, Contact.Email FROM CampaignMember WHERE CampaignId = {}",
        campaign_id,
    )
    found = {}
    for row in sf.query_all(query)["records"]:
        person = row.get("Contact") or row.get("Lead") or {}
        found[str(person.get("Email")).lower()] = row["Id"]
    return found


def set_salesforce_status(org: EmulatorHandle, campaign_id: str, email: str, status: str) -> None:
    """A user changes a member's status in Salesforce."""
    member_id = salesforce_member_ids(org, campaign_id)[email]
    simple_salesforce_client(org).CampaignMember.update(member_id, {"Status": status})


def delete_salesforce_member(org: EmulatorHandle, campaign_id: str, email: str) -> None:
    """A user removes a member from the campaign in Salesforce."""
    member_id = salesforce_member_ids(org, campaign_id)[email]
    simple_salesforce_client(org).CampaignMember.delete(member_id)


def add_salesforce_member(org: EmulatorHandle, campaign_id: str, email: str, status: str) -> str:
    """A user adds a new Lead to the campaign in Salesforce; returns the member id."""
    sf = simple_salesforce_client(org)
    lead = sf.Lead.create({"LastName": email.partition("@")[0], "Company": "Acme", "Email": email})
    member = sf.CampaignMember.create(
        {"CampaignId": campaign_id, "LeadId": lead["id"], "Status": status}
    )
    return str(member["id"])


def add_salesforce_status(
    org: EmulatorHandle, campaign_id: str, label: str, *, responded: bool = False
) -> None:
    """A user adds a CampaignMemberStatus to the campaign in Salesforce."""
    simple_salesforce_client(org).CampaignMemberStatus.create(
        {"CampaignId": campaign_id, "Label": label, "HasResponded": responded}
    )


def salesforce_statuses(org: EmulatorHandle, campaign_id: str) -> list[tuple[str, bool, bool, int]]:
    """(label, default, responded, sort order) of the campaign's statuses, by sort order."""
    sf = simple_salesforce_client(org)
    query = format_soql(
        "SELECT Label, IsDefault, HasResponded, SortOrder FROM CampaignMemberStatus "
        "WHERE CampaignId = {} ORDER BY SortOrder",
        campaign_id,
    )
    return [
        (r["Label"], r["IsDefault"], r["HasResponded"], int(r["SortOrder"]))
        for r in sf.query_all(query)["records"]
    ]


def salesforce_campaigns(org: EmulatorHandle) -> dict[str, str]:
    """name → id of every Campaign in the org."""
    rows = simple_salesforce_client(org).query_all("SELECT Id, Name FROM Campaign")["records"]
    return {r["Name"]: r["Id"] for r in rows}


WRITES = ("sobjects:POST", "sobjects:PATCH", "sobjects:DELETE", "composite/sobjects", "bulk2")


def salesforce_writes(org: EmulatorHandle) -> dict[str, int]:
    """The write calls the emulator served since the last counter reset, by endpoint."""
    by_endpoint = org.admin.counters()["by_endpoint"]
    return {k: n for k, n in by_endpoint.items() if k.startswith(WRITES) and n}
