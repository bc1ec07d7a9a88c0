"""Settings, read once from the environment (`CONVSYNC_*`) and validated at start-up.

Defaults are the embedded ones, so a fresh machine needs no server: a SQLite database
and kombu's SQLAlchemy transport on SQLite files under `./.convsync/`. Every real
deployment points these at PostgreSQL and Redis.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from convsync.domain import budget_wait
from convsync.domain.errors import ConfigurationError

DATA_DIR = Path(".convsync")


def _embedded(name: str, scheme: str) -> str:
    return f"{scheme}:///{(DATA_DIR / name).resolve()}"


class Settings(BaseSettings):
    """All of convsync's configuration. Secrets are `SecretStr`: `repr()` shows `**********`."""

    model_config = SettingsConfigDict(
        env_prefix="CONVSYNC_",
        env_file=None,
        extra="ignore",
        secrets_dir=None,
        validate_default=True,
    )

    database_url: str = Field(default_factory=lambda: _embedded("convsync.sqlite", "sqlite"))
    broker_url: str = Field(default_factory=lambda: _embedded("broker.sqlite", "sqla+sqlite"))
    result_backend: str = Field(default_factory=lambda: _embedded("results.sqlite", "db+sqlite"))
    # Redis for the cross-worker Salesforce concurrency cap; defaults to the broker when
    # that is Redis, and to a per-process cap otherwise (the embedded default).
    redis_url: str | None = None

    sync_interval_seconds: int = Field(default=60, ge=1, le=86_400)
    # Drift repair: how often every live Salesforce member of a campaign is compared with
    # what the sync last saw (about one API call per 2,000 members).
    full_sync_interval_seconds: int = Field(default=86_400, ge=60)
    # A run's per-campaign lease: long enough for a chunk, short enough that a killed
    # worker costs about a minute.
    lease_seconds: int = Field(default=90, ge=5, le=3_600)
    # How long an outbound chunk's member updates may wait to be written with other
    # runs' (the update pool: fewer API calls when many campaigns change at once); 0 writes
    # each chunk's own at once.
    update_pool_seconds: float = Field(default=2.0, ge=0, le=60)
    # Broker visibility timeout: well above every task time limit and retry delay.
    visibility_timeout_seconds: int = Field(default=3_600, ge=60)
    task_time_limit_seconds: int = Field(default=600, ge=10)
    worker_concurrency: int | None = Field(default=None, ge=1, le=64)

    salesforce_login_url: str = "https://login.salesforce.com"
    salesforce_ca_bundle: Path | None = None
    salesforce_api_version: str = "59.0"
    salesforce_username: str | None = None
    salesforce_password: SecretStr | None = None
    salesforce_security_token: SecretStr | None = None
    salesforce_client_id: str | None = None
    salesforce_client_secret: SecretStr | None = None
    salesforce_private_key_file: Path | None = None
    # The JWT bearer assertion's `aud`; unset: Salesforce's test URL for a sandbox login
    # URL, its login URL otherwise (never the My Domain URL the token request goes to).
    salesforce_jwt_audience: str | None = None
    salesforce_refresh_token: SecretStr | None = None
    salesforce_instance_url: str | None = None
    salesforce_session_id: SecretStr | None = None
    # Slow down once this share of the org's daily API budget is used.
    salesforce_budget_share: float = Field(default=0.8, gt=0.0, le=1.0)
    # convsync's own budget: API calls it may spend per rolling window (24 h). Unset: a
    # share of the org's DailyApiRequests.Max (`limits`, or any response's
    # Sforce-Limit-Info). Needs Redis (CONVSYNC_REDIS_URL, or a Redis broker): the count
    # is shared by every worker; without Redis (embedded mode) calls are not budgeted.
    salesforce_daily_budget: int | None = Field(default=None, ge=1)
    salesforce_daily_budget_share: float = Field(default=0.5, gt=0.0, le=1.0)
    # The rolling window's length. For tests and demos only (a budget that frees in
    # seconds); production keeps Salesforce's 24 h.
    salesforce_budget_window_seconds: int = Field(default=86_400, ge=24, le=86_400)
    # Salesforce allows 25 concurrent long-running requests per org; stay below it.
    salesforce_max_concurrency: int = Field(default=10, ge=1, le=25)
    # Outbound: create a Lead for a person Salesforce does not know yet.
    create_missing_leads: bool = True
    # Lead duplicate rules set to "alert" refuse API saves unless the request says
    # allowSave=true, which the sync does unless this is set (then such Leads are dead
    # letters, as under "block" rules).
    salesforce_respect_duplicate_alerts: bool = False
    lead_company_fallback: str = "[not provided]"
    # Above this many records in one stage, writes go through Bulk API 2.0.
    bulk_threshold: int = Field(default=10_000, ge=200)
    # The org's daily API limit reached: the run waits this long, then doubles it, for
    # up to 5 tries (60 s: ~31 minutes in all), before it fails.
    api_limit_retry_seconds: float = Field(default=60.0, ge=0.1, le=3_600.0)
    # How long every decision about a member is kept for `convsync explain`.
    decision_retention_days: int = Field(default=30, ge=1, le=3_650)
    # RabbitMQ closes a consumer's channel when it holds an unacknowledged message longer
    # than the server's `consumer_timeout` (30 minutes by default); set this to the
    # server's value. A retry delay is held unacknowledged by the worker, so every wait
    # must end before it.
    broker_consumer_timeout_seconds: int = Field(default=1_800, ge=60)

    # Near-real-time outbound: Conversion edits are pushed once none came for this long
    # (a burst becomes one run), or once the oldest has waited the maximum.
    edit_push_delay_seconds: float = Field(default=1.0, ge=0.0, le=60.0)
    edit_push_max_delay_seconds: float = Field(default=5.0, ge=0.0, le=600.0)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"
    # Prometheus: a worker serves /metrics on this port (0 picks a free one; unset: off).
    metrics_port: int | None = Field(default=None, ge=0, le=65_535)
    metrics_address: str = "127.0.0.1"

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _any_case(cls, value: object, info: ValidationInfo) -> object:
        """Words are accepted in any case and with stray spaces (`info`, ` Debug `)."""
        if not isinstance(value, str):
            return value
        word = value.strip()
        return word.upper() if info.field_name == "log_level" else word.lower()

    @field_validator("database_url")
    @classmethod
    def _database_scheme(cls, value: str) -> str:
        scheme = urlsplit(value).scheme.split("+")[0]
        if scheme not in {"sqlite", "postgresql", "postgres"}:
            raise ValueError("must be a postgresql+psycopg:// or sqlite:/// URL")
        if scheme == "postgres" or value.startswith("postgresql://"):
            # psycopg 3 is the only PostgreSQL driver we ship.
            value = "postgresql+psycopg://" + value.split("://", 1)[1]
        _check_loadable(value)
        return value

    @field_validator("broker_url")
    @classmethod
    def _broker_scheme(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if scheme not in {
            "redis",
            "rediss",
            "amqp",
            "amqps",
            "pyamqp",
            "sqla+sqlite",
            "sqla+postgresql",
            "filesystem",
            "memory",
        }:
            raise ValueError("must be a redis://, amqp:// or sqla+sqlite:/// URL")
        return value

    @field_validator("salesforce_login_url", "salesforce_instance_url", "salesforce_jwt_audience")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.netloc:
            raise ValueError("must be an https:// URL (Salesforce only speaks HTTPS)")
        return value.rstrip("/")

    @field_validator("salesforce_api_version")
    @classmethod
    def _api_version(cls, value: str) -> str:
        """A version the REST API serves looks like `59.0`; anything else reaches the org
        as a path it does not have, and every call would read as "resource not found"."""
        if not re.fullmatch(r"[1-9][0-9]{1,2}\.0", value.strip().removeprefix("v")):
            raise ValueError(f"{value!r} is not a Salesforce API version: use the form 59.0")
        return value.strip().removeprefix("v")

    @field_validator("salesforce_ca_bundle", "salesforce_private_key_file")
    @classmethod
    def _file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @model_validator(mode="after")
    def _session_pair(self) -> Settings:
        if bool(self.salesforce_instance_url) != bool(self.salesforce_session_id):
            raise ValueError(
                "CONVSYNC_SALESFORCE_INSTANCE_URL and CONVSYNC_SALESFORCE_SESSION_ID go together"
            )
        return self

    @model_validator(mode="after")
    def _waits_end_before_redelivery(self) -> Settings:
        longest = budget_wait.longest_wait(self.api_limit_retry_seconds, budget_wait.MAX_ATTEMPTS)
        hold = self._broker_hold()
        if hold is not None and longest >= hold[1]:
            raise ValueError(
                f"CONVSYNC_API_LIMIT_RETRY_SECONDS={self.api_limit_retry_seconds:g} makes runs "
                f"wait up to {longest:.0f} s, longer than {hold[0]}={hold[1]} s: the broker "
                "would deliver a waiting task twice; lower the first or raise the second"
            )
        return self

    @model_validator(mode="after")
    def _pool_waits_less_than_a_lease(self) -> Settings:
        if self.update_pool_seconds * 2 > self.lease_seconds:
            raise ValueError(
                f"CONVSYNC_UPDATE_POOL_SECONDS={self.update_pool_seconds:g} must be at most "
                f"half of CONVSYNC_LEASE_SECONDS={self.lease_seconds}: pooled updates would "
                "outwait their chunk's lease; lower the first or raise the second"
            )
        return self

    def _broker_hold(self) -> tuple[str, int] | None:
        """The setting that bounds how long the broker lets a worker hold a message."""
        scheme = urlsplit(self.broker_url).scheme
        if scheme in {"redis", "rediss"}:
            return "CONVSYNC_VISIBILITY_TIMEOUT_SECONDS", self.visibility_timeout_seconds
        if scheme in {"amqp", "amqps", "pyamqp"}:
            return "CONVSYNC_BROKER_CONSUMER_TIMEOUT_SECONDS", self.broker_consumer_timeout_seconds
        return None  # the serverless transports never redeliver on a timer

    @property
    def is_embedded(self) -> bool:
        """True when running on the serverless defaults (SQLite broker and database)."""
        return self.broker_url.startswith(("sqla+", "filesystem"))

    @property
    def limiter_redis_url(self) -> str | None:
        if self.redis_url:
            return self.redis_url
        return self.broker_url if self.broker_url.startswith(("redis", "rediss")) else None


def _check_loadable(url: str) -> None:
    """SQLAlchemy can parse the URL and load its dialect and driver; checked here so a
    typo is one line at start-up, not a traceback at the first query. The message never
    repeats the URL: it may hold a password."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise ValueError(
            "cannot be parsed as a database URL (postgresql+psycopg://user:password@host:port"
            "/name or sqlite:///path; a port must be a number, special characters in a "
            "password %-encoded)"
        ) from None
    try:
        parsed.get_dialect().import_dbapi()
    except (NoSuchModuleError, ImportError):
        raise ValueError(
            f"no database driver {parsed.drivername!r} is installed "
            "(use postgresql+psycopg:// or sqlite:///)"
        ) from None


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else ""
    message = str(first["msg"]).removeprefix("Value error, ")
    if not field and message.startswith("CONVSYNC_"):
        return message  # a rule across settings names its variables itself
    variable = f"CONVSYNC_{field.upper()}" if field else "the CONVSYNC_* environment"
    return f"{variable}: {message}"


def load_settings() -> Settings:
    """Read and validate the environment; a bad value raises one line naming the variable.

    Secrets may also come from files: with `CONVSYNC_SECRETS_DIR` set, a file there named
    after a variable (`CONVSYNC_SALESFORCE_PASSWORD`, ...; Docker and Kubernetes secrets
    mount them so) holds its value. A variable set in the environment wins over its file.
    """
    secrets_dir = os.environ.get("CONVSYNC_SECRETS_DIR") or None
    if secrets_dir is not None and not Path(secrets_dir).is_dir():
        raise ConfigurationError(f"CONVSYNC_SECRETS_DIR: no such directory: {secrets_dir}")
    try:
        # An init-time option of pydantic-settings, unknown to mypy without its plugin.
        return Settings(_secrets_dir=secrets_dir)  # type: ignore[call-arg]
    except ValidationError as error:
        raise ConfigurationError(_describe(error)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return load_settings()
