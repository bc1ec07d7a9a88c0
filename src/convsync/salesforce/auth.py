"""OAuth 2.0 login against the configured login URL.

Why not simple-salesforce's login helpers: they only know `*.salesforce.com` hosts, and
the emulator, sandboxes behind proxies and My Domain setups need the configured
`CONVSYNC_SALESFORCE_LOGIN_URL`. The token request is one form POST, done here for the
username-password, refresh-token, JWT-bearer and client-credentials grants; a given
instance URL + session id needs no request. Errors name the variables to check and never
carry a secret.

Two things a real org insists on: a JWT assertion's `aud` is Salesforce's login (or
test) URL, never the URL it is posted to; and with refresh-token rotation each refresh
voids the token it used, so refresh-token logins go through a `RefreshTokenStore` that
every process shares (the database, wired by the composition root).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple, Protocol
from urllib.parse import urlsplit

import requests

from convsync.config import Settings
from convsync.domain.errors import (
    ConfigurationError,
    SalesforceAuthError,
    TransientSalesforceError,
)
from convsync.salesforce.failures import mask, translate

TOKEN_PATH = "/services/oauth2/token"  # noqa: S105 - a URL path, not a secret
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Salesforce accepts JWT assertions valid for at most 3 minutes.
JWT_LIFETIME_SECONDS = 180
# The audiences Salesforce accepts in a JWT bearer assertion, whatever URL (My Domain,
# the emulator) the token request is posted to.
PRODUCTION_AUDIENCE = "https://login.salesforce.com"
SANDBOX_AUDIENCE = "https://test.salesforce.com"


class Token(NamedTuple):
    """An instance URL and access token; `repr()` never shows the token."""

    instance_url: str
    access_token: str

    def __repr__(self) -> str:
        return f"Token(instance_url={self.instance_url!r}, access_token='***')"


class Flow(StrEnum):
    PASSWORD = "password"  # noqa: S105 - a grant name, not a secret
    REFRESH_TOKEN = "refresh_token"  # noqa: S105 - a grant name, not a secret
    JWT_BEARER = "jwt_bearer"
    CLIENT_CREDENTIALS = "client_credentials"
    SESSION = "session"


# The variables a failing flow's error message tells the user to check.
_VARIABLES: dict[Flow, str] = {
    Flow.PASSWORD: "CONVSYNC_SALESFORCE_USERNAME, CONVSYNC_SALESFORCE_PASSWORD, "
    "CONVSYNC_SALESFORCE_SECURITY_TOKEN, CONVSYNC_SALESFORCE_CLIENT_ID and "
    "CONVSYNC_SALESFORCE_CLIENT_SECRET",
    Flow.REFRESH_TOKEN: "CONVSYNC_SALESFORCE_REFRESH_TOKEN, CONVSYNC_SALESFORCE_CLIENT_ID and "
    "CONVSYNC_SALESFORCE_CLIENT_SECRET",
    Flow.JWT_BEARER: "CONVSYNC_SALESFORCE_USERNAME, CONVSYNC_SALESFORCE_CLIENT_ID, "
    "CONVSYNC_SALESFORCE_PRIVATE_KEY_FILE and CONVSYNC_SALESFORCE_JWT_AUDIENCE",
    Flow.CLIENT_CREDENTIALS: "CONVSYNC_SALESFORCE_CLIENT_ID and CONVSYNC_SALESFORCE_CLIENT_SECRET",
    Flow.SESSION: "CONVSYNC_SALESFORCE_INSTANCE_URL and CONVSYNC_SALESFORCE_SESSION_ID",
}


@dataclass(frozen=True, repr=False)
class Credentials:
    """What one login needs, resolved from Settings. `repr()` shows the flow only."""

    flow: Flow
    login_url: str
    username: str | None = None
    password: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    refresh_token: str | None = None
    private_key_file: Path | None = None
    jwt_audience: str = PRODUCTION_AUDIENCE
    instance_url: str | None = None
    session_id: str | None = None
    # Credentials to log in again when a given session expires (None: cannot).
    relogin: Credentials | None = None

    def __repr__(self) -> str:
        return f"Credentials(flow={self.flow.value}, login_url={self.login_url!r})"

    @property
    def variables(self) -> str:
        return _VARIABLES[self.flow]

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value, to mask from any text that leaves the package."""
        values = (self.password, self.client_secret, self.refresh_token, self.session_id)
        own = tuple(v for v in values if v)
        return own + (self.relogin.secrets if self.relogin else ())


