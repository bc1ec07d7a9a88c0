"""The OAuth 2.0 token endpoint and the session table behind `Authorization: Bearer`.

Clients (simple-salesforce, our gateway) must do real OAuth against the emulator so the
login, refresh and expired-session paths are exercised. By default any non-empty
credentials are accepted; a credentials file narrows that to one identity.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import ids

ORG_ID = ids.to18("00D" + "Hs0" + "000000001")
USER_ID = ids.to18("005" + "Hs0" + "000000001")
_SIGNING_KEY = secrets.token_bytes(32)
INVALID_GRANT = {"error": "invalid_grant", "error_description": "authentication failure"}
UNSUPPORTED_GRANT = {
    "error": "unsupported_grant_type",
    "error_description": "grant type not supported",
}
INVALID_CLIENT_ID = {"error": "invalid_client_id", "error_description": "client identifier invalid"}
INVALID_CLIENT = {"error": "invalid_client", "error_description": "invalid client credentials"}

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


_CREDENTIAL_KEYS = frozenset(
    {"client_id", "client_secret", "username", "password", "security_token"}
)


@dataclass
class Credentials:
    """What the token endpoint accepts; None means "any non-empty value"."""

    client_id: str | None = None
    client_secret: str | None = None
    username: str | None = None
    password: str | None = None  # password + security token, as Salesforce compares them

    @classmethod
    def load(cls, path: str | Path | None) -> Credentials:
        """Read `{"client_id", "client_secret", "username", "password", "security_token"}`."""
        if path is None:
            return cls()
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise ValueError("is not UTF-8 text") from None
        except json.JSONDecodeError as error:
            raise ValueError(f"is not JSON ({error.msg} at line {error.lineno})") from None
        if not isinstance(data, dict):
            raise ValueError('must be a JSON object like {"username": ..., "password": ...}')  # noqa: TRY004 - the file's content, a bad value for its user
        unknown = sorted(set(data) - _CREDENTIAL_KEYS)
        if unknown:
            raise ValueError(
                f"unknown key {unknown[0]!r} (known: {', '.join(sorted(_CREDENTIAL_KEYS))})"
            )
        wrong = sorted(k for k, v in data.items() if not isinstance(v, str))
        if wrong:
            raise ValueError(f"{wrong[0]!r} must be a string")
        password = data.get("password")
        if password is not None:
            password += data.get("security_token", "")
        return cls(data.get("client_id"), data.get("client_secret"), data.get("username"), password)


def _matches(expected: str | None, given: str | None) -> bool:
    if not given:
        return False
    return expected is None or hmac.compare_digest(expected, given)


def _jwt_claims(assertion: str) -> dict[str, Any] | None:
    """Decode (not verify) a JWT's claims; None when it is not well formed."""
    parts = assertion.split(".")
    if len(parts) != 3:
        return None
    try:
        decoded = [json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))) for p in parts[:2]]
    except (ValueError, binascii.Error):
        return None
    header, claims = decoded
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    if not all(claims.get(k) for k in ("iss", "sub", "aud")):
        return None
    return claims


@dataclass
class Sessions:
    """Issued access and refresh tokens; thread-safe."""

    credentials: Credentials = field(default_factory=Credentials)
    _tokens: set[str] = field(default_factory=set)
    _refresh: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self) -> str:
        """A new access token in Salesforce's `<org id>!<opaque>` shape."""
        token = f"{ORG_ID[:15]}!{secrets.token_urlsafe(48)}"
        with self._lock:
            self._tokens.add(token)
        return token

    def is_valid(self, token: str) -> bool:
        with self._lock:
            return token in self._tokens

    def expire(self, token: str) -> None:
        with self._lock:
            self._tokens.discard(token)

    def expire_all(self) -> None:
        with self._lock:
            self._tokens.clear()

    def token_response(  # noqa: PLR0911, PLR0912
        self, form: dict[str, str], instance_url: str
    ) -> tuple[int, dict[str, Any]]:
        """Handle one POST to /services/oauth2/token: (HTTP status, JSON body)."""
        grant = form.get("grant_type", "")
        creds = self.credentials
        refresh_token: str | None = None
        if grant not in ("password", "client_credentials", "refresh_token", JWT_BEARER):
            return 400, UNSUPPORTED_GRANT
        if grant == JWT_BEARER:
            claims = _jwt_claims(form.get("assertion", ""))
            if (
                claims is None
                or not _matches(creds.client_id, claims["iss"])
                or not _matches(creds.username, claims["sub"])
            ):
                return 400, INVALID_GRANT
        else:
            if not form.get("client_id"):
                return 400, INVALID_CLIENT_ID
            if not _matches(creds.client_id, form.get("client_id")):
                return 400, INVALID_CLIENT_ID
            if grant == "refresh_token":
                with self._lock:
                    known = form.get("refresh_token", "") in self._refresh
                if not known:
                    return 400, {
                        "error": "invalid_grant",
                        "error_description": "expired access/refresh token",
                    }
            else:
                if not _matches(creds.client_secret, form.get("client_secret")):
                    return 400, INVALID_CLIENT
                if grant == "password":
                    if not _matches(creds.username, form.get("username")) or not _matches(
                        creds.password, form.get("password")
                    ):
                        return 400, INVALID_GRANT
                    refresh_token = f"5Aep{secrets.token_urlsafe(60)}"
                    with self._lock:
                        self._refresh[refresh_token] = form.get("username", "")
        token = self.issue()
        issued_at = str(int(time.time() * 1000))
        identity = f"{instance_url}/id/{ORG_ID}/{USER_ID}"
        signature = base64.b64encode(
            hmac.new(_SIGNING_KEY, (identity + issued_at).encode(), hashlib.sha256).digest()
        ).decode()
        body: dict[str, Any] = {
            "access_token": token,
            "instance_url": instance_url,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": signature,
            "scope": "api refresh_token",
        }
        if refresh_token:
            body["refresh_token"] = refresh_token
        return 200, body
