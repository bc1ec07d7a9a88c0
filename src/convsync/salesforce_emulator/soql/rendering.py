"""Render query rows the way Salesforce answers them: JSON records or Bulk API CSV.

REST queries answer nested JSON records with `attributes`; Bulk API 2.0 results are CSV
with Salesforce's datetime and null spellings. Kept apart from compiling and running a
query, which do not depend on how its rows are written out.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from ..clock import format_bulk_datetime, format_datetime
from ..org import Record
from ..store import Store
from .engine import CompiledQuery


def json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def record_renderer(
    cq: CompiledQuery, store: Store, version: str
) -> Callable[[Record], dict[str, Any]]:
    """Build a function rendering a record like Salesforce's query JSON."""
    obj = cq.sobject.name
    base = f"/services/data/v{version}/sobjects/"
    plan: list[tuple[str, Any]] = []  # ("field", name) | ("rel", (relation, [names]))
    rel_index: dict[str, list[str]] = {}
    for col in cq.columns:
        if col.relation is None:
            plan.append(("field", col.field.name))
        else:
            rel = col.relation.relationship_name or ""
            if rel not in rel_index:
                rel_index[rel] = []
                plan.append(("rel", (col.relation, rel_index[rel])))
            rel_index[rel].append(col.field.name)

    def render(r: Record) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": {"type": obj, "url": f"{base}{obj}/{r['Id']}"}}
        for kind, spec in plan:
            if kind == "field":
                out[spec] = json_value(r.get(spec))
                continue
            relation, names = spec
            target = relation.reference_to
            other = store.tables[target].get(r.get(relation.name) or "")
            if other is None:
                out[relation.relationship_name] = None
                continue
            nested: dict[str, Any] = {
                "attributes": {"type": target, "url": f"{base}{target}/{other['Id']}"}
            }
            for name in names:
                nested[name] = json_value(other.get(name))
            out[relation.relationship_name] = nested
        return out

    return render


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_bulk_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def csv_header(cq: CompiledQuery) -> list[str]:
    """Bulk API 2.0 query CSV header: canonical dotted field names."""
    if cq.is_aggregate:
        return [c.field.name for c in cq.group_by] + [a.key for a in cq.aggregates]
    return [c.name for c in cq.columns]


def csv_row(cq: CompiledQuery, row: Any) -> list[str]:
    """One CSV row for a record (or an aggregate result dict)."""
    if cq.is_aggregate:
        return [_csv_value(row.get(h)) for h in csv_header(cq)]
    return [_csv_value(c.getter(row)) for c in cq.columns]