def jwt_audience(login_url: str) -> str:
    """The `aud` Salesforce expects for a login URL: its test URL for sandboxes.

    Sandboxes log in at `test.salesforce.com`, at `<domain>--<sandbox>.sandbox.my.
    salesforce.com` (enhanced domains), or at `<domain>--<sandbox>.my.salesforce.com`
    (older My Domains); everything else is production (or the emulator, which accepts
    both audiences).
    """
    host = (urlsplit(login_url).hostname or "").lower()
    if host == "test.salesforce.com" or host.endswith(".sandbox.my.salesforce.com"):
        return SANDBOX_AUDIENCE
    if host.endswith(".my.salesforce.com") and "--" in host.split(".", 1)[0]:
        return SANDBOX_AUDIENCE
    return PRODUCTION_AUDIENCE


class HeldToken(Protocol):
    """The refresh token to use now (`current`); `replace(new)` keeps Salesforce's answer."""

    current: str

    def replace(self, new: str) -> None: ...


class RefreshTokenStore(Protocol):
    """Where rotated refresh tokens are kept, shared by every process (see `store/`).

    `hold(configured)` serialises refreshes of one configured token across processes
    and yields the newest token; `replace()` on it keeps the one Salesforce returned.
    """

    def hold(self, configured: str) -> AbstractContextManager[HeldToken]: ...


@dataclass(repr=False)
class _Held:
    """A `HeldToken` in memory (repr=False: never shows the token)."""

    current: str
    replacement: str | None = None

    def replace(self, new: str) -> None:
        self.replacement = new


class LocalRefreshTokens:
    """Rotated refresh tokens kept in this process only: for a single process, or tests.

    A deployment with several processes uses the database's store instead (wired by the
    composition root), or the processes would void each other's tokens.
    """

    def __init__(self) -> None:
        self._newest: dict[str, str] = {}
        self._lock = threading.Lock()

    @contextmanager
    def hold(self, configured: str) -> Iterator[HeldToken]:
        with self._lock:
            held = _Held(self._newest.get(configured, configured))
            yield held
            if held.replacement is not None:
                self._newest[configured] = held.replacement


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


def credentials_from(settings: Settings) -> Credentials:
    """Pick the login flow the settings describe; ConfigurationError when none fits."""
    login_url = settings.salesforce_login_url
    username = settings.salesforce_username
    password = _secret(settings.salesforce_password)
    token = _secret(settings.salesforce_security_token) or ""
    client_id = settings.salesforce_client_id
    client_secret = _secret(settings.salesforce_client_secret)
    refresh_token = _secret(settings.salesforce_refresh_token)
    key_file = settings.salesforce_private_key_file

    login: Credentials | None = None
    if key_file is not None:
        if not (username and client_id):
            raise ConfigurationError(
                "CONVSYNC_SALESFORCE_PRIVATE_KEY_FILE needs CONVSYNC_SALESFORCE_USERNAME and "
                "CONVSYNC_SALESFORCE_CLIENT_ID (JWT bearer login)"
            )
        login = Credentials(
            Flow.JWT_BEARER,
            login_url,
            username=username,
            client_id=client_id,
            private_key_file=key_file,
            jwt_audience=settings.salesforce_jwt_audience or jwt_audience(login_url),
        )
    elif refresh_token is not None:
        if not client_id:
            raise ConfigurationError(
                "CONVSYNC_SALESFORCE_REFRESH_TOKEN needs CONVSYNC_SALESFORCE_CLIENT_ID"
            )
        login = Credentials(
            Flow.REFRESH_TOKEN,
            login_url,
            client_id=client_id,
            client_secret=client_secret,
            refresh_token=refresh_token,
        )
    elif username or password:
        if not (username and password and client_id):
            raise ConfigurationError(
                "a username-password login needs CONVSYNC_SALESFORCE_USERNAME, "
                "CONVSYNC_SALESFORCE_PASSWORD and CONVSYNC_SALESFORCE_CLIENT_ID "
                "(+ _CLIENT_SECRET, _SECURITY_TOKEN)"
            )
        login = Credentials(
            Flow.PASSWORD,
            login_url,
            username=username,
            password=password + token,
            client_id=client_id,
            client_secret=client_secret,
        )
    elif client_id and client_secret:
        login = Credentials(
            Flow.CLIENT_CREDENTIALS, login_url, client_id=client_id, client_secret=client_secret
        )

    session_id = _secret(settings.salesforce_session_id)
    if settings.salesforce_instance_url and session_id:
        return Credentials(
            Flow.SESSION,
            login_url,
            instance_url=settings.salesforce_instance_url,
            session_id=session_id,
            relogin=login,
        )
    if login is None:
        raise ConfigurationError(
            "no Salesforce credentials: set CONVSYNC_SALESFORCE_USERNAME + _PASSWORD + "
            "_CLIENT_ID, or _CLIENT_ID + _CLIENT_SECRET, or _REFRESH_TOKEN, or "
            "_PRIVATE_KEY_FILE, or CONVSYNC_SALESFORCE_INSTANCE_URL + _SESSION_ID"
        )
    return login


