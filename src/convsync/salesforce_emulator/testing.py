"""Helpers for tests and benchmarks: an emulator in a background thread, an admin client,
and a simple-salesforce client that trusts the emulator's CA.

They ship with the emulator because every test suite that talks to "Salesforce" needs
them, and they must stay in step with the emulator's own endpoints.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests
import uvicorn

from .app import Emulator
from .server import _config, bound_port
from .tls import make_tls_files

DEFAULT_LOGIN = {
    "grant_type": "password",
    "client_id": "emulator-client",
    "client_secret": "emulator-secret",
    "username": "sync@example.com",
    "password": "password" + "token",
}


class CaBundleSession(requests.Session):
    """A Session whose `verify` wins over REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE.

    requests replaces a Session's `verify` with the environment's bundle at request time
    when those variables are set; this keeps proxies and other environment settings but
    always verifies against `ca_file`.
    """

    def __init__(self, ca_file: str) -> None:
        super().__init__()
        self.ca_file = ca_file
        self.verify = ca_file

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        settings["verify"] = self.ca_file
        return settings


@dataclass(frozen=True, repr=False)
class JwtKeys:
    """An RSA private key (PEM) and a self-signed certificate for it: what a connected
    app holds for the JWT bearer flow (`admin.oauth(jwt_certificate=...)`)."""

    private_key_pem: bytes
    certificate_pem: str


def jwt_keys() -> JwtKeys:
    """A fresh key pair and certificate (2048-bit RSA, valid for 30 days)."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "convsync-tests")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return JwtKeys(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        certificate.public_bytes(serialization.Encoding.PEM).decode(),
    )


