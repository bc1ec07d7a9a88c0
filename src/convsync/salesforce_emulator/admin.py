"""The `/__emulator/...` admin endpoints: test controls that no real org has.

Reset and seed the org, read counters, set faults, latency, limits, locks, permissions,
duplicate rules, OAuth policy, commit delay and the clock. Loopback only (checked by
`Emulator.dispatch`); kept apart from the Salesforce API so the two never blur.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from . import duplicates
from .auth import OAuthPolicy, Sessions, checked_certificate
from .bulk import BulkJobs
from .clock import format_datetime
from .controls import Controls
from .errors import ApiError
from .permissions import Permissions
from .queries import QueryService
from .seed import seed
from .soql.parser import parse_datetime
from .store import Store


class AdminEndpoints:
    """Handlers of `/__emulator/` requests over the org `Emulator` holds."""

    store: Store
    sessions: Sessions
    controls: Controls
    queries: QueryService
    bulk: BulkJobs
    jwt_certificate: str | None

    def _oauth_policy(self, body: dict[str, Any]) -> dict[str, Any]:
        if body:
            self.sessions.policy = _oauth_settings(self.sessions.policy, body)
        policy = self.sessions.policy
        return {
            "rotate_refresh_tokens": policy.rotate_refresh_tokens,
            "jwt_certificate": policy.jwt_certificate is not None,
            "token_requests": dict(self.sessions.requests),
        }

    def _admin_routes(self) -> dict[tuple[str, str], Callable[[dict[str, Any]], Any]]:
        """`/__emulator/` endpoints: (method, path) → handler of the JSON body."""
        return {
            ("GET", "health"): lambda _: {"ok": True},
            ("POST", "reset"): self._reset,
            ("POST", "seed"): lambda body: seed(self.store, body),
            ("GET", "counters"): lambda _: self.controls.snapshot(),
            ("POST", "counters/reset"): self._reset_counters,
            ("POST", "faults"): self._set_faults,
            ("POST", "duplicate-rules"): self._set_duplicate_rules,
            ("POST", "bulk"): self._set_bulk,
            ("POST", "latency"): self._set_latency,
            ("POST", "sessions/expire"): self._expire_sessions,
            ("GET", "oauth"): self._oauth_policy,
            ("POST", "oauth"): self._oauth_policy,
            ("GET", "permissions"): lambda _: self.store.permissions.to_json(),
            ("POST", "permissions"): self._set_permissions,
            ("GET", "state/summary"): lambda _: self.store.summary(),
            ("POST", "limits"): self._set_limits,
            ("POST", "leads/convert"): lambda body: self.store.convert_lead(
                body.get("lead_id"), body.get("contact_id")
            ),
            ("POST", "merge"): lambda body: self.store.merge(
                str(body.get("object")), body.get("master_id"), list(body.get("loser_ids") or [])
            ),
            ("POST", "locks"): self._set_locks,
            ("POST", "deleted/purge"): self._purge_deleted,
            ("POST", "commit-delay"): self._set_commit_delay,
            ("POST", "replication-resolution"): self._set_replication_resolution,
            ("GET", "clock"): self._clock,
            ("POST", "clock"): self._clock,
        }

    def _reset(self, _: dict[str, Any]) -> dict[str, Any]:
        self.store.reset()
        self.queries.reset()
        self.bulk.reset()
        self.controls.reset()
        self.store.clock.shift(0)
        self.sessions.policy = OAuthPolicy(jwt_certificate=self.jwt_certificate)
        self.sessions.requests.clear()
        return {"ok": True}

    def _reset_counters(self, _: dict[str, Any]) -> dict[str, Any]:
        self.controls.reset_counters()
        return self.controls.snapshot()

    def _set_faults(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.controls.set_faults(body)
        except ValueError as error:
            raise ApiError("INVALID_FIELD", str(error)) from None

    def _set_duplicate_rules(self, body: dict[str, Any]) -> dict[str, str]:
        for object_name, mode in body.items():
            if object_name != "Lead" or mode not in duplicates.MODES:
                raise ApiError("INVALID_FIELD", 'expected {"Lead": off|alert|block}')
            self.store.duplicate_rules[object_name] = mode
        return self.store.duplicate_rules

    def _set_bulk(self, body: dict[str, Any]) -> dict[str, float]:
        self.bulk.processing_seconds = float(body.get("processing_seconds", 0))
        return {"processing_seconds": self.bulk.processing_seconds}

    def _set_latency(self, body: dict[str, Any]) -> dict[str, int]:
        self.controls.latency_ms = int(body.get("ms", 0))
        return {"ms": self.controls.latency_ms}

    def _expire_sessions(self, _: dict[str, Any]) -> dict[str, bool]:
        self.sessions.expire_all()
        return {"ok": True}

    def _set_permissions(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            self.store.permissions = Permissions.parse(body)
        except (TypeError, ValueError) as error:
            raise ApiError("INVALID_FIELD", str(error)) from None
        return self.store.permissions.to_json()

    def _set_limits(self, body: dict[str, Any]) -> Any:
        if "max" in body:
            self.controls.api_limit = int(body["max"])
        if "used" in body:
            self.controls.api_used = int(body["used"])
        return self.controls.snapshot()["api_usage"]

    def _set_locks(self, body: dict[str, Any]) -> dict[str, int]:
        self.store.lock_window_ms = max(0, int(body.get("window_ms", 0)))
        return {"window_ms": self.store.lock_window_ms}

    def _purge_deleted(self, body: dict[str, Any]) -> dict[str, Any]:
        before = body.get("before")
        try:
            cut = parse_datetime(before) if before is not None else None
        except ValueError:
            raise ApiError("INVALID_FIELD", "before must be an ISO 8601 date-time") from None
        purged = self.store.purge_deleted(cut)
        start = self.store.delete_log_start
        assert start is not None
        return {"purged": purged, "earliestDateAvailable": format_datetime(start)}

    def _set_commit_delay(self, body: dict[str, Any]) -> dict[str, float]:
        self.store.commit_delay = timedelta(seconds=float(body.get("seconds", 0)))
        return {"seconds": self.store.commit_delay.total_seconds()}

    def _set_replication_resolution(self, body: dict[str, Any]) -> dict[str, float]:
        seconds = float(body.get("seconds", 60))
        if not 0 < seconds <= 3600:
            raise ApiError("INVALID_FIELD", "seconds must be above 0 and at most 3600")
        self.store.replication_resolution = timedelta(seconds=seconds)
        return {"seconds": seconds}

    def _clock(self, body: dict[str, Any]) -> dict[str, Any]:
        if "offset_ms" in body:
            self.store.clock.shift(int(body["offset_ms"]))
        return {
            "now": format_datetime(self.store.clock.now()),
            "offset_ms": self.store.clock.offset_ms,
        }


def _oauth_settings(policy: OAuthPolicy, body: dict[str, Any]) -> OAuthPolicy:
    """`POST /__emulator/oauth`: change only the settings the body names."""
    rotate = body.get("rotate_refresh_tokens", policy.rotate_refresh_tokens)
    certificate = body.get("jwt_certificate", policy.jwt_certificate)
    if not isinstance(rotate, bool):
        raise ApiError("INVALID_FIELD", "rotate_refresh_tokens must be true or false")
    if certificate is not None:
        try:
            checked_certificate(certificate)
        except (TypeError, ValueError):
            raise ApiError("INVALID_FIELD", "jwt_certificate must be a PEM certificate") from None
    return OAuthPolicy(rotate_refresh_tokens=rotate, jwt_certificate=certificate)
