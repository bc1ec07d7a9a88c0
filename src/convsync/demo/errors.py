"""The demo's one error: a line saying what went wrong and where to look."""

from __future__ import annotations

from convsync.domain.errors import ConvsyncError


class DemoError(ConvsyncError):
    """One line naming what to fix (a service, a setting) or which step did not finish."""