def jwt_assertion(credentials: Credentials, *, now: float | None = None) -> str:
    """An RS256-signed JWT bearer assertion (PyJWT ships with simple-salesforce)."""
    import jwt

    if credentials.private_key_file is None:
        raise ConfigurationError("CONVSYNC_SALESFORCE_PRIVATE_KEY_FILE is not set")
    not_a_key = ConfigurationError(
        f"CONVSYNC_SALESFORCE_PRIVATE_KEY_FILE: {credentials.private_key_file} is not a "
        "PEM-encoded RSA private key (-----BEGIN PRIVATE KEY-----)"
    )
    try:
        key = credentials.private_key_file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise not_a_key from None
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": credentials.client_id,
        "sub": credentials.username,
        "aud": credentials.jwt_audience,
        "exp": issued + JWT_LIFETIME_SECONDS,
    }
    try:
        return jwt.encode(claims, key, algorithm="RS256")
    except (jwt.exceptions.InvalidKeyError, ValueError, TypeError):
        # The key's text never goes into the message: it is the secret.
        raise not_a_key from None


def _form(credentials: Credentials, refresh_token: str | None = None) -> dict[str, str]:
    flow = credentials.flow
    form: dict[str, str]
    if flow is Flow.PASSWORD:
        form = {
            "grant_type": "password",
            "username": credentials.username or "",
            "password": credentials.password or "",
        }
    elif flow is Flow.REFRESH_TOKEN:
        token = refresh_token or credentials.refresh_token or ""
        form = {"grant_type": "refresh_token", "refresh_token": token}
    elif flow is Flow.CLIENT_CREDENTIALS:
        form = {"grant_type": "client_credentials"}
    elif flow is Flow.JWT_BEARER:
        return {"grant_type": JWT_GRANT, "assertion": jwt_assertion(credentials)}
    else:  # pragma: no cover - SESSION never posts
        raise AssertionError(flow)
    form["client_id"] = credentials.client_id or ""
    if credentials.client_secret:
        form["client_secret"] = credentials.client_secret
    return form


def authenticate(
    credentials: Credentials,
    session: requests.Session,
    refresh_tokens: RefreshTokenStore | None = None,
) -> Token:
    """Log in once; returns the instance URL and access token.

    A refresh-token login goes through `refresh_tokens` when given: it refreshes with
    the newest token any process has stored, and stores the one Salesforce returns when
    the connected app rotates them.
    """
    if credentials.flow is Flow.SESSION:
        return Token(credentials.instance_url or "", credentials.session_id or "")
    if credentials.flow is not Flow.REFRESH_TOKEN or refresh_tokens is None:
        return _token(_request_token(credentials, session, _form(credentials), ()))
    with refresh_tokens.hold(credentials.refresh_token or "") as held:
        form = _form(credentials, refresh_token=held.current)
        body = _request_token(credentials, session, form, (held.current,))
        rotated = body.get("refresh_token")
        if isinstance(rotated, str) and rotated and rotated != held.current:
            held.replace(rotated)
    return _token(body)


def _request_token(
    credentials: Credentials,
    session: requests.Session,
    form: dict[str, str],
    secrets: tuple[str, ...],
) -> dict[str, Any]:
    """POST the token request; the JSON body of a 200, else a one-line error."""
    url = credentials.login_url + TOKEN_PATH
    try:
        response = session.post(url, data=form, headers={"Accept": "application/json"})
    except (requests.RequestException, OSError) as failure:
        raise translate(failure, "log in at CONVSYNC_SALESFORCE_LOGIN_URL") from None
    if response.status_code >= 500:
        raise TransientSalesforceError(
            f"the Salesforce login endpoint answered HTTP {response.status_code}; retry later",
            code="SERVER_UNAVAILABLE",
        )
    try:
        body: Any = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
        error = str(body.get("error", "unknown_error")) if isinstance(body, dict) else "unknown"
        description = str(body.get("error_description", "")) if isinstance(body, dict) else ""
        detail = mask(f"{error}: {description}".strip(": "), credentials.secrets + secrets)
        raise SalesforceAuthError(
            f"Salesforce login failed ({detail}, HTTP {response.status_code}): "
            f"check {credentials.variables}",
            code=error,
        )
    return body


def _token(body: dict[str, Any]) -> Token:
    instance_url = str(body.get("instance_url") or "").rstrip("/")
    if not instance_url.startswith("https://"):
        raise SalesforceAuthError(
            "Salesforce login returned no https instance URL: check CONVSYNC_SALESFORCE_LOGIN_URL",
            code="NO_INSTANCE_URL",
        )
    return Token(instance_url, str(body["access_token"]))
