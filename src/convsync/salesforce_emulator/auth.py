"""The OAuth 2.0 token endpoint and the session table behind `Authorization: Bearer`.

Clients (simple-salesforce, our gateway) must do real OAuth against the emulator so the
login, refresh and expired-session paths are exercised. By default any non-empty
credentials are accepted; a credentials file narrows that to one identity.

JWT bearer assertions are checked as Salesforce checks them: `aud` must be Salesforce's
login or test URL (never the URL the request is posted to), `exp` must not have passed,
and with a certificate configured the RS256 signature must verify against it. Refresh
tokens can be rotated (`OAuthPolicy.rotate_refresh_tokens`): every refresh then returns
a new refresh token and voids the one it used, as a connected app with rotation does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509

from . import ids

ORG_ID = ids.to18("00D" + "Hs0" + "000000001")
USER_ID = ids.to18("005" + "Hs0" + "000000001")
_SIGNING_KEY = secrets.token_bytes(32)
UNSUPPORTED_GRANT = {
    "error": "unsupported_grant_type",
    "error_description": "grant type not supported",
}
INVALID_CLIENT_ID = {"error": "invalid_client_id", "error_description": "client identifier invalid"}
INVALID_CLIENT = {"error": "invalid_client", "error_description": "invalid client credentials"}

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# The only audiences Salesforce accepts in a JWT bearer assertion (Experience Cloud sites
# aside), whatever host the token request goes to.
JWT_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")


def _invalid_grant(description: str) -> dict[str, str]:
    return {"error": "invalid_grant", "error_description": description}


INVALID_GRANT = _invalid_grant("authentication failure")
EXPIRED_REFRESH_TOKEN = _invalid_grant("expired access/refresh token")


def checked_certificate(pem: str) -> str:
    """`pem` itself, once it parses as an X.509 certificate (else ValueError/TypeError)."""
    x509.load_pem_x509_certificate(pem.encode())
    return pem


def load_certificate(path: str | Path | None) -> str | None:
    """The PEM text of a JWT signing certificate file (the connected app's certificate)."""
    return None if path is None else checked_certificate(Path(path).read_text())


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


class OAuthRefusalError(Exception):
    """The token endpoint refuses: `body` is Salesforce's `{"error", "error_description"}`."""

    def __init__(self, body: dict[str, str]) -> None:
        super().__init__(body["error_description"])
        self.body = body


def _jwt_claims(assertion: str, certificate: str | None) -> dict[str, Any]:
    """The claims of an assertion Salesforce would accept; OAuthRefusalError otherwise.

    Without a certificate the signature is not checked (any well-formed assertion from
    any key works); audience and expiry always are.
    """
    key: Any = None
    if certificate is not None:
        key = x509.load_pem_x509_certificate(certificate.encode()).public_key()
    try:
        claims: dict[str, Any] = jwt.decode(
            assertion,
            key,
            algorithms=["RS256"],
            audience=list(JWT_AUDIENCES),
            options={
                "verify_signature": certificate is not None,
                "verify_aud": True,
                "verify_exp": True,
                "require": ["iss", "sub", "aud", "exp"],
            },
        )
    except jwt.InvalidAudienceError:
        raise OAuthRefusalError(_invalid_grant("audience is invalid")) from None
    except jwt.ExpiredSignatureError:
        raise OAuthRefusalError(_invalid_grant("expired authorization code")) from None
    except jwt.InvalidSignatureError:
        raise OAuthRefusalError(_invalid_grant("invalid assertion")) from None
    except jwt.PyJWTError:
        raise OAuthRefusalError(INVALID_GRANT) from None
    if not all(isinstance(claims.get(k), str) and claims[k] for k in ("iss", "sub")):
        raise OAuthRefusalError(INVALID_GRANT)
    return claims


@dataclass
class OAuthPolicy:
    """How the connected app is set up: refresh-token rotation, the JWT certificate."""

    rotate_refresh_tokens: bool = False
    jwt_certificate: str | None = None  # PEM; None: signatures are not checked


@dataclass
class Sessions:
    """Issued access and refresh tokens; thread-safe."""

    credentials: Credentials = field(default_factory=Credentials)
    policy: OAuthPolicy = field(default_factory=OAuthPolicy)
    # Token requests by grant and outcome ("refresh_token:ok", "refresh_token:refused").
    requests: Counter[str] = field(default_factory=Counter)
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

    def token_response(self, form: dict[str, str], instance_url: str) -> tuple[int, dict[str, Any]]:
        """Handle one POST to /services/oauth2/token: (HTTP status, JSON body)."""
        status, body = self._token_response(form, instance_url)
        grant = form.get("grant_type", "")
        self.requests[f"{grant}:{'ok' if status == 200 else 'refused'}"] += 1
        return status, body

    def _new_refresh_token(self, username: str) -> str:
        token = f"5Aep{secrets.token_urlsafe(60)}"
        with self._lock:
            self._refresh[token] = username
        return token

    def _token_response(  # noqa: PLR0911, PLR0912
        self, form: dict[str, str], instance_url: str
    ) -> tuple[int, dict[str, Any]]:
        grant = form.get("grant_type", "")
        creds = self.credentials
        refresh_token: str | None = None
        if grant not in ("password", "client_credentials", "refresh_token", JWT_BEARER):
            return 400, UNSUPPORTED_GRANT
        if grant == JWT_BEARER:
            try:
                claims = _jwt_claims(form.get("assertion", ""), self.policy.jwt_certificate)
            except OAuthRefusalError as refusal:
                return 400, refusal.body
            if not _matches(creds.client_id, claims["iss"]) or not _matches(
                creds.username, claims["sub"]
            ):
                return 400, INVALID_GRANT
        else:
            if not form.get("client_id"):
                return 400, INVALID_CLIENT_ID
            if not _matches(creds.client_id, form.get("client_id")):
                return 400, INVALID_CLIENT_ID
            if grant == "refresh_token":
                used = form.get("refresh_token", "")
                with self._lock:
                    username = self._refresh.get(used)
                    if username is not None and self.policy.rotate_refresh_tokens:
                        del self._refresh[used]  # voided: only the new one works from now on
                if username is None:
                    return 400, EXPIRED_REFRESH_TOKEN
                if self.policy.rotate_refresh_tokens:
                    refresh_token = self._new_refresh_token(username)
            else:
                if not _matches(creds.client_secret, form.get("client_secret")):
                    return 400, INVALID_CLIENT
                if grant == "password":
                    if not _matches(creds.username, form.get("username")) or not _matches(
                        creds.password, form.get("password")
                    ):
                        return 400, INVALID_GRANT
                    refresh_token = self._new_refresh_token(form.get("username", ""))
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
