from __future__ import annotations

import pytest

from convsync.celeryconfig import QUEUES, ROUTES, build_celery_config
from convsync.config import Settings
from convsync.workers.app import app

# The app reads its configuration once, from the environment, on first use: this run's
# services must be in the environment by then, or every later test in this process
# (the tests run two processes, a module at a time) would talk to the embedded default.
pytestmark = pytest.mark.usefixtures("service_env")


def _redis() -> Settings:
    return Settings(
        broker_url="redis://127.0.0.1:6379/1", result_backend="redis://127.0.0.1:6379/1"
    )


def test_every_registered_task_has_a_route() -> None:
    app.loader.import_default_modules()
    ours = {name for name in app.tasks if name.startswith("convsync.")}
    assert ours, "no convsync tasks registered"
    assert ours <= set(ROUTES), f"tasks without a route: {sorted(ours - set(ROUTES))}"


def test_every_route_names_a_declared_queue() -> None:
    assert set(ROUTES.values()) <= set(QUEUES)


def test_only_json_is_accepted() -> None:
    config = build_celery_config(_redis())
    assert config["task_serializer"] == "json"
    assert config["accept_content"] == ["json"]


def test_redis_visibility_timeout_is_set_for_broker_and_results() -> None:
    settings = _redis()
    config = build_celery_config(settings)
    timeout = settings.visibility_timeout_seconds
    assert config["broker_transport_options"]["visibility_timeout"] == timeout
    assert config["result_backend_transport_options"]["visibility_timeout"] == timeout
    assert timeout > config["task_time_limit"]


def test_sqlalchemy_transport_gets_no_engine_options() -> None:
    embedded = Settings(
        broker_url="sqla+sqlite:///b.sqlite", result_backend="db+sqlite:///r.sqlite"
    )
    config = build_celery_config(embedded)
    assert config["broker_transport_options"] == {}
    assert config["worker_prefetch_multiplier"] > 1


def test_at_least_once_delivery_settings() -> None:
    config = build_celery_config(_redis())
    assert config["task_acks_late"] is True
    assert config["worker_prefetch_multiplier"] == 1
    assert config["task_reject_on_worker_lost"] is False
    assert config["worker_cancel_long_running_tasks_on_connection_loss"] is True


def test_beat_entries_expire_within_their_interval() -> None:
    for entry in app.conf.beat_schedule.values():
        assert entry["options"]["expires"] <= entry["schedule"]