@dataclass
class AdminClient:
    """Calls the `/__emulator/` endpoints."""

    url: str
    session: requests.Session

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = self.session.request(
            method, f"{self.url}/__emulator/{path}", json=body, timeout=120
        )
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        """Empty the org; reset counters, usage, faults, latency and the clock offset."""
        self._call("POST", "reset")

    def seed(self, payload: Mapping[str, Any] | None = None, **parts: Any) -> dict[str, Any]:
        """Create campaigns/leads/contacts/members in one call (see `seed.py`)."""
        return dict(self._call("POST", "seed", {**(payload or {}), **parts}))

    def counters(self) -> dict[str, Any]:
        """`{"total", "by_endpoint": {key: n}, "api_usage": {"used", "max"}}`."""
        return dict(self._call("GET", "counters"))

    def reset_counters(self) -> None:
        self._call("POST", "counters/reset")

    def inject_faults(
        self,
        *,
        rate: float | None = None,
        kinds: list[str] | None = None,
        next: int | None = None,
        kind: str | None = None,
        endpoint: str | None = None,
        clear: bool = False,
        seed: int | None = None,
    ) -> dict[str, Any]:
        """Random faults at `rate` among `kinds`, or `kind` for the `next` N API calls
        (with `endpoint`, the next N calls to that counter key)."""
        spec: dict[str, Any] = {"clear": clear}
        if rate is not None:
            spec["rate"] = rate
            spec["kinds"] = kinds
        if next is not None:
            spec["next"] = next
            spec["kind"] = kind
            if endpoint is not None:
                spec["endpoint"] = endpoint
        if seed is not None:
            spec["seed"] = seed
        return dict(self._call("POST", "faults", spec))

    def set_duplicate_rules(self, lead: str) -> None:
        """The Lead duplicate rule: "off", "alert" or "block"."""
        self._call("POST", "duplicate-rules", {"Lead": lead})

    def set_bulk_processing(self, seconds: float) -> None:
        """Bulk API 2.0 ingest jobs stay InProgress this long after UploadComplete."""
        self._call("POST", "bulk", {"processing_seconds": seconds})

    def set_latency(self, ms: int) -> None:
        self._call("POST", "latency", {"ms": ms})

    def expire_sessions(self) -> None:
        self._call("POST", "sessions/expire")

    def oauth(self, **settings: Any) -> dict[str, Any]:
        """Set `rotate_refresh_tokens` and/or `jwt_certificate` (PEM or None); read them.

        The answer also counts token requests by grant and outcome (`token_requests`).
        """
        return dict(self._call("POST", "oauth", settings))

    def permissions(self, spec: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Restrict the integration user (`{"Lead": {"create": false, "fields": {"Email":
        "none"}}}`; objects not named get full access, `{}` restores all); read them."""
        if spec is None:
            return dict(self._call("GET", "permissions"))
        return dict(self._call("POST", "permissions", dict(spec)))

    def summary(self) -> dict[str, Any]:
        """Live/deleted counts per object."""
        return dict(self._call("GET", "state/summary"))

    def set_limits(self, *, max: int | None = None, used: int | None = None) -> None:
        """Change the daily API limit and/or the calls already used today."""
        body: dict[str, Any] = {}
        if max is not None:
            body["max"] = max
        if used is not None:
            body["used"] = used
        self._call("POST", "limits", body)

    def convert_lead(self, lead_id: str, contact_id: str | None = None) -> dict[str, str]:
        """Convert a Lead (into a new Contact, or `contact_id`): `{contact_id, account_id}`."""
        body = {"lead_id": lead_id, **({"contact_id": contact_id} if contact_id else {})}
        return dict(self._call("POST", "leads/convert", body))

    def merge(self, object_name: str, master_id: str, loser_ids: list[str]) -> dict[str, Any]:
        """Merge Leads or Contacts into the master: `{master_id, moved_members,
        removed_members}` (the member ids that moved, and those removed without a trace)."""
        body = {"object": object_name, "master_id": master_id, "loser_ids": loser_ids}
        return dict(self._call("POST", "merge", body))

    def set_lock_window(self, window_ms: int) -> None:
        """Member writes to a campaign within `window_ms` of another fail UNABLE_TO_LOCK_ROW."""
        self._call("POST", "locks", {"window_ms": window_ms})

    def purge_deleted(self, before: str | None = None) -> dict[str, Any]:
        """Empty the delete log up to `before` (ISO 8601; all of it when None)."""
        return dict(self._call("POST", "deleted/purge", {"before": before}))

    def set_commit_delay(self, seconds: float) -> None:
        """API writes become visible to queries `seconds` after their SystemModstamp."""
        self._call("POST", "commit-delay", {"seconds": seconds})

    def set_replication_resolution(self, seconds: float) -> None:
        """`latestDateCovered` rounds down to `seconds` instead of Salesforce's minute."""
        self._call("POST", "replication-resolution", {"seconds": seconds})

    def shift_clock(self, offset_ms: int) -> str:
        """Run the emulator's clock `offset_ms` ahead of (or behind) real time."""
        return str(self._call("POST", "clock", {"offset_ms": offset_ms})["now"])


@dataclass
class EmulatorHandle:
    """A running emulator: where it is, how to trust it, and its admin client."""

    url: str
    ca_file: str
    app: Emulator
    admin: AdminClient = field(repr=False)

    @property
    def login_url(self) -> str:
        return self.url

    def session(self) -> CaBundleSession:
        """A new requests session that trusts this emulator."""
        return CaBundleSession(self.ca_file)

    def token(self, **form: str) -> dict[str, Any]:
        """Log in through the OAuth token endpoint (password flow by default)."""
        response = self.session().post(
            f"{self.url}/services/oauth2/token", data={**DEFAULT_LOGIN, **form}, timeout=30
        )
        response.raise_for_status()
        return dict(response.json())


@contextmanager
def running_emulator(**options: Any) -> Iterator[EmulatorHandle]:
    """Start an emulator on a free loopback port in a thread; stop it on exit.

    Options are those of `Emulator` (api_limit, latency_ms, fault_rate, unknown_status,
    credentials_file, jwt_certificate_file) plus `host`.
    """
    host = options.pop("host", "127.0.0.1")
    app = Emulator(**options)
    tls = make_tls_files()
    server = uvicorn.Server(_config(app, host, 0, tls))
    thread = threading.Thread(target=server.run, name="salesforce-emulator", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the Salesforce emulator did not start")
        time.sleep(0.01)
    url = f"https://{host}:{bound_port(server)}"
    admin_session = CaBundleSession(tls.ca_file)
    handle = EmulatorHandle(url, tls.ca_file, app, AdminClient(url, admin_session))
    try:
        handle.admin._call("GET", "health")
        yield handle
    finally:
        server.should_exit = True
        server.force_exit = True  # do not wait for clients' idle keep-alive TLS connections
        thread.join(timeout=10)
        admin_session.close()


def simple_salesforce_client(handle: EmulatorHandle, *, version: str = "59.0") -> Any:
    """A `simple_salesforce.Salesforce` logged in to the emulator via OAuth."""
    from simple_salesforce.api import Salesforce

    token = handle.token()
    return Salesforce(
        instance_url=token["instance_url"],
        session_id=token["access_token"],
        session=handle.session(),
        version=version,
    )
