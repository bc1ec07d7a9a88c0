"""When Conversion edits of a linked campaign are pushed: seconds after them, coalesced.

Every edit transaction counts itself on the campaign's link (`edit_count`), and each run
records how many edits its outbound plan covered; a successful run moves `pushed` up to
that. A campaign has pending edits while `edit_count > pushed`: a durable fact, so a
lost push request is picked up by beat's next tick. After its commit, an edit asks for
a push of "everything up to edit N" a short quiet period later; the request starts a
run only if no later edit came in meanwhile (the later edit's own request will), so a
burst of edits becomes one run. A campaign edited without pause is still pushed once
its oldest pending edit is `max_delay` old.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class PendingEdits:
    """What the store knows of a linked campaign's Conversion edits."""

    edit_count: int
    # The edits covered by the outbound plan of the last successful run.
    pushed: int
    # When the oldest edit not yet pushed was made, at the latest (None: none pending).
    since: datetime | None

    @property
    def pending(self) -> bool:
        return self.edit_count > self.pushed


def push_now(
    edits: PendingEdits, *, requested_after: int, now: datetime, max_delay: timedelta
) -> bool:
    """Whether a push requested after edit number `requested_after` starts a run now.

    Nothing pending: no (a run already carried the edits). No edit since the request:
    yes, the quiet period is over. Later edits: their own requests will come, so no,
    unless the oldest pending edit has waited `max_delay` already.
    """
    if not edits.pending:
        return False
    if edits.edit_count <= requested_after:
        return True
    return edits.since is not None and now - edits.since >= max_delay
