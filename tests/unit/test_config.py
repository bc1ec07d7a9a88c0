from __future__ import annotations

import pytest

from convsync.config import Settings, load_settings
from convsync.domain.errors import ConfigurationError
from tests.support.services import without_convsync_environment


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    without_convsync_environment(monkeypatch)
    return monkeypatch


def test_defaults_are_embedded_and_serverless(clean_env: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.database_url.startswith("sqlite:///")
    assert settings.broker_url.startswith("sqla+sqlite:///")
    assert settings.result_backend.startswith("db+sqlite:///")
    assert settings.is_embedded
    assert settings.sync_interval_seconds == 60


def test_a_bad_variable_is_named_in_one_line(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CONVSYNC_SYNC_INTERVAL_SECONDS", "soon")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith("CONVSYNC_SYNC_INTERVAL_SECONDS:")
    assert "\n" not in message


def test_login_url_must_be_https(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CONVSYNC_SALESFORCE_LOGIN_URL", "http://login.example.com")
    with pytest.raises(ConfigurationError, match="CONVSYNC_SALESFORCE_LOGIN_URL"):
        load_settings()


def test_postgres_urls_use_psycopg3(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CONVSYNC_DATABASE_URL", "postgresql://u@h/db")
    assert load_settings().database_url == "postgresql+psycopg://u@h/db"


def test_session_id_needs_an_instance_url(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CONVSYNC_SALESFORCE_SESSION_ID", "00Dxx!token")
    with pytest.raises(ConfigurationError, match="INSTANCE_URL"):
        load_settings()


def test_repr_never_shows_secrets(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CONVSYNC_SALESFORCE_PASSWORD", "hunter2-very-secret")
    clean_env.setenv("CONVSYNC_SALESFORCE_CLIENT_SECRET", "client-secret-value")
    settings = Settings()
    shown = repr(settings) + str(settings) + str(settings.model_dump())
    assert "hunter2-very-secret" not in shown
    assert "client-secret-value" not in shown


def test_redis_broker_doubles_as_limiter_store(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CONVSYNC_BROKER_URL", "redis://127.0.0.1:6379/3")
    assert load_settings().limiter_redis_url == "redis://127.0.0.1:6379/3"


def test_an_api_limit_wait_longer_than_redis_visibility_is_refused(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("CONVSYNC_BROKER_URL", "redis://127.0.0.1:6379/0")
    clean_env.setenv("CONVSYNC_API_LIMIT_RETRY_SECONDS", "300")  # up to 300 x 16 x 1.2 s
    clean_env.setenv("CONVSYNC_VISIBILITY_TIMEOUT_SECONDS", "3600")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert "CONVSYNC_API_LIMIT_RETRY_SECONDS=300" in message
    assert "CONVSYNC_VISIBILITY_TIMEOUT_SECONDS=3600" in message
    assert "\n" not in message


def test_an_api_limit_wait_longer_than_rabbitmq_consumer_timeout_is_refused(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("CONVSYNC_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
    clean_env.setenv("CONVSYNC_API_LIMIT_RETRY_SECONDS", "120")  # up to 2,304 s
    with pytest.raises(ConfigurationError, match="CONVSYNC_BROKER_CONSUMER_TIMEOUT_SECONDS=1800"):
        load_settings()


def test_a_raised_timeout_admits_a_longer_api_limit_wait(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CONVSYNC_BROKER_URL", "redis://127.0.0.1:6379/0")
    clean_env.setenv("CONVSYNC_API_LIMIT_RETRY_SECONDS", "300")
    clean_env.setenv("CONVSYNC_VISIBILITY_TIMEOUT_SECONDS", "7200")
    assert load_settings().api_limit_retry_seconds == 300


def test_an_update_pool_wait_over_half_the_lease_is_refused(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("CONVSYNC_LEASE_SECONDS", "10")
    clean_env.setenv("CONVSYNC_UPDATE_POOL_SECONDS", "6")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert "CONVSYNC_UPDATE_POOL_SECONDS=6" in message
    assert "CONVSYNC_LEASE_SECONDS=10" in message
    assert "\n" not in message


def test_an_update_pool_of_zero_writes_each_chunk_at_once(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CONVSYNC_UPDATE_POOL_SECONDS", "0")
    assert load_settings().update_pool_seconds == 0


def test_the_default_waits_fit_every_broker(clean_env: pytest.MonkeyPatch) -> None:
    for broker in ("redis://127.0.0.1:6379/0", "amqp://guest:guest@127.0.0.1:5672//"):
        clean_env.setenv("CONVSYNC_BROKER_URL", broker)
        assert load_settings().api_limit_retry_seconds == 60


@pytest.mark.parametrize(("given", "level"), [("info", "INFO"), (" Debug ", "DEBUG")])
def test_the_log_level_is_accepted_in_any_case(
    clean_env: pytest.MonkeyPatch, given: str, level: str
) -> None:
    clean_env.setenv("CONVSYNC_LOG_LEVEL", given)
    assert load_settings().log_level == level


def test_the_log_format_is_accepted_in_any_case(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CONVSYNC_LOG_FORMAT", "JSON")
    assert load_settings().log_format == "json"


def test_an_unknown_log_level_is_still_refused(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CONVSYNC_LOG_LEVEL", "loud")
    with pytest.raises(ConfigurationError, match="CONVSYNC_LOG_LEVEL"):
        load_settings()
