"""deploy/docker-compose.yml, read as Compose reads it (YAML with merge keys)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.deploy.recipes import ALL_QUEUES, DEPLOY, env_file, option, parse_cli

COMPOSE = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
CONVSYNC = {name: s for name, s in SERVICES.items() if s.get("image", "").startswith("convsync")}


def role(service: dict[str, Any]) -> list[str]:
    return parse_cli(service["command"])


def workers() -> dict[str, list[str]]:
    return {n: s["command"] for n, s in CONVSYNC.items() if role(s) == ["worker"]}


@pytest.mark.parametrize("name", sorted(CONVSYNC))
def test_every_convsync_service_runs_a_valid_command(name: str) -> None:
    assert role(CONVSYNC[name]) in (["worker"], ["beat"], ["flower"], ["db", "upgrade"])


def test_every_queue_has_exactly_one_worker_service() -> None:
    served = sorted(option(command, "--queues") or "" for command in workers().values())
    assert served == sorted(ALL_QUEUES)


def test_worker_names_are_unique_per_queue() -> None:
    names = [option(command, "--hostname") for command in workers().values()]
    assert len(set(names)) == len(names)


def test_there_is_exactly_one_beat_and_it_is_never_scaled() -> None:
    beats = [s for s in CONVSYNC.values() if role(s) == ["beat"]]
    assert len(beats) == 1
    assert beats[0]["deploy"]["replicas"] == 1


def test_migrations_run_before_workers_and_beat_start() -> None:
    [migrate] = [n for n, s in CONVSYNC.items() if role(s) == ["db", "upgrade"]]
    assert SERVICES[migrate]["restart"] == "no"
    for name, service in CONVSYNC.items():
        if role(service) in (["worker"], ["beat"]):
            condition = service["depends_on"][migrate]["condition"]
            assert condition == "service_completed_successfully", name


def test_redis_never_evicts_and_keeps_an_append_only_file() -> None:
    command = SERVICES["redis"]["command"]
    assert option(command, "--maxmemory-policy") == "noeviction"
    assert option(command, "--appendonly") == "yes"


def test_broker_and_results_live_in_separate_redis_databases() -> None:
    for name, service in CONVSYNC.items():
        environment = service["environment"]
        broker = urlsplit(environment["CONVSYNC_BROKER_URL"])
        results = urlsplit(environment["CONVSYNC_RESULT_BACKEND"])
        assert broker.netloc == results.netloc == "redis:6379", name
        assert broker.path != results.path, name


def test_flower_requires_its_login_and_is_published_on_loopback_only() -> None:
    [flower] = [s for s in CONVSYNC.values() if role(s) == ["flower"]]
    assert "--insecure-local" not in flower["command"]
    assert flower["env_file"] == ["convsync.env"]
    assert "CONVSYNC_FLOWER_BASIC_AUTH" in env_file(DEPLOY / "convsync.env.example")
    assert flower["ports"]
    assert all(port.startswith("127.0.0.1:") for port in flower["ports"])


def test_only_flower_publishes_a_port() -> None:
    published = sorted(name for name, s in SERVICES.items() if s.get("ports"))
    assert [role(SERVICES[name]) for name in published] == [["flower"]]


def test_secrets_come_from_the_env_file_and_secret_files() -> None:
    for name, service in SERVICES.items():
        for key in service.get("environment", {}):
            assert not any(word in key for word in ("PASSWORD", "SECRET", "TOKEN", "AUTH")), name
    assert COMPOSE["secrets"]["salesforce_jwt_key"]["file"] == "./salesforce-jwt.key"


def test_the_image_runs_convsync_as_an_unprivileged_user() -> None:
    instructions = [
        line.split(None, 1)
        for line in (DEPLOY / "Dockerfile").read_text().splitlines()
        if line and not line.startswith((" ", "#"))
    ]
    final_stage = instructions[max(i for i, (op, _) in enumerate(instructions) if op == "FROM") :]
    settings = dict(final_stage)
    assert settings["ENTRYPOINT"] == '["convsync"]'
    assert settings["USER"] not in ("root", "0")
