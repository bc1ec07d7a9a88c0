"""Structured logs: JSON in production, readable in a terminal, secrets never shown.

The redaction processor is the last line of defence: secrets are `SecretStr` in the
settings and never put in events on purpose, but an exception message or a URL from a
library could still carry a session id or password.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

REDACTED = "[redacted]"
_SECRET_KEYS = re.compile(
    r"(pass(word)?|secret|token|session_?id|authorization|private_key|assertion|sid)",
    re.IGNORECASE,
)
# Bearer tokens and Salesforce session ids (00D…!…) that slip into free text.
_SECRET_TEXT = re.compile(
    r"(Bearer\s+[A-Za-z0-9._~+/!=-]+|\b00D[A-Za-z0-9]{12,15}![A-Za-z0-9._]+|"
    r"(access_token|refresh_token|password|client_secret|session_id)=[^&\s\"']+)",
    re.IGNORECASE,
)


class SecretRedactor:
    """A structlog processor that masks known secret values, secret-looking keys and tokens."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 4 and secret not in self._secrets:
            self._secrets.append(secret)
            self._secrets.sort(key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return _SECRET_TEXT.sub(REDACTED, text)

    def _clean(self, key: str, value: Any) -> Any:
        if _SECRET_KEYS.search(key) and value not in (None, ""):
            return REDACTED
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {k: self._clean(str(k), v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._clean(key, v) for v in value]
        return value

    def __call__(
        self, _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key in list(event_dict):
            event_dict[key] = self._clean(key, event_dict[key])
        return event_dict


redactor = SecretRedactor()


def configure_logging(level: str = "INFO", fmt: str = "auto", secrets: Iterable[str] = ()) -> None:
    for secret in secrets:
        redactor.add(secret)
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
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
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries that log URLs with query strings at DEBUG stay at WARNING.
    for noisy in ("urllib3", "simple_salesforce", "requests"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
