"""A real worker's log file after a sync that re-logs in and retries: no secret in it.

(That sync log lines carry campaign, run, stage and task is checked on the demo's worker
log, tests/e2e/test_demo.py.)
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from convsync.salesforce_emulator.testing import EmulatorHandle
from tests.support.logs import json_events
from tests.support.scenario import (
    WEBINAR_IN_SALESFORCE,
    cli,
    conversion_campaign,
    conversion_type,
    salesforce_campaign,
    succeeded_run,
    sync_now,
)
from tests.support.workers import WorkerProcess

pytestmark = pytest.mark.e2e

# Anything shaped like a Salesforce access token / session id (`00D<org id>!<opaque>`).
SESSION_ID = re.compile(r"00D[A-Za-z0-9]{12,15}!")


def issued_tokens(org: EmulatorHandle) -> set[str]:
    """The access tokens the emulator holds valid right now (every client's)."""
    sessions = org.app.sessions
    with sessions._lock:
        return set(sessions._tokens)


@pytest.fixture
def synced_twice(
    org: EmulatorHandle,
    salesforce_env: dict[str, str],
    start_worker: Callable[..., WorkerProcess],
) -> tuple[WorkerProcess, set[str], list[str]]:
    """A link, then a manual sync whose first call finds the session expired and whose
    next one gets a 503: the log paths most likely to leak a credential. Returns the
    worker, every access token issued, and the configured secrets."""
    conversion_type("Webinar")
    conversion_campaign("Spring", "Webinar", {"here@example.com": "Registered"})
    sf = salesforce_campaign(
        org, "Spring SF", WEBINAR_IN_SALESFORCE, [("there@example.com", "Invited")]
    )
    from convsync.workers.app import app

    app.control.purge()  # nothing an earlier test left queued may act on our run ids
    worker = start_worker(extra_env={"CONVSYNC_LOG_LEVEL": "DEBUG"})
    cli("link", "Spring", "--salesforce-campaign", sf["id"])
    first = succeeded_run("Spring")
    tokens = issued_tokens(org)
    org.admin.expire_sessions()
    org.admin.inject_faults(next=1, kind="503")
    cli("members", "set", "Spring", "here@example.com", "Attended")
    sync_now("Spring")
    succeeded_run("Spring", after=first["id"])
    secrets = [
        salesforce_env[f"CONVSYNC_SALESFORCE_{name}"]
        for name in ("PASSWORD", "SECURITY_TOKEN", "CLIENT_SECRET")
    ]
    return worker, tokens | issued_tokens(org), secrets


def test_a_real_sync_logs_no_password_token_client_secret_or_session_id(
    synced_twice: tuple[WorkerProcess, set[str], list[str]],
) -> None:
    worker, tokens, secrets = synced_twice
    log = worker.log()

    assert json_events(log, "salesforce.relogin"), "the sync should have logged in again"
    assert json_events(log, "salesforce.retry"), "the sync should have retried the 503"
    assert tokens, "the emulator should have issued access tokens"
    leaked = [s for s in [*secrets, *tokens] if s in log]
    assert leaked == []
    assert SESSION_ID.search(log) is None
