"""`POST /services/data/vXX.X/composite`: up to 25 subrequests in one API call.

What Salesforce advises for SOQL too long for a URI: the query travels in the request
body as a subrequest's `url`. The emulator runs GET subrequests (queries, query pages,
records, describes) through the same routing as top-level calls, in order, charging
nothing more than the one composite call; writes in a composite request (whose
`allOrNone` rollback and `@{ref.field}` references it does not model) are refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from .errors import ApiError

MAX_SUBREQUESTS = 25
# "Up to 5 of these subrequests can be sObject Collections or query operations."
MAX_QUERY_SUBREQUESTS = 5
_DATA_PATH = re.compile(r"^/services/data/v(\d+\.\d+)/(.+)$")
_REFERENCE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# Headers a subrequest inherits from the composite request and may not set itself.
_INHERITED = {"authorization", "accept", "content-type"}
HALTED = ApiError(
    "PROCESSING_HALTED",
    "The transaction was rolled back since another operation in the same transaction failed.",
)

Route = Callable[[Request, str, str], Awaitable[Response]]


def _subrequests(body: Any) -> list[dict[str, Any]]:
    """The validated `compositeRequest` list (a 400 for the whole request otherwise)."""
    items = body.get("compositeRequest") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise ApiError("INVALID_INPUT", "compositeRequest is required and must not be empty")
    if len(items) > MAX_SUBREQUESTS:
        raise ApiError(
            "LIMIT_EXCEEDED", f"A composite request can have at most {MAX_SUBREQUESTS} subrequests"
        )
    seen: set[str] = set()
    queries = 0
    for item in items:
        ref = item.get("referenceId") if isinstance(item, dict) else None
        if not isinstance(ref, str) or not _REFERENCE_ID.match(ref) or ref in seen:
            raise ApiError("INVALID_INPUT", f"Invalid or duplicate referenceId: {ref!r}")
        seen.add(ref)
        method, url = item.get("method"), item.get("url")
        if method != "GET":
            raise ApiError(
                "INVALID_INPUT", f"the emulator runs only GET subrequests, not {method!r}"
            )
        path = urlsplit(str(url or "")).path.rstrip("/")
        match = _DATA_PATH.match(path)
        if match is None:
            raise ApiError("INVALID_INPUT", f"Invalid subrequest url: {url!r}")
        if match.group(2).split("/")[0] in ("query", "queryAll"):
            queries += 1
        headers = item.get("httpHeaders") or {}
        if any(name.lower() in _INHERITED for name in headers):
            raise ApiError("INVALID_INPUT", "subrequests inherit Authorization/Accept/Content-Type")
    if queries > MAX_QUERY_SUBREQUESTS:
        raise ApiError(
            "LIMIT_EXCEEDED",
            f"A composite request can have at most {MAX_QUERY_SUBREQUESTS} query subrequests",
        )
    return items


def _subrequest(parent: Request, item: dict[str, Any]) -> tuple[Request, str, str]:
    split = urlsplit(item["url"])
    path = split.path.rstrip("/")
    match = _DATA_PATH.match(path)
    assert match is not None  # checked by _subrequests
    headers = [(k, v) for k, v in parent.scope["headers"] if k.decode().lower() in _INHERITED]
    headers += [(k.lower().encode(), str(v).encode()) for k, v in item["httpHeaders"].items()]
    scope = {
        **parent.scope,
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": split.query.encode(),
        "headers": headers,
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    return Request(scope, receive), match.group(1), match.group(2)


def _result(ref: str, status: int, body: Any, headers: dict[str, str]) -> dict[str, Any]:
    return {"body": body, "httpHeaders": headers, "httpStatusCode": status, "referenceId": ref}


async def run_composite(parent: Request, body: Any, route: Route) -> dict[str, Any]:
    """Run the subrequests in order; `{"compositeResponse": [...]}` in request order."""
    items = _subrequests(body)
    for item in items:
        item.setdefault("httpHeaders", {})
    all_or_none = bool(body.get("allOrNone", False))
    results: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        request, version, rest = _subrequest(parent, item)
        try:
            response = await route(request, version, rest)
        except ApiError as error:
            results.append(_result(item["referenceId"], error.status, error.to_json(), {}))
            if all_or_none:
                halted = [_result(i["referenceId"], 400, HALTED.to_json(), {}) for i in items]
                return {"compositeResponse": halted[:index] + results[index:] + halted[index + 1 :]}
            continue
        raw = bytes(response.body)
        results.append(
            _result(
                item["referenceId"],
                response.status_code,
                json.loads(raw) if raw else None,
                {},
            )
        )
    return {"compositeResponse": results}
