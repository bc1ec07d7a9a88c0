"""Check a parsed query against the schema and compile it into closures over records.

Compilation turns the AST into closures once per request, so filtering 100,000 members
is a tight Python loop rather than a tree walk per row. Semantics follow Salesforce:
string comparisons are case-insensitive, ids compare in their 18-character form,
`!=`/`NOT IN` keep nulls, ORDER BY defaults to NULLS FIRST ascending and NULLS LAST
descending. Running a compiled query is in `execution`, writing its rows out in
`rendering`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from .. import ids
from ..errors import ApiError
from ..org import Record
from ..schema import OBJECTS, Field, SObject, sobject
from ..store import Store
from . import syntax as s
from .parser import located, parse

Getter = Callable[[Record], Any]
Predicate = Callable[[Record], bool]

_STRINGISH = ("string", "email", "picklist", "textarea")
_ENTITY_HINT = (
    "If you are attempting to use a custom object, be sure to append the '__c' after the "
    "entity name. Please reference your WSDL or the describe call for the appropriate names."
)
_FIELD_HINT = (
    "If you are attempting to use a custom field, be sure to append the '__c' after the custom "
    "field name. Please reference your WSDL or the describe call for the appropriate names."
)
_REL_HINT = (
    "If you are attempting to use a custom relationship, be sure to append the '__r' after "
    "the custom relationship name. Please reference your WSDL or the describe call for the "
    "appropriate names."
)
MAX_AGGREGATE_ROWS = 2000


@dataclass
class Column:
    """A resolved field path: the field, and the lookup it goes through (if any)."""

    path: s.FieldPath
    field: Field
    relation: Field | None  # the reference field on the queried object
    getter: Getter

    @property
    def name(self) -> str:
        """Canonical dotted name, as Bulk CSV headers show it."""
        if self.relation is not None:
            return f"{self.relation.relationship_name}.{self.field.name}"
        return self.field.name


@dataclass
class AggregateColumn:
    function: str
    column: Column | None
    key: str


@dataclass
class CompiledQuery:
    """Everything needed to run and render one query."""

    query: s.Query
    sobject: SObject
    columns: list[Column]
    predicate: Predicate | None
    conjuncts: list[Any]
    order: list[tuple[Getter, bool, bool]]
    count_only: bool = False
    aggregates: list[AggregateColumn] = field(default_factory=list)
    group_by: list[Column] = field(default_factory=list)

    @property
    def is_aggregate(self) -> bool:
        return bool(self.aggregates) or bool(self.group_by)


def _error(query: s.Query, path: s.FieldPath, code: str, message: str) -> ApiError:
    return ApiError(code, located(query.text, path.line, path.column, message))


def _resolve(query: s.Query, so: SObject, path: s.FieldPath, store: Store) -> Column:
    parts = path.parts
    if len(parts) > 1 and parts[0].lower() == so.name.lower():
        parts = parts[1:]
    permissions = store.permissions
    if len(parts) == 1:
        found = so.field(parts[0])
        if found is None or not permissions.visible(so.name, found.name):
            raise _error(
                query,
                path,
                "INVALID_FIELD",
                f"No such column '{parts[0]}' on entity '{so.name}'. {_FIELD_HINT}",
            )
        name = found.name
        return Column(path, found, None, lambda r: r.get(name))
    relation = so.relationships.get(parts[0].lower())
    if (
        relation is None
        or len(parts) > 2
        or not permissions.visible(so.name, relation.name)
        or not permissions.readable(relation.reference_to or "")
    ):
        raise _error(
            query,
            path,
            "INVALID_FIELD",
            f"Didn't understand relationship '{parts[0]}' in field path. {_REL_HINT}",
        )
    target = OBJECTS[relation.reference_to or ""]
    found = target.field(parts[1])
    if found is None or not permissions.visible(target.name, found.name):
        raise _error(
            query,
            path,
            "INVALID_FIELD",
            f"No such column '{parts[1]}' on entity '{target.name}'. {_FIELD_HINT}",
        )
    table = store.tables[target.name]
    ref, name = relation.name, found.name

    def related(r: Record) -> Any:
        other = table.get(r.get(ref))  # type: ignore[arg-type]
        return None if other is None else other.get(name)

    return Column(path, found, relation, related)


# ---------------------------------------------------------------------------- filtering
def _normalizer(f: Field) -> Callable[[Any], Any]:
    if f.type in _STRINGISH:
        return lambda v: v.lower() if isinstance(v, str) else v
    return lambda v: v


def _date_range(literal: str, now: datetime) -> tuple[datetime, datetime]:
    today = datetime.combine(now.date(), time(), tzinfo=UTC)
    day = timedelta(days=1)
    if literal == "TODAY":
        return today, today + day
    if literal == "YESTERDAY":
        return today - day, today
    if literal == "TOMORROW":
        return today + day, today + 2 * day
    kind, count = literal.split(":")
    days = int(count) * day
    if kind.startswith("LAST"):
        return today - days, today + day
    return today + day, today + day + days


def _literal_value(query: s.Query, col: Column, lit: s.Literal, store: Store) -> Any:
    """Type-check a literal against the field and return it in comparable form."""
    kind, ftype, name = lit.kind, col.field.type, col.field.name
    if kind == "null":
        return None
    if kind == "date_literal" and ftype in ("datetime", "date"):
        start, end = _date_range(lit.value, store.clock.now())
        if ftype == "date":
            return (start.date(), end.date())
        return (start, end)
    expected = {"datetime": "datetime", "date": "date", "boolean": "bool", "int": "number"}
    if ftype in expected:
        if kind != expected[ftype]:
            type_name = {"datetime": "dateTime"}.get(ftype, ftype)
            raise _error(
                query,
                col.path,
                "INVALID_FIELD",
                f"value of filter criterion for field '{name}' must be of type "
                f"{type_name} and should not be enclosed in quotes",
            )
        return lit.value
    if kind != "string":
        raise _error(
            query,
            col.path,
            "INVALID_FIELD",
            f"value of filter criterion for field '{name}' must be of type string "
            "and should be enclosed in quotes",
        )
    if ftype in ("id", "reference"):
        normal = ids.normalize(lit.value)
        if normal is None:
            raise _error(
                query, col.path, "INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {lit.value}"
            )
        return normal
    return lit.value.lower()


def _compare(op: str, getter: Getter, norm: Callable[[Any], Any], value: Any) -> Predicate:
    if isinstance(value, tuple):  # a date literal range [start, end)
        start, end = value
        ranges: dict[str, Predicate] = {
            "=": lambda r: (v := getter(r)) is not None and start <= v < end,
            "!=": lambda r: (v := getter(r)) is None or not start <= v < end,
            "<": lambda r: (v := getter(r)) is not None and v < start,
            "<=": lambda r: (v := getter(r)) is not None and v < end,
            ">": lambda r: (v := getter(r)) is not None and v >= end,
            ">=": lambda r: (v := getter(r)) is not None and v >= start,
        }
        return ranges["!=" if op == "<>" else op]
    if value is None:
        if op == "=":
            return lambda r: getter(r) is None
        if op in ("!=", "<>"):
            return lambda r: getter(r) is not None
        return lambda r: False
    ops: dict[str, Predicate] = {
        "=": lambda r: norm(getter(r)) == value,
        "!=": lambda r: norm(getter(r)) != value,
        "<": lambda r: (v := norm(getter(r))) is not None and v < value,
        "<=": lambda r: (v := norm(getter(r))) is not None and v <= value,
        ">": lambda r: (v := norm(getter(r))) is not None and v > value,
        ">=": lambda r: (v := norm(getter(r))) is not None and v >= value,
    }
    return ops["!=" if op == "<>" else op]


def _predicate(  # noqa: PLR0911
    query: s.Query, so: SObject, node: Any, store: Store
) -> Predicate:
    if isinstance(node, s.And):
        parts = [_predicate(query, so, n, store) for n in node.items]
        return lambda r: all(p(r) for p in parts)
    if isinstance(node, s.Or):
        parts = [_predicate(query, so, n, store) for n in node.items]
        return lambda r: any(p(r) for p in parts)
    if isinstance(node, s.Not):
        inner = _predicate(query, so, node.item, store)
        return lambda r: not inner(r)
    col = _resolve(query, so, node.path, store)
    getter, norm = col.getter, _normalizer(col.field)
    if isinstance(node, s.Compare):
        value = _literal_value(query, col, node.value, store)
        if node.op not in ("=", "!=", "<>") and col.field.type in ("boolean", "id", "reference"):
            raise _error(
                query,
                node.path,
                "INVALID_QUERY_FILTER_OPERATOR",
                f"invalid operator on {col.field.type} field: {col.field.name}",
            )
        return _compare(node.op, getter, norm, value)
    if isinstance(node, s.InList):
        values = {_literal_value(query, col, v, store) for v in node.values}
        if node.negate:
            return lambda r: norm(getter(r)) not in values
        return lambda r: norm(getter(r)) in values
    if isinstance(node, s.Like):
        if col.field.type not in (*_STRINGISH, "id", "reference"):
            raise _error(
                query,
                node.path,
                "INVALID_QUERY_FILTER_OPERATOR",
                f"invalid operator on {col.field.type} field: {col.field.name}",
            )
        if node.value.kind != "string" or node.value.like is None:
            raise _error(query, node.path, "MALFORMED_QUERY", "LIKE needs a string literal")
        regex = re.compile(node.value.like, re.IGNORECASE | re.DOTALL)
        return lambda r: (v := getter(r)) is not None and regex.fullmatch(v) is not None
    raise ApiError("MALFORMED_QUERY", located(query.text, 1, 1, "unsupported condition"))


# ---------------------------------------------------------------------------- compile
def compile_query(text: str, store: Store) -> CompiledQuery:
    """Parse and check `text`; raises ApiError shaped like Salesforce's."""
    query = parse(text)
    so = sobject(query.sobject)
    if so is None or not store.permissions.readable(so.name):
        raise ApiError(
            "INVALID_TYPE",
            located(
                query.text,
                query.sobject_line,
                query.sobject_column,
                f"sObject type '{query.sobject}' is not supported. {_ENTITY_HINT}",
            ),
        )
    columns: list[Column] = []
    aggregates: list[AggregateColumn] = []
    count_only = False
    expr = 0
    for item in query.select:
        if isinstance(item, s.CountAll):
            count_only = True
        elif isinstance(item, s.Aggregate):
            col = _resolve(query, so, item.path, store)
            key = item.alias or f"expr{expr}"
            if item.alias is None:
                expr += 1
            aggregates.append(AggregateColumn(item.function, col, key))
        else:
            columns.append(_resolve(query, so, item.path, store))
    group_by = [_resolve(query, so, p, store) for p in query.group_by]
    if count_only and (columns or aggregates):
        raise ApiError(
            "MALFORMED_QUERY",
            located(query.text, 1, 8, "COUNT() must be the only element in the SELECT list."),
        )
    if aggregates or group_by:
        grouped = {c.name.lower() for c in group_by}
        for col in columns:
            if col.name.lower() not in grouped:
                raise _error(
                    query,
                    col.path,
                    "MALFORMED_QUERY",
                    f"Field must be grouped or aggregated: {col.field.name}",
                )
    predicate = _predicate(query, so, query.where, store) if query.where is not None else None
    conjuncts = (
        list(query.where.items)
        if isinstance(query.where, s.And)
        else ([query.where] if query.where is not None else [])
    )
    order = []
    for item in query.order_by:
        col = _resolve(query, so, item.path, store)
        nulls_first = item.nulls_first if item.nulls_first is not None else not item.descending
        order.append((_sort_getter(col), item.descending, nulls_first))
    return CompiledQuery(
        query, so, columns, predicate, conjuncts, order, count_only, aggregates, group_by
    )


def _sort_getter(col: Column) -> Getter:
    getter = col.getter
    if col.field.type in _STRINGISH:
        return lambda r: v.lower() if isinstance(v := getter(r), str) else v
    return getter
