"""The SOQL abstract syntax tree: plain frozen dataclasses, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldPath:
    """`Status` or `Lead.Email`, with the position of its first token for errors."""

    parts: tuple[str, ...]
    line: int
    column: int


@dataclass(frozen=True)
class Literal:
    """A literal value. `kind` is string/number/datetime/date/bool/null/date_literal."""

    kind: str
    value: Any
    like: str | None = None  # the regex for LIKE, built from the raw string


@dataclass(frozen=True)
class FieldItem:
    path: FieldPath
    alias: str | None


@dataclass(frozen=True)
class CountAll:
    pass


@dataclass(frozen=True)
class Aggregate:
    function: str  # lower case: count, max, min, sum, avg, count_distinct
    path: FieldPath
    alias: str | None


@dataclass(frozen=True)
class Compare:
    path: FieldPath
    op: str
    value: Literal


@dataclass(frozen=True)
class InList:
    path: FieldPath
    values: tuple[Literal, ...]
    negate: bool


@dataclass(frozen=True)
class Like:
    path: FieldPath
    value: Literal


@dataclass(frozen=True)
class And:
    items: tuple[Any, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Any, ...]


@dataclass(frozen=True)
class Not:
    item: Any


@dataclass(frozen=True)
class OrderItem:
    path: FieldPath
    descending: bool
    nulls_first: bool | None


@dataclass(frozen=True)
class Query:
    """One SELECT statement and its source text (kept for located error messages)."""

    text: str
    select: tuple[Any, ...]
    sobject: str
    sobject_line: int
    sobject_column: int
    where: Any | None
    group_by: tuple[FieldPath, ...]
    order_by: tuple[OrderItem, ...]
    limit: int | None
    offset: int | None
