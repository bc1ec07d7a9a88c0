"""The benchmark's one error: it could not set up or measure what it was asked to."""

from __future__ import annotations

from convsync.domain.errors import ConvsyncError


class BenchError(ConvsyncError):
    """One line naming what to fix (a setting, a service) or what did not converge."""
