"""Everything a use case needs, wired once by the composition root."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from convsync.domain.budget_wait import MAX_ATTEMPTS
from convsync.domain.model import Stage
from convsync.store.db import Sessions
from convsync.sync.ports import ApiBudgetPort, Dispatcher, SalesforcePort, SyncObserver

# Members per inbound chunk task: one Salesforce query page (2,000 ≈ 1 API call read).
INBOUND_CHUNK = 2_000
# Members per outbound chunk task: 1,000 ≈ 5 collection calls of 200 (+ lookups).
OUTBOUND_CHUNK = 1_000
# Members per outbound chunk of a stage that goes through Bulk API 2.0 (at least
# CONVSYNC_BULK_THRESHOLD writes): a job costs ~7 API calls whatever its size, so
# 10,000 ≈ 2 jobs (Leads, members) ≈ 14 calls instead of 100 collection calls.
BULK_CHUNK = 10_000
# Re-read this much before the bookmark: Salesforce stamps a row when its transaction
# starts, so rows can appear slightly behind rows already read.
OVERLAP = timedelta(seconds=60)


@dataclass(frozen=True)
class SyncOptions:
    lease: timedelta = timedelta(seconds=90)
    create_missing_leads: bool = True
    bulk_threshold: int = 10_000
    inbound_chunk: int = INBOUND_CHUNK
    outbound_chunk: int = OUTBOUND_CHUNK
    bulk_chunk: int = BULK_CHUNK
    overlap: timedelta = OVERLAP
    max_attempts: int = MAX_ATTEMPTS
    # The first wait after Salesforce's daily API limit stops a task (doubled per try).
    api_limit_retry: timedelta = timedelta(seconds=60)
    # Conversion edits are pushed once no other edit came for this long (a burst is one
    # run), or once the oldest has waited `edit_push_max_delay` (domain.edits).
    edit_push_delay: timedelta = timedelta(seconds=1)
    edit_push_max_delay: timedelta = timedelta(seconds=5)
    # Decisions about members older than this are forgotten (beat's reconciler prunes).
    decision_retention: timedelta = timedelta(days=30)
    # Drift repair runs on a link whose last whole compare is older than this.
    full_compare_interval: timedelta = timedelta(days=1)
    # How long pooled member updates wait for other runs' (sync.update_pool); 0: no pool.
    update_pool_linger: timedelta = timedelta(seconds=2)


class Unobserved:
    """No metrics, no logs: the observer of use cases run outside a worker."""

    def chunk_applied(self, stage: Stage, counts: Mapping[str, int]) -> None:
        return None

    def stage_finished(self, stage: Stage, seconds: float) -> None:
        return None


UNOBSERVED = Unobserved()


@dataclass(frozen=True)
class SyncContext:
    sessions: Sessions
    # A factory, so that use cases that never touch Salesforce never log in.
    salesforce_factory: Callable[[], SalesforcePort]
    dispatch: Dispatcher
    options: SyncOptions = SyncOptions()
    observer: SyncObserver = UNOBSERVED
    # convsync's own API budget; None without Redis (embedded mode: not budgeted).
    api_budget: ApiBudgetPort | None = None

    @property
    def salesforce(self) -> SalesforcePort:
        return self.salesforce_factory()
