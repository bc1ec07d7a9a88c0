"""Logging in as a real org demands, on real worker processes: a JWT assertion for
Salesforce's audience (not the login URL it is posted to), and refresh-token rotation,
where each refresh voids the token it used and every process still logs in, because
they all refresh with the newest one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from convsync.salesforce.auth import JWT_GRANT
from convsync.salesforce_emulator.testing import EmulatorHandle, jwt_keys
from tests.support.scenario import (
    add_salesforce_member,
    cli,
    conversion_campaign,
    conversion_type,
    members_here,
    salesforce_campaign,
    salesforce_members,
    succeeded_run,
    sync_now,
)
from tests.support.workers import WorkerProcess

pytestmark = pytest.mark.e2e

WEBINAR = [("Invited", True, False), ("Registered", False, False), ("Attended", False, True)]


def test_after_rotations_every_worker_refreshes_with_the_newest_token(
    org: EmulatorHandle, start_worker: Callable[..., WorkerProcess]
) -> None:
    org.admin.oauth(rotate_refresh_tokens=True)
    workers_env = {"CONVSYNC_SALESFORCE_REFRESH_TOKEN": org.token()["refresh_token"]}
    people = [(f"person{i}@example.com", "Invited") for i in range(40)]
    sf = salesforce_campaign(org, "Spring SF", WEBINAR, people)
    conversion_campaign("Spring", conversion_type(), {"here@example.com": "Registered"})
    first = [start_worker(f"w{n}", concurrency=2, extra_env=workers_env) for n in (1, 2)]

    cli("link", "Spring", "--salesforce-campaign", sf["id"])
    succeeded_run("Spring")
    org.admin.expire_sessions()  # every process that works next must log in again
    add_salesforce_member(org, sf["id"], "late@example.com", "Attended")
    assert "succeeded" in sync_now("Spring")

    for worker in first:
        worker.stop()
    # Started with the configured token, voided by the first rotation long ago.
    start_worker("w3", concurrency=1, extra_env=workers_env)
    org.admin.expire_sessions()
    cli("members", "set", "Spring", "person1@example.com", "Attended")
    assert "succeeded" in sync_now("Spring")

    assert members_here("Spring") == salesforce_members(org, sf["id"])
    assert members_here("Spring")["person1@example.com"] == "Attended"
    assert len(members_here("Spring")) == 42
    requests = org.admin.oauth()["token_requests"]
    assert requests.get("refresh_token:refused", 0) == 0
    assert requests["refresh_token:ok"] >= 3  # one process of each start, at least


def test_workers_log_in_with_a_jwt_signed_for_salesforces_audience(
    org: EmulatorHandle, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    keys = jwt_keys()
    key_file = tmp_path / "salesforce-jwt.key"
    key_file.write_bytes(keys.private_key_pem)
    org.admin.oauth(jwt_certificate=keys.certificate_pem)  # signatures are checked too
    sf = salesforce_campaign(org, "Spring SF", WEBINAR, [("sf@example.com", "Attended")])
    conversion_campaign("Spring", conversion_type(), {"here@example.com": "Registered"})
    start_worker(extra_env={"CONVSYNC_SALESFORCE_PRIVATE_KEY_FILE": str(key_file)})

    cli("link", "Spring", "--salesforce-campaign", sf["id"])

    succeeded_run("Spring")
    assert members_here("Spring") == salesforce_members(org, sf["id"])
    assert len(members_here("Spring")) == 2
    requests = org.admin.oauth()["token_requests"]
    assert requests.get(f"{JWT_GRANT}:ok", 0) >= 1
    assert requests.get(f"{JWT_GRANT}:refused", 0) == 0
