"""RabbitMQ as the broker (the choice for large deployments): the core sync runs unchanged.

Each test run gets its own RabbitMQ virtual host, so concurrent runs never share a queue.
Results stay in Redis, as in production: RabbitMQ carries the messages only.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest

from convsync.celeryconfig import build_celery_config
from convsync.config import Settings
from convsync.salesforce_emulator.testing import EmulatorHandle
from convsync.tasks.base import SyncTask
from tests.support.scenario import cli, eventually, salesforce_campaign, salesforce_members
from tests.support.services import without_convsync_environment
from tests.support.workers import WorkerProcess

RABBITMQ = os.environ.get("CONVSYNC_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672")
WEBINAR = [("Invited", True, False), ("Registered", False, False), ("Attended", False, True)]
# RabbitMQ closes the channel of a consumer that holds a message unacknowledged longer
# than this (its default consumer_timeout): late acks must fit inside it.
RABBITMQ_CONSUMER_TIMEOUT = 1_800


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


def reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "", parts.port or 5672), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def rabbitmq_url() -> Iterator[str]:
    """A virtual host of our own, deleted afterwards (with every queue in it)."""
    if shutil.which("rabbitmqctl") is None or not reachable(RABBITMQ):
        pytest.skip(f"RabbitMQ (and rabbitmqctl) are not available at {RABBITMQ}")
    vhost = f"convsync_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    user = urlsplit(RABBITMQ).username or "guest"
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
        yield f"{RABBITMQ}/{vhost}"
    finally:
        rabbitmqctl("delete_vhost", vhost)


@pytest.fixture
def amqp_settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    without_convsync_environment(monkeypatch)
    return Settings(
        broker_url="amqp://guest:guest@rabbitmq.internal:5672/convsync",
        result_backend="redis://redis.internal:6379/1",
    )


def test_an_amqp_broker_gets_none_of_the_redis_only_transport_options(
    amqp_settings: Settings,
) -> None:
    config = build_celery_config(amqp_settings)
    assert config["broker_transport_options"] == {}  # visibility_timeout is Redis's lease
    assert "visibility_timeout" in config["result_backend_transport_options"]  # results: Redis


def test_queues_and_exchange_survive_a_rabbitmq_restart(amqp_settings: Settings) -> None:
    config = build_celery_config(amqp_settings)
    assert all(queue.durable and queue.exchange.durable for queue in config["task_queues"])
    assert config.get("task_default_delivery_mode", "persistent") == "persistent"


def test_late_acks_fit_inside_rabbitmqs_consumer_timeout(amqp_settings: Settings) -> None:
    config = build_celery_config(amqp_settings)
    assert config["task_time_limit"] < RABBITMQ_CONSUMER_TIMEOUT
    assert SyncTask.retry_backoff_max < RABBITMQ_CONSUMER_TIMEOUT  # retries wait as ETAs


def members_here(campaign: str) -> dict[str, str]:
    return {m["email"]: m["status"] for m in json.loads(cli("members", "list", campaign, "--json"))}


def last_run_state(campaign: str) -> str | None:
    [status] = json.loads(cli("status", campaign, "--json"))
    run = status["last_run"]
    return run["state"] if run and run["state"] in ("succeeded", "failed") else None


@pytest.mark.e2e
def test_link_later_imports_then_pushes_both_ways_over_rabbitmq(
    org: EmulatorHandle, start_worker: Callable[..., WorkerProcess], rabbitmq_url: str
) -> None:
    over_rabbitmq = {"CONVSYNC_BROKER_URL": rabbitmq_url}
    cli("types", "create", "Webinar", "-s", "Invited", "-s", "Registered", "-s", "Attended")
    cli("campaigns", "create", "Spring", "--type", "Webinar")
    cli("members", "add", "Spring", "only-here@example.com", "Registered")
    sf = salesforce_campaign(org, "Spring SF", WEBINAR, [("only-there@example.com", "Attended")])
    worker = start_worker(extra_env=over_rabbitmq)

    # `link` enqueues the initial sync: run it as its own process, on the RabbitMQ broker.
    subprocess.run(
        [sys.executable, "-m", "convsync.cli", "link", "Spring", "--salesforce-campaign", sf["id"]],
        env={**os.environ, **over_rabbitmq},
        check=True,
        capture_output=True,
        timeout=120,
    )

    assert eventually(lambda: last_run_state("Spring")) == "succeeded"
    assert members_here("Spring") == {
        "only-here@example.com": "Registered",
        "only-there@example.com": "Attended",
    }
    assert salesforce_members(org, sf["id"]) == members_here("Spring")
    vhost = urlsplit(rabbitmq_url).path
    assert f"Connected to amqp://guest:**@127.0.0.1:5672{vhost}" in worker.log()
