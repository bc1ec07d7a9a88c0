"""Logs: secrets never shown, whatever carries them; JSON for machines, lines for people."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from convsync.logs import REDACTED, SecretRedactor, configure_logging, is_secret_key

SESSION_ID = "00DHs0000000001!AQ4AQ-kp_Zx.9Fr~dummy"


def redact(redactor: SecretRedactor, **event: Any) -> dict[str, Any]:
    return dict(redactor(None, "info", dict(event)))


def test_a_known_secret_is_masked_wherever_it_appears() -> None:
    redactor = SecretRedactor(["hunter2-password"])

    event = redact(
        redactor, event="login with hunter2-password failed", detail=["x hunter2-password"]
    )

    assert "hunter2-password" not in json.dumps(event)
    assert event["event"] == f"login with {REDACTED} failed"


@pytest.mark.parametrize(
    "key",
    ["password", "client_secret", "access_token", "refresh_token", "security_token",
     "session_id", "sessionId", "Authorization", "private_key", "sid", "assertion"],
)  # fmt: skip
def test_values_of_secret_named_keys_are_masked(key: str) -> None:
    assert redact(SecretRedactor(), **{key: "plain value"})[key] == REDACTED


@pytest.mark.parametrize("key", ["inside", "considered", "tokens_used", "run_id", "task_id"])
def test_keys_that_merely_contain_a_secret_word_are_left_alone(key: str) -> None:
    assert not is_secret_key(key)
    assert redact(SecretRedactor(), **{key: "kept"})[key] == "kept"


def test_a_salesforce_session_id_in_free_text_is_masked_whole() -> None:
    event = redact(SecretRedactor(), error=f"request with {SESSION_ID} refused")

    assert event["error"] == f"request with {REDACTED} refused"


def test_a_bearer_token_in_free_text_is_masked() -> None:
    event = redact(SecretRedactor(), headers="Authorization: Bearer abc.DEF-123_x")

    assert "abc.DEF-123_x" not in event["headers"]


@pytest.mark.parametrize(
    "text",
    [
        "POST /services/oauth2/token?grant_type=password&password=s3cr3t&client_id=app",
        '{"access_token": "s3cr3t", "instance_url": "https://x"}',
        "client_secret=s3cr3t; retrying",
    ],
)
def test_secret_pairs_in_query_strings_and_json_text_are_masked(text: str) -> None:
    event = redact(SecretRedactor(), event=text)

    assert "s3cr3t" not in event["event"]
    assert REDACTED in event["event"]


def test_nested_values_are_scrubbed() -> None:
    event = redact(
        SecretRedactor(["topsecret"]),
        payload={"auth": {"password": "pw"}, "notes": ["has topsecret inside"]},
    )

    assert event["payload"] == {"auth": {"password": REDACTED}, "notes": [f"has {REDACTED} inside"]}


def test_ordinary_values_pass_unchanged() -> None:
    event = {
        "event": "inbound chunk applied",
        "imported": 1940,
        "campaign_id": 3,
        "email": "ann@example.com",
        "salesforce_campaign_id": "701Hs0000000080IAA",
    }

    assert redact(SecretRedactor(["hunter2-password"]), **event) == event


def test_values_too_short_to_be_secrets_are_not_treated_as_secrets() -> None:
    assert redact(SecretRedactor(["abc"]), event="abc") == {"event": "abc"}


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """configure_logging changes process-wide state: put it back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def refuse_login() -> None:
    raise RuntimeError(f"login refused for hunter2-password with {SESSION_ID}")


@pytest.mark.usefixtures("restored_logging")
def test_json_logs_carry_bound_context_and_no_secret_from_an_exception() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", ["hunter2-password"], stream=stream)
    log = structlog.get_logger("convsync.test")
    structlog.contextvars.bind_contextvars(run_id=7, campaign_id=3, stage="inbound", task_id="t-1")
    try:
        try:
            refuse_login()
        except RuntimeError:
            log.exception("salesforce login failed")
    finally:
        structlog.contextvars.clear_contextvars()

    [line] = json_lines(stream)
    assert line["event"] == "salesforce login failed"
    assert {k: line[k] for k in ("run_id", "campaign_id", "stage", "task_id")} == {
        "run_id": 7, "campaign_id": 3, "stage": "inbound", "task_id": "t-1"
    }  # fmt: skip
    assert "RuntimeError" in line["exception"]
    assert "hunter2-password" not in stream.getvalue()
    assert SESSION_ID not in stream.getvalue()


@pytest.mark.usefixtures("restored_logging")
def test_standard_library_log_records_go_through_the_same_redaction() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", ["hunter2-password"], stream=stream)

    logging.getLogger("celery.app.trace").warning("retrying with %s", "hunter2-password")

    [line] = json_lines(stream)
    assert line["event"] == f"retrying with {REDACTED}"
    assert line["logger"] == "celery.app.trace"


@pytest.mark.usefixtures("restored_logging")
def test_console_format_is_readable_lines_not_json() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "console", stream=stream)

    structlog.get_logger("convsync.test").info("tick", due=2)

    text = stream.getvalue()
    assert "tick" in text
    assert "due=2" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
