"""Reading for many due campaigns at once: one Composite API call per 100 campaigns.

A run asks Salesforce four things before it writes: is the campaign still there, how
far does the delete log reach, which members changed, and which statuses does the
campaign have. Asked run by run, a tick with 100 changed campaigns costs 400 calls; asked
together they are one `sobjects/CampaignMember/deleted` and five queries in a Composite
call (which Salesforce counts as one API call: the existence query, the statuses query,
and the change query split by campaign into as many more as the five allow, so up to
6,000 changed rows come in that call), plus a call per further page of rows.

The stream declares *what* (fields, order); the client says *how* (composite, paging,
retries); this module only builds the SOQL and sorts the answer by campaign.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from itertools import groupby
from typing import Any
from urllib.parse import urlencode

from convsync.domain.model import MemberStatus
from convsync.salesforce.client import QUERIES_PER_COMPOSITE, SalesforceClient
from convsync.salesforce.records import (
    CampaignWindow,
    ReplicationWindow,
    SalesforceMember,
    SharedRead,
)
from convsync.salesforce.rows import delete_log_params, member, member_status, replication_window
from convsync.salesforce.soql import soql, validate_id
from convsync.salesforce.streams import (
    CAMPAIGN,
    CAMPAIGN_MEMBER,
    CAMPAIGN_MEMBER_STATUS,
    CHANGES_ORDER,
)

# Campaigns asked about in one Composite call. Each distinct bookmark adds a clause to
# the change query: 100 of them keep its SOQL near 10,000 characters, far below
# Salesforce's 100,000.
CAMPAIGNS_PER_READ = 100
# Past this many changed rows, a shared read stops turning pages (each campaign's rows
# are whole up to where it stopped; its run reads the rest): one busy campaign must not
# make the tick hold its hundred thousand rows in memory.
MAX_SHARED_ROWS = 20_000

_ACTION = "read the due campaigns"


class SharedReader:
    """Reads what many runs need, for all of them at once (see the module docstring)."""

    def __init__(self, client: SalesforceClient) -> None:
        self.client = client

    def read(self, windows: Sequence[CampaignWindow]) -> SharedRead:
        """Existence, delete-log reach (as of the latest `until`), each campaign's
        changes in its window and statuses, keyed by their ids as the caller gave them."""
        if not windows:
            raise ValueError("a shared read needs at least one campaign")
        until = max(w.until for w in windows)
        asked = [(validate_id(w.campaign_id, "Campaign"), w) for w in windows]
        present: set[str] = set()
        changes: dict[str, list[SalesforceMember]] = defaultdict(list)
        statuses: dict[str, list[MemberStatus]] = defaultdict(list)
        cut_short: set[str] = set()
        reach: ReplicationWindow | None = None
        rows_read = 0
        for start in range(0, len(asked), CAMPAIGNS_PER_READ):
            group = asked[start : start + CAMPAIGNS_PER_READ]
            ids = [cid for cid, _ in group]
            with_statuses = [cid for cid, w in group if w.wants_statuses]
            # The delete log's reach first: subrequests run in order, and every write
            # stamped up to its latestDateCovered is then visible to the reads after it.
            paths = [] if reach is not None else [_delete_log(until)]
            paths.append(_query("query", soql(CAMPAIGN.select() + " WHERE Id IN {ids}", ids=ids)))
            if with_statuses:
                paths.append(_query("query", _statuses_query(with_statuses)))
            # The other query subrequests read changes, a slice of the campaigns each:
            # their first pages come in this call, up to 2,000 rows apiece.
            slices = _slices(group, QUERIES_PER_COMPOSITE - len(paths) + (reach is None))
            paths.extend(_query("queryAll", _changes_query(part)) for part in slices)
            answers = self.client.composite_get(paths, action=_ACTION)
            if reach is None:
                reach = replication_window(answers.pop(0))
            existing = self.client.rows_from(answers.pop(0), action=_ACTION)
            present.update(str(row["Id"]) for row in existing)
            if with_statuses:
                for row in self.client.rows_from(answers.pop(0), action=_ACTION):
                    statuses[str(row["CampaignId"])].append(member_status(row))
            for part, first in zip(slices, answers, strict=True):
                rows, whole = self._changes(first, MAX_SHARED_ROWS - rows_read)
                rows_read += len(rows)
                for found in rows:
                    changes[found.campaign_id].append(found)
                if not whole:
                    cut_short.update(cid for cid, _ in part)
        assert reach is not None  # read with the first group
        given = {cid: window.campaign_id for cid, window in asked}
        return SharedRead(
            present=frozenset(given[c] for c in present if c in given),
            reach=reach,
            changes={given[c]: rows for c, rows in changes.items() if c in given},
            statuses={given[c]: found for c, found in statuses.items() if c in given},
            cut_short=frozenset(given[c] for c in cut_short),
        )

    def _changes(self, first: dict[str, Any], budget: int) -> tuple[list[SalesforceMember], bool]:
        """The rows of a change query, page after page while fewer than `budget` were
        read (the first page always); and whether they are all of them."""
        rows = [member(row) for row in first.get("records") or []]
        next_url = _next(first)
        while next_url is not None and len(rows) < budget:
            answer = self.client.query_more(next_url, action=_ACTION)
            rows.extend(member(row) for row in answer.get("records") or [])
            next_url = _next(answer)
        return rows, next_url is None


def _next(answer: dict[str, Any]) -> str | None:
    url = answer.get("nextRecordsUrl")
    return None if answer.get("done", True) or not url else str(url)


def _slices(
    group: Sequence[tuple[str, CampaignWindow]], count: int
) -> list[Sequence[tuple[str, CampaignWindow]]]:
    """The group in `count` slices of consecutive campaigns (fewer for a small group)."""
    count = max(1, min(count, len(group)))
    size = -(-len(group) // count)
    return [group[start : start + size] for start in range(0, len(group), size)]


def _delete_log(until: datetime) -> str:
    return "sobjects/CampaignMember/deleted/?" + urlencode(delete_log_params(until))


def _query(resource: str, query: str) -> str:
    return f"{resource}?" + urlencode({"q": query})


def _changes_query(group: Sequence[tuple[str, CampaignWindow]]) -> str:
    """Every member row (removed ones too: queryAll) of the group changed in its own
    campaign's window, oldest first across campaigns: campaigns sharing a window share
    a clause."""
    by_window = sorted(group, key=lambda item: (item[1].since, item[1].until))
    clauses: list[str] = []
    values: dict[str, Any] = {}
    windows = groupby(by_window, key=lambda item: (item[1].since, item[1].until))
    for number, ((since, until), items) in enumerate(windows):
        clauses.append(
            f"(CampaignId IN {{ids{number}}} AND SystemModstamp > {{since{number}}}"
            f" AND SystemModstamp <= {{until{number}}})"
        )
        values[f"ids{number}"] = [cid for cid, _ in items]
        values[f"since{number}"] = since
        values[f"until{number}"] = until
    where = " WHERE " + " OR ".join(clauses)
    return soql(CAMPAIGN_MEMBER.select() + where + CHANGES_ORDER, **values)


def _statuses_query(campaign_ids: list[str]) -> str:
    return soql(
        CAMPAIGN_MEMBER_STATUS.select()
        + " WHERE CampaignId IN {ids} ORDER BY CampaignId, SortOrder, Id",
        ids=campaign_ids,
    )
