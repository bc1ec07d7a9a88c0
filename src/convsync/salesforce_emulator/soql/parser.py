"""Text → `Query`, with lark (LALR) and Salesforce-shaped MALFORMED_QUERY errors."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from functools import lru_cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer, UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.exceptions import VisitError

from ..errors import ApiError
from . import syntax as s

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


def located(text: str, line: int, column: int, message: str) -> str:
    """Salesforce's error text: the query line, a caret, the position, the message."""
    lines = text.split("\n")
    source = lines[line - 1] if 0 < line <= len(lines) else text
    return f"\n{source}\n{' ' * (column - 1)}^\nERROR at Row:{line}:Column:{column}\n{message}"


def _unescape(raw: str) -> tuple[str, str]:
    """Return (plain value, LIKE regex) for a quoted SOQL string literal."""
    body = raw[1:-1]
    if "\\" not in body:
        # The common case (ids, emails in long IN lists), without a loop per character:
        # re.escape leaves % and _ alone, which LIKE reads as wildcards.
        return body, re.escape(body).replace("%", ".*").replace("_", ".")
    plain: list[str] = []
    pattern: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            i += 2
            if nxt in "%_":
                plain.append(nxt)
                pattern.append(re.escape(nxt))
            else:
                value = _ESCAPES.get(nxt, nxt)
                plain.append(value)
                pattern.append(re.escape(value))
            continue
        plain.append(char)
        pattern.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        i += 1
    return "".join(plain), "".join(pattern)


def parse_datetime(text: str) -> datetime:
    """Parse SOQL datetime literals: `Z`, `+00:00` and `+0000` offsets, optional millis."""
    value = text
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    elif re.search(r"[+-]\d{4}$", value):
        value = value[:-2] + ":" + value[-2:]
    return datetime.fromisoformat(value).astimezone(UTC)


class _ToAst(Transformer[Token, Any]):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def start(self, items: list[Any]) -> s.Query:
        select, sobject, *rest = items
        clauses: dict[str, Any] = dict(rest)
        return s.Query(
            text=self.text,
            select=tuple(select),
            sobject=str(sobject),
            sobject_line=sobject.line,
            sobject_column=sobject.column,
            where=clauses.get("where"),
            group_by=tuple(clauses.get("group_by", ())),
            order_by=tuple(clauses.get("order_by", ())),
            limit=clauses.get("limit"),
            offset=clauses.get("offset"),
        )

    def select_list(self, items: list[Any]) -> list[Any]:
        return items

    def field_path(self, items: list[Token]) -> s.FieldPath:
        return s.FieldPath(tuple(str(t) for t in items), items[0].line or 1, items[0].column or 1)

    def field_item(self, items: list[Any]) -> s.FieldItem:
        return s.FieldItem(items[0], str(items[1]) if len(items) > 1 else None)

    def count_all(self, items: list[Any]) -> s.CountAll:
        return s.CountAll()

    def aggregate(self, items: list[Any]) -> tuple[str, s.FieldPath]:
        return str(items[0]).lower(), items[1]

    def aggregate_item(self, items: list[Any]) -> s.Aggregate:
        function, path = items[0]
        return s.Aggregate(function, path, str(items[1]) if len(items) > 1 else None)

    def where(self, items: list[Any]) -> tuple[str, Any]:
        return "where", items[0]

    def or_expr(self, items: list[Any]) -> s.Or:
        return s.Or(tuple(items))

    def and_expr(self, items: list[Any]) -> s.And:
        return s.And(tuple(items))

    def not_(self, items: list[Any]) -> s.Not:
        return s.Not(items[0])

    def compare(self, items: list[Any]) -> s.Compare:
        return s.Compare(items[0], str(items[1]), items[2])

    def in_(self, items: list[Any]) -> s.InList:
        return s.InList(items[0], tuple(items[1:]), negate=False)

    def not_in(self, items: list[Any]) -> s.InList:
        return s.InList(items[0], tuple(items[1:]), negate=True)

    def like(self, items: list[Any]) -> s.Like:
        return s.Like(items[0], items[1])

    def string(self, items: list[Token]) -> s.Literal:
        plain, pattern = _unescape(str(items[0]))
        return s.Literal("string", plain, pattern)

    def number(self, items: list[Token]) -> s.Literal:
        text = str(items[0])
        return s.Literal("number", float(text) if "." in text else int(text))

    def datetime(self, items: list[Token]) -> s.Literal:
        return s.Literal("datetime", parse_datetime(str(items[0])))

    def date(self, items: list[Token]) -> s.Literal:
        return s.Literal("date", date.fromisoformat(str(items[0])))

    def true(self, items: list[Token]) -> s.Literal:
        return s.Literal("bool", True)

    def false(self, items: list[Token]) -> s.Literal:
        return s.Literal("bool", False)

    def null(self, items: list[Token]) -> s.Literal:
        return s.Literal("null", None)

    def date_literal(self, items: list[Token]) -> s.Literal:
        return s.Literal("date_literal", str(items[0]).upper())

    def group_by(self, items: list[Any]) -> tuple[str, list[Any]]:
        return "group_by", items

    def order_by(self, items: list[Any]) -> tuple[str, list[Any]]:
        return "order_by", items

    def order_item(self, items: list[Any]) -> s.OrderItem:
        path = items[0]
        descending = False
        nulls_first: bool | None = None
        for item in items[1:]:
            if isinstance(item, Token) and item.type == "DIRECTION":
                descending = item.lower() == "desc"
            elif isinstance(item, bool):
                nulls_first = item
        return s.OrderItem(path, descending, nulls_first)

    def nulls(self, items: list[Token]) -> bool:
        return str(items[0]).lower() == "first"

    def limit(self, items: list[Token]) -> tuple[str, int]:
        return "limit", int(items[0])

    def offset(self, items: list[Token]) -> tuple[str, int]:
        return "offset", int(items[0])


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = resources.files("convsync.salesforce_emulator").joinpath("soql.lark").read_text()
    return Lark(grammar, parser="lalr")


def _syntax_error(text: str, error: UnexpectedInput) -> ApiError:
    line = getattr(error, "line", 1) or 1
    column = getattr(error, "column", 1) or 1
    if isinstance(error, UnexpectedToken):
        token = error.token
        found = "<EOF>" if token.type == "$END" else str(token)
        if token.type == "$END":
            lines = text.split("\n")
            line, column = len(lines), len(lines[-1]) + 1
        message = f"unexpected token: '{found}'"
    elif isinstance(error, UnexpectedCharacters):
        message = f"line {line}:{column - 1} no viable alternative at character '{error.char}'"
    else:
        message = "unexpected token: '<EOF>'"
    line = max(line, 1)
    column = max(column, 1)
    return ApiError("MALFORMED_QUERY", located(text, line, column, message))


@lru_cache(maxsize=512)
def parse(text: str) -> s.Query:
    """Parse one SOQL statement; raises ApiError(MALFORMED_QUERY) on bad syntax."""
    if not text or not text.strip():
        raise ApiError("MALFORMED_QUERY", "A query string has to be specified")
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as error:
        raise _syntax_error(text, error) from None
    try:
        result = _ToAst(text).transform(tree)
    except VisitError as error:  # e.g. a date/datetime literal that does not exist
        message = located(text, 1, 1, str(error.orig_exc))
        raise ApiError("MALFORMED_QUERY", message) from None
    assert isinstance(result, s.Query)
    return result
