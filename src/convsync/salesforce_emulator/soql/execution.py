"""Plan a compiled query on the store's indexes, run it, and aggregate its rows.

Planning picks the narrowest index a WHERE clause allows (an Id, a CampaignId, a person,
an Email) so a filter over 100,000 members only visits the rows it can match; without
ORDER BY rows come back in creation order. Kept apart from compilation (`engine`) so
checking a query and running it each read in one place.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .. import ids
from ..errors import ApiError
from ..org import Record
from ..store import Store
from . import syntax as s
from .engine import MAX_AGGREGATE_ROWS, AggregateColumn, CompiledQuery, Getter
from .rendering import json_value


def _index_candidates(  # noqa: PLR0912
    cq: CompiledQuery, store: Store, include_deleted: bool
) -> list[str] | None:
    """Ids to examine, from an index, when a top-level conjunct pins an indexed field."""
    obj = cq.sobject.name
    best: list[str] | None = None
    for node in cq.conjuncts:
        if isinstance(node, s.Or | s.And) and obj == "CampaignMember":
            # convsync's shared read: (CampaignId IN (…) AND …) OR (CampaignId IN (…) AND …)
            pinned = _pinned_campaigns(node)
            if pinned is not None:
                best = _members_of(store, pinned)
            continue
        if isinstance(node, s.Compare) and node.op == "=":
            literals: Iterable[s.Literal] = (node.value,)
        elif isinstance(node, s.InList) and not node.negate:
            literals = node.values
        else:
            continue
        if len(node.path.parts) != 1:
            continue
        name = node.path.parts[0].lower()
        values = [lit.value for lit in literals if lit.kind == "string"]
        if name == "id":
            found = {v for v in map(ids.normalize, values) if v and v in store.tables[obj]}
            return sorted(found)
        if name == "campaignid" and obj == "CampaignMember":
            best = _members_of(store, {v for v in map(ids.normalize, values) if v})
        elif include_deleted:
            continue
        elif name == "campaignid" and obj == "CampaignMemberStatus":
            found = set()
            for cid in filter(None, map(ids.normalize, values)):
                found.update(store.statuses_by_campaign.get(cid, {}))
            best = sorted(found)
        elif name == "email" and obj in ("Lead", "Contact") and best is None:
            found = set()
            for email in values:
                found.update(store.people_by_email[obj].get(email.lower(), {}))
            best = sorted(found)
        elif name in ("leadid", "contactid") and obj == "CampaignMember" and best is None:
            found = set()
            for pid in filter(None, map(ids.normalize, values)):
                found.update(store.members_by_person.get(pid, {}))
            best = sorted(found)
    return best


def _members_of(store: Store, campaign_ids: set[str]) -> list[str]:
    """The CampaignMember ids (removed ones too) of these campaigns, in id order."""
    merged: list[str] = []
    for cid in sorted(campaign_ids):
        merged.extend(store.members_by_campaign.get(cid, {}))
    return sorted(merged) if len(campaign_ids) > 1 else merged


def _pinned_campaigns(node: Any) -> set[str] | None:
    """The campaigns a WHERE node restricts CampaignMember rows to, if it does: a
    `CampaignId =` or `IN`, a conjunction holding one, or a disjunction of such nodes."""
    if isinstance(node, s.Compare | s.InList) and [p.lower() for p in node.path.parts] == [
        "campaignid"
    ]:
        if isinstance(node, s.InList):
            literals = () if node.negate else node.values
        else:
            literals = (node.value,) if node.op == "=" else ()
        found = {ids.normalize(lit.value) for lit in literals if lit.kind == "string"}
        return {cid for cid in found if cid} if literals else None
    if isinstance(node, s.And):
        for item in node.items:
            pinned = _pinned_campaigns(item)
            if pinned is not None:
                return pinned
        return None
    if isinstance(node, s.Or):
        union: set[str] = set()
        for item in node.items:
            pinned = _pinned_campaigns(item)
            if pinned is None:
                return None
            union |= pinned
        return union
    return None


def _order(rows: list[Record], order: list[tuple[Getter, bool, bool]]) -> list[Record]:
    for getter, descending, nulls_first in reversed(order):
        # A null sorts below everything when (nulls_first xor descending).
        null_low = nulls_first != descending

        def key(r: Record, g: Getter = getter, low: bool = null_low) -> tuple[int, Any]:
            v = g(r)
            if v is None:
                return (0 if low else 2, 0)
            return (1, v)

        rows.sort(key=key, reverse=descending)
    return rows


def execute(cq: CompiledQuery, store: Store, *, include_deleted: bool) -> tuple[int, list[Any]]:
    """Run the query: (totalSize, rows). Rows are records, or dicts for aggregates."""
    with store.lock:
        table = store.tables[cq.sobject.name]
        candidates = _index_candidates(cq, store, include_deleted)
        source: Iterable[Record]
        if candidates is None:
            source = table.values()
        else:
            source = (table[i] for i in candidates if i in table)
        if store.in_flight:  # writes a long transaction has not made visible yet
            name = cq.sobject.name
            source = [v for v in (store.visible(name, r) for r in source) if v is not None]
        horizon = store.purge_horizon()
        predicate = cq.predicate
        rows = [
            r
            for r in source
            if (not r["IsDeleted"] or (include_deleted and r["SystemModstamp"] >= horizon))
            and (predicate is None or predicate(r))
        ]
    if cq.is_aggregate:
        return _aggregate(cq, rows)
    if cq.order:
        rows = _order(rows, cq.order)
    query = cq.query
    if query.offset:
        rows = rows[query.offset :]
    if query.limit is not None:
        rows = rows[: query.limit]
    if cq.count_only:
        return len(rows), []
    return len(rows), rows


def _aggregate(cq: CompiledQuery, rows: list[Record]) -> tuple[int, list[Any]]:
    groups: dict[tuple[Any, ...], list[Record]] = {}
    for r in rows:
        groups.setdefault(tuple(c.getter(r) for c in cq.group_by), []).append(r)
    if not cq.group_by and not groups:
        groups[()] = []
    out: list[dict[str, Any]] = []
    for key, members in groups.items():
        result: dict[str, Any] = {"attributes": {"type": "AggregateResult"}}
        for col, value in zip(cq.group_by, key, strict=True):
            result[col.field.name] = json_value(value)
        for agg in cq.aggregates:
            result[agg.key] = json_value(_reduce(agg, members))
        out.append(result)
    if cq.query.order_by:
        names = [cq.sobject.field(p.path.parts[-1]) for p in cq.query.order_by]
        for item, f in reversed(list(zip(cq.query.order_by, names, strict=True))):
            fname = f.name if f else item.path.parts[-1]

            def agg_key(r: dict[str, Any], n: str = fname) -> tuple[bool, Any]:
                return (r.get(n) is None, r.get(n) or "")

            out.sort(key=agg_key, reverse=item.descending)
    if cq.query.offset:
        out = out[cq.query.offset :]
    if cq.query.limit is not None:
        out = out[: cq.query.limit]
    if len(out) > MAX_AGGREGATE_ROWS:
        raise ApiError(
            "EXCEEDED_ID_LIMIT",
            "Aggregate query does not support queryMore(), use "
            "LIMIT to restrict the results to a single batch",
        )
    return len(out), out


def _reduce(  # noqa: PLR0911
    agg: AggregateColumn, members: list[Record]
) -> Any:
    assert agg.column is not None
    values = [v for v in map(agg.column.getter, members) if v is not None]
    if agg.function == "count":
        return len(values)
    if agg.function == "count_distinct":
        return len({v.lower() if isinstance(v, str) else v for v in values})
    if not values:
        return None
    if agg.function == "max":
        return max(values)
    if agg.function == "min":
        return min(values)
    if agg.function == "sum":
        return sum(values)
    return sum(values) / len(values)
