"""Test and benchmark knobs: API-call budget and counters, injected faults, latency.

They live apart from the org state so `reset` of records and `reset` of counters are
separate decisions, and so the HTTP layer can apply them uniformly to every API call.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

FAULT_KINDS = ("503", "UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED", "INVALID_SESSION_ID", "drop")
# Served, then the connection dropped: the call's write is made but its answer never
# arrives. Only on request (`kind`/`kinds`), never in the default random mix, which
# models failures a client may blindly retry.
LOST_RESPONSE = "lost_response"
KNOWN_FAULTS = (*FAULT_KINDS, LOST_RESPONSE)
DEFAULT_API_LIMIT = 1_000_000


@dataclass
class Controls:
    """API usage, per-endpoint counters, fault plan and latency; thread-safe."""

    api_limit: int = DEFAULT_API_LIMIT
    latency_ms: int = 0
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    api_used: int = 0
    counters: Counter[str] = field(default_factory=Counter)
    # (kind, endpoint key it waits for, or None for the next call of any kind)
    _queued: list[tuple[str, str | None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _random: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self._initial = (self.api_limit, self.latency_ms, self.fault_rate)

    def charge(self, key: str) -> bool:
        """Count one API call; False when the daily limit is already used up."""
        with self._lock:
            if self.api_used >= self.api_limit:
                return False
            self.api_used += 1
            self.counters[key] += 1
            self.counters["total"] += 1
            return True

    def limit_info(self) -> str:
        """The `Sforce-Limit-Info` header value."""
        return f"api-usage={self.api_used}/{self.api_limit}"

    def next_fault(self, endpoint: str) -> str | None:
        """The fault to inject into this call to `endpoint`, if any (queued ones first)."""
        with self._lock:
            for index, (kind, wanted) in enumerate(self._queued):
                if wanted is None or wanted == endpoint:
                    del self._queued[index]
                    return kind
            if self.fault_rate > 0 and self._random.random() < self.fault_rate:
                return self._random.choice(self.fault_kinds)
            return None

    def set_faults(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Apply `{"rate", "kinds"}` and/or `{"next", "kind", "endpoint"?}`; `{"clear": true}`
        clears. With `endpoint` (a counter key such as `composite/sobjects:POST`) the queued
        faults wait for a call to that endpoint."""
        kinds = spec.get("kinds")
        kind = spec.get("kind")
        for k in [*(kinds or []), *([kind] if kind else [])]:
            if k not in KNOWN_FAULTS:
                raise ValueError(f"unknown fault kind {k!r}; known: {', '.join(KNOWN_FAULTS)}")
        with self._lock:
            if spec.get("clear"):
                self._queued.clear()
                self.fault_rate = 0.0
            if "rate" in spec:
                self.fault_rate = float(spec["rate"])
                self.fault_kinds = tuple(kinds or FAULT_KINDS)
            if "next" in spec:
                endpoint = spec.get("endpoint")
                self._queued.extend([(kind or "503", endpoint)] * int(spec["next"]))
            if "seed" in spec:
                self._random.seed(spec["seed"])
            return {
                "rate": self.fault_rate,
                "kinds": list(self.fault_kinds),
                "queued": [kind for kind, _ in self._queued],
            }

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            by_endpoint = {k: v for k, v in self.counters.items() if k != "total"}
            return {
                "total": self.counters["total"],
                "by_endpoint": by_endpoint,
                "api_usage": {"used": self.api_used, "max": self.api_limit},
            }

    def reset_counters(self) -> None:
        with self._lock:
            self.counters.clear()

    def reset(self) -> None:
        """Counters, usage, limit, faults and latency back to their configured start values."""
        with self._lock:
            self.counters.clear()
            self.api_used = 0
            self._queued.clear()
            self.api_limit, self.latency_ms, self.fault_rate = self._initial
            self.fault_kinds = FAULT_KINDS
