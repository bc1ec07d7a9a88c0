"""`convsync.api` when a service is down: an edit is never lost for want of a broker, and
what does fail is one of the domain's errors, in a real process with the real drivers.
"""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy.orm import Session, sessionmaker

from convsync import api
from convsync.store import links
from convsync.store.db import transaction
from convsync.store.tables import CampaignRow

NO_BROKER = {"CONVSYNC_BROKER_URL": "redis://127.0.0.1:1/0"}
NO_DATABASE = {"CONVSYNC_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/convsync"}
# Calls one function of `convsync.api` with string arguments; prints what came of it.
CALL = """
import sys
from convsync import api
from convsync.domain.errors import ConvsyncError, ServiceUnavailableError
try:
    print("returned", getattr(api, sys.argv[1])(*sys.argv[2:]))
except ServiceUnavailableError as error:  # whichever service it names
    print("ServiceUnavailableError", error)
except ConvsyncError as error:
    print(type(error).__name__, error)
"""


def call(env: dict[str, str], function: str, *args: str) -> tuple[str, str]:
    """The API called in a fresh process: (what came of it, what it logged before). Any
    error other than a domain one fails here."""
    done = subprocess.run(
        [sys.executable, "-c", CALL, function, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    *logged, outcome = done.stdout.strip().splitlines()
    return outcome, "\n".join([*logged, done.stderr])


def linked_campaign(sessions: sessionmaker[Session]) -> None:
    """'Spring' with ann, linked (the link recorded as the link use case would)."""
    api.create_type("Webinar", ["Invited", "Attended"])
    api.create_campaign("Spring", "Webinar")
    api.add_member("Spring", "ann@example.com", "Invited")
    with transaction(sessions) as session:
        campaign = session.query(CampaignRow).filter_by(name="Spring").one()
        links.add_link(session, campaign.id, "701000000000001AAA", "existing")


def test_an_edit_is_saved_and_left_pending_when_its_push_cannot_be_requested(
    sessions: sessionmaker[Session],
) -> None:
    linked_campaign(sessions)

    said, logged = call(NO_BROKER, "set_member_status", "Spring", "ann@example.com", "Attended")

    assert said == "returned True"
    assert "edit saved; its push waits for the next scheduled sync" in logged
    assert {m.email: m.status for m in api.members("Spring")} == {"ann@example.com": "Attended"}
    assert api.status("Spring")[0].pending_edits == 1  # beat's next tick pushes it


def test_a_sync_that_cannot_be_queued_is_a_service_unavailable_error(
    sessions: sessionmaker[Session],
) -> None:
    linked_campaign(sessions)

    said, _ = call(NO_BROKER, "sync_now", "Spring")

    assert said.startswith("ServiceUnavailableError cannot reach the broker at CONVSYNC_BROKER_URL")
    assert said.endswith("no run was started")


def test_a_database_that_cannot_be_reached_is_a_service_unavailable_error(
    sessions: sessionmaker[Session],
) -> None:
    said, _ = call(NO_DATABASE, "add_member", "Spring", "ann@example.com", "Invited")

    assert said.startswith(
        "ServiceUnavailableError cannot use the database at CONVSYNC_DATABASE_URL"
    )
