"""The `query` / `queryAll` resources: first pages, server-side cursors, nextRecordsUrl.

A cursor keeps the matching records as they were at query time (records are immutable
dicts, so this is a list of references, not a copy), like Salesforce's query locator.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from .errors import ApiError
from .soql.engine import CompiledQuery, compile_query
from .soql.execution import execute
from .soql.rendering import record_renderer
from .store import Store

DEFAULT_BATCH = 2000
MIN_BATCH = 200
MAX_CURSORS = 2000


def batch_size(header: str | None) -> int:
    """Read `Sforce-Query-Options: batchSize=N`, clamped to 200..2000 like Salesforce."""
    if not header:
        return DEFAULT_BATCH
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "batchsize":
            try:
                return max(MIN_BATCH, min(DEFAULT_BATCH, int(value)))
            except ValueError:
                return DEFAULT_BATCH
    return DEFAULT_BATCH


@dataclass
class Cursor:
    query: CompiledQuery
    rows: list[Any]
    size: int
    endpoint: str


class QueryService:
    """Runs queries and serves their pages."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cursors: OrderedDict[str, Cursor] = OrderedDict()
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._cursors.clear()

    def first_page(
        self, text: str | None, *, endpoint: str, version: str, size: int
    ) -> dict[str, Any]:
        if not text:
            raise ApiError("MALFORMED_QUERY", "A query string has to be specified")
        cq = compile_query(text, self.store)
        total, rows = execute(cq, self.store, include_deleted=endpoint == "queryAll")
        if cq.count_only:
            return {"totalSize": total, "done": True, "records": []}
        if cq.is_aggregate:
            return {"totalSize": total, "done": True, "records": rows}
        cursor = Cursor(cq, rows, size, endpoint)
        cursor_id = ""
        if len(rows) > size:
            cursor_id = self.store.ids.new("QueryLocator")
            with self._lock:
                self._cursors[cursor_id] = cursor
                while len(self._cursors) > MAX_CURSORS:
                    self._cursors.popitem(last=False)
        return self._page(cursor, cursor_id, 0, version)

    def next_page(self, locator: str, *, version: str, size: int | None) -> dict[str, Any]:
        cursor_id, _, offset_text = locator.partition("-")
        with self._lock:
            cursor = self._cursors.get(cursor_id)
        if cursor is None or not offset_text.isdigit():
            raise ApiError("INVALID_QUERY_LOCATOR", "invalid query locator")
        if size is not None:
            cursor.size = size
        return self._page(cursor, cursor_id, int(offset_text), version)

    def _page(self, cursor: Cursor, cursor_id: str, offset: int, version: str) -> dict[str, Any]:
        render = record_renderer(cursor.query, self.store, version)
        page = cursor.rows[offset : offset + cursor.size]
        end = offset + len(page)
        body: dict[str, Any] = {"totalSize": len(cursor.rows), "done": end >= len(cursor.rows)}
        if not body["done"]:
            body["nextRecordsUrl"] = (
                f"/services/data/v{version}/{cursor.endpoint}/{cursor_id}-{end}"
            )
        else:
            with self._lock:
                self._cursors.pop(cursor_id, None)
        body["records"] = [render(r) for r in page]
        return body
