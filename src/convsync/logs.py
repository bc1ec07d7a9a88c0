"""Structured logs: JSON in production, readable in a terminal, secrets never shown.

The redaction processor is the last line of defence: secrets are `SecretStr` in the
settings and never put in events on purpose, but an exception message or a URL from a
library could still carry a session id or password.
"""

from __future__ import annotations

import itertools
import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, Protocol

import structlog

REDACTED = "[redacted]"
# Event keys whose values are secrets, by word: `password`, `client_secret`,
# `access_token`, `session_id`, `Authorization`, `private_key`, `sid`, ...
_SECRET_KEY_WORDS = frozenset(
    {"password", "passwd", "secret", "token", "authorization", "assertion", "sid", "sessionid"}
)
_SECRET_KEY_PAIRS = (("session", "id"), ("private", "key"), ("api", "key"))
# Secrets that slip into free text: bearer tokens, Salesforce session ids (`00D…!…`),
# and `key=value` / `"key": "value"` pairs of secret-named keys (query strings, JSON).
_BEARER = re.compile(r"\bBearer\s+[A-Za-z0-9._~+/!=-]+", re.IGNORECASE)
_SESSION_ID = re.compile(r"\b00D[A-Za-z0-9]{12,15}![A-Za-z0-9._~+/=-]+")
_ASSIGNMENT = re.compile(
    r"""\b((?:access|refresh|security|id)_token|password|passwd|client_secret|"""
    r"""session_?id|sid|(?:client_)?assertion)(["']?\s*[:=]\s*["']?)[^"'&\s,;}]+""",
    re.IGNORECASE,
)


def is_secret_key(key: str) -> bool:
    """Whether an event key names a secret (by its words, so `inside` is not `sid`)."""
    words = [w for w in re.split(r"[^a-z0-9]+", key.lower()) if w]
    if _SECRET_KEY_WORDS.intersection(words):
        return True
    return any(pair in itertools.pairwise(words) for pair in _SECRET_KEY_PAIRS)


class SecretRedactor:
    """A structlog processor that masks known secret values, secret-named keys and tokens."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Mask this exact value wherever it appears (too short a value would mask noise)."""
        if secret and len(secret) >= 4 and secret not in self._secrets:
            self._secrets.append(secret)
            self._secrets.sort(key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        text = _BEARER.sub(f"Bearer {REDACTED}", text)
        text = _SESSION_ID.sub(REDACTED, text)
        return _ASSIGNMENT.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)

    def _clean(self, key: str, value: Any) -> Any:
        if is_secret_key(key) and value not in (None, ""):
            return REDACTED
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {k: self._clean(str(k), v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._clean(key, v) for v in value]
        if isinstance(value, BaseException):
            return self.scrub(f"{type(value).__name__}: {value}")
        return value

    def __call__(
        self, _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key in list(event_dict):
            event_dict[key] = self._clean(key, event_dict[key])
        return event_dict


redactor = SecretRedactor()


class LogStream(Protocol):
    """Where log lines go: a text stream's writing side."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...

    def isatty(self) -> bool: ...


def configure_logging(
    level: str = "INFO",
    fmt: str = "auto",
    secrets: Iterable[str] = (),
    stream: LogStream | None = None,
) -> None:
    """Route structlog and stdlib logging through one redacting pipeline to `stream`.

    `auto` is JSON unless `stream` is a terminal (then key=value lines for people).
    """
    stream = stream or sys.stderr
    for secret in secrets:
        redactor.add(secret)
    terminal = stream.isatty()
    use_json = fmt == "json" or (fmt == "auto" and not terminal)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=terminal)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redactor,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries that log URLs with query strings at DEBUG stay at WARNING; so does
    # Alembic's plugin set-up (alembic 1.17+ says each plugin it loads at INFO).
    for noisy in ("urllib3", "simple_salesforce", "requests", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
