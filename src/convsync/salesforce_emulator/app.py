"""The ASGI application: routing, auth, API-call accounting, faults, and every resource.

A single plain ASGI callable (Starlette's Request/Response, no middleware stack) so that
each response is assembled once and sent as one start + one body message, the
Salesforce-shaped error handling wraps everything (never an HTML 500), and the `drop`
fault can abort the TCP connection itself.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from . import describe, duplicates, ids
from .auth import Credentials, OAuthPolicy, Sessions, checked_certificate, load_certificate
from .bulk import BulkJobs
from .clock import format_datetime, format_value
from .composite import run_composite
from .controls import DEFAULT_API_LIMIT, LOST_RESPONSE, Controls
from .errors import ApiError, not_found
from .permissions import Permissions
from .queries import QueryService, batch_size
from .schema import sobject
from .seed import seed
from .soql.parser import parse_datetime
from .store import Store

log = logging.getLogger("convsync.salesforce_emulator")

JSON_TYPE = "application/json;charset=UTF-8"
_DATA_PATH = re.compile(r"^/services/data/v(\d+\.\d+)(?:/(.*))?$")
MAX_COLLECTION = 200
# Salesforce refuses a URI longer than this (414), or URI + headers longer (431): help
# article 000386264. Always on: it is how every org behaves.
MAX_REQUEST_BYTES = 16_384
ROLLED_BACK = ApiError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using "
    "AllOrNone header",
    fields=[],
)


class DropConnectionError(Exception):
    """Raised by the `drop` fault: close the connection without any response."""


def dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def json_response(body: Any, status: int = 200) -> Response:
    return Response(dumps(body), status_code=status, media_type=JSON_TYPE)


def error_response(error: ApiError) -> Response:
    return json_response(error.to_json(), error.status)


def _abort(send: Callable[..., Awaitable[None]]) -> bool:
    """Abort the TCP connection under uvicorn's HTTP cycle (reached via the bound send)."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        return False
    transport.abort()
    cycle.disconnected = True  # type: ignore[union-attr]
    return True


def oversized(scope: dict[str, Any]) -> Response | None:
    """The 414 / 431 Salesforce sends for a request past 16,384 bytes, else None.

    Its body is not documented (it comes before the API proper): plain text, so a
    client that expects the JSON error list fails loudly rather than misreading it.
    """
    uri = len(scope.get("raw_path") or scope["path"].encode())
    if scope.get("query_string"):
        uri += 1 + len(scope["query_string"])
    if uri > MAX_REQUEST_BYTES:
        return Response("URI Too Long", status_code=414, media_type="text/plain")
    headers = sum(len(name) + len(value) + 4 for name, value in scope.get("headers") or [])
    if uri + headers > MAX_REQUEST_BYTES:
        return Response("Request Header Fields Too Large", status_code=431, media_type="text/plain")
    return None


def _allow_save(request: Request) -> bool:
    return duplicates.allow_save(request.headers.get("sforce-duplicate-rule-header"))


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in ("testclient", "localhost")


def endpoint_key(method: str, rest: str) -> str:
    """The counter key for one API call, e.g. `query`, `sobjects:PATCH`, `bulk2`."""
    parts = rest.split("/") if rest else [""]
    head = parts[0]
    if head in ("query", "queryAll", "limits"):
        return head
    if head == "jobs":
        return "bulk2"
    if head == "composite" and len(parts) > 1:
        return f"composite/{parts[1]}:{method}"
    if head == "sobjects" and len(parts) >= 3 and parts[2] in ("describe", "updated", "deleted"):
        return f"sobjects/{parts[2]}"
    if head == "sobjects":
        return f"sobjects:{method}"
    return head or "versions"


class Emulator:
    """The whole emulated org plus its HTTP face; an ASGI application."""

    def __init__(
        self,
        *,
        api_limit: int = DEFAULT_API_LIMIT,
        latency_ms: int = 0,
        fault_rate: float = 0.0,
        unknown_status: str = "reject",
        credentials_file: str | None = None,
        jwt_certificate_file: str | None = None,
    ) -> None:
        self.store = Store(unknown_status=unknown_status)
        self.jwt_certificate = load_certificate(jwt_certificate_file)
        self.sessions = Sessions(
            Credentials.load(credentials_file), OAuthPolicy(jwt_certificate=self.jwt_certificate)
        )
        self.controls = Controls(api_limit=api_limit, latency_ms=latency_ms, fault_rate=fault_rate)
        self.queries = QueryService(self.store)
        self.bulk = BulkJobs(self.store)

    # ------------------------------------------------------------------ ASGI entry
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        too_large = oversized(scope)
        try:
            response = too_large or await self.dispatch(request)
        except DropConnectionError:
            if _abort(send):
                return
            response = error_response(
                ApiError("SERVER_UNAVAILABLE", "connection dropped", status=503)
            )
        except ApiError as error:
            response = error_response(error)
        except Exception:
            log.exception("emulator error on %s %s", request.method, request.url.path)
            response = error_response(
                ApiError(
                    "UNKNOWN_EXCEPTION",
                    "An unexpected error occurred. Please include this ErrorId "
                    "if you contact support: 0000000000-00000 (-0)",
                    status=500,
                )
            )
        if request.url.path.startswith("/services"):
            response.headers["Sforce-Limit-Info"] = self.controls.limit_info()
        await response(scope, receive, send)

    async def dispatch(self, request: Request) -> Response:
        path = request.url.path
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/")
        if path.startswith("/__emulator"):
            if not _loopback(request):
                return json_response([{"errorCode": "FORBIDDEN", "message": "loopback only"}], 403)
            return await self.admin(request, path[len("/__emulator") :].strip("/"))
        if not path.startswith("/services/"):
            raise not_found()
        if self.controls.latency_ms:
            await asyncio.sleep(self.controls.latency_ms / 1000)
        if path == "/services/oauth2/token":
            return await self.oauth_token(request)
        if path == "/services/data":
            return json_response(
                [
                    {"label": f"v{v}", "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
                    for v in range(50, 63)
                ]
            )
        match = _DATA_PATH.match(path)
        if match is None:
            raise not_found()
        version, rest = match.group(1), match.group(2) or ""
        token = self._token(request)
        if token is None or not self.sessions.is_valid(token):
            raise ApiError("INVALID_SESSION_ID", "Session expired or invalid", status=401)
        if not self.controls.charge(endpoint_key(request.method, rest)):
            raise ApiError("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", status=403)
        lose_response = self._inject_fault(token, endpoint_key(request.method, rest))
        response = await self.route(request, version, rest)
        if lose_response:
            raise DropConnectionError()
        return response

    @staticmethod
    def _token(request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() in ("bearer", "oauth") and token.strip():
            return token.strip()
        return None

    def _inject_fault(self, token: str, endpoint: str) -> bool:
        """Raise the fault planned for this call; True: serve it, then lose the response."""
        kind = self.controls.next_fault(endpoint)
        if kind is None:
            return False
        if kind == LOST_RESPONSE:
            return True
        if kind == "503":
            raise ApiError(
                "SERVER_UNAVAILABLE", "Server temporarily unavailable, please retry.", status=503
            )
        if kind == "UNABLE_TO_LOCK_ROW":
            raise ApiError(
                "UNABLE_TO_LOCK_ROW",
                "unable to obtain exclusive access to this record "
                f"or 200 records: {ids.to18('00vHs0999999999')}",
                fields=[],
            )
        if kind == "REQUEST_LIMIT_EXCEEDED":
            raise ApiError("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", status=403)
        if kind == "INVALID_SESSION_ID":
            self.sessions.expire(token)
            raise ApiError("INVALID_SESSION_ID", "Session expired or invalid", status=401)
        raise DropConnectionError()

    # ------------------------------------------------------------------ OAuth
    async def oauth_token(self, request: Request) -> Response:
        if request.method != "POST":
            raise not_found()
        body = (await request.body()).decode("utf-8", "replace")
        form = dict(parse_qsl(body, keep_blank_values=True))
        form.update({k: v for k, v in request.query_params.items() if k not in form})
        instance_url = f"https://{request.headers.get('host', '127.0.0.1')}"
        status, payload = self.sessions.token_response(form, instance_url)
        return json_response(payload, status)

    # ------------------------------------------------------------------ routing
    async def route(self, request: Request, version: str, rest: str) -> Response:  # noqa: PLR0911
        parts = rest.split("/") if rest else []
        method = request.method
        if not parts:
            return json_response(
                {
                    "sobjects": f"/services/data/v{version}/sobjects",
                    "query": f"/services/data/v{version}/query",
                    "queryAll": f"/services/data/v{version}/queryAll",
                    "limits": f"/services/data/v{version}/limits",
                    "composite": f"/services/data/v{version}/composite",
                    "jobs": f"/services/data/v{version}/jobs",
                }
            )
        head = parts[0]
        if head in ("query", "queryAll") and method == "GET":
            size = batch_size(request.headers.get("sforce-query-options"))
            if len(parts) == 1:
                return json_response(
                    self.queries.first_page(
                        request.query_params.get("q"), endpoint=head, version=version, size=size
                    )
                )
            if len(parts) == 2:
                explicit = size if request.headers.get("sforce-query-options") else None
                return json_response(
                    self.queries.next_page(parts[1], version=version, size=explicit)
                )
        if head == "limits" and len(parts) == 1 and method == "GET":
            return json_response(self.limits())
        if head == "sobjects":
            return await self.sobjects(request, version, parts[1:])
        if head == "composite" and parts[1:] == ["sobjects"]:
            return await self.collections(request)
        if head == "composite" and len(parts) == 1 and method == "POST":
            return json_response(
                await run_composite(request, await self._json(request), self.route)
            )
        if head == "jobs" and len(parts) >= 2 and parts[1] in ("ingest", "query"):
            return await self.jobs(request, version, parts[1], parts[2:])
        raise not_found()

    def limits(self) -> dict[str, Any]:
        c = self.controls
        return {
            "DailyApiRequests": {"Max": c.api_limit, "Remaining": max(0, c.api_limit - c.api_used)},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
            "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
            "DataStorageMB": {"Max": 5, "Remaining": 5},
        }

    @staticmethod
    async def _json(request: Request) -> Any:
        raw = await request.body()
        try:
            return json.loads(raw or b"null")
        except ValueError as error:
            raise ApiError("JSON_PARSER_ERROR", f"Unexpected character: {error}") from None

    @staticmethod
    def _record_id(object_name: str, value: str) -> str:
        rid = ids.normalize(value)
        if rid is None:
            raise ApiError("MALFORMED_ID", f"malformed id {value}", fields=[])
        if ids.object_of(rid) != object_name:
            raise not_found()
        return rid

    # ------------------------------------------------------------------ sObject resources
    async def sobjects(self, request: Request, version: str, parts: list[str]) -> Response:  # noqa: PLR0911, PLR0912
        method = request.method
        if not parts:
            if method == "GET":
                return json_response(describe.describe_global(version, self.store.permissions))
            raise not_found()
        so = sobject(parts[0])
        if so is None or not self.store.permissions.readable(so.name):
            raise not_found()
        obj = so.name
        if len(parts) == 1:
            if method == "GET":
                return json_response(
                    {
                        "objectDescribe": describe.summary(so, version, self.store.permissions),
                        "recentItems": [],
                    }
                )
            if method == "POST":
                values = await self._json(request)
                if not isinstance(values, dict):
                    raise ApiError(
                        "JSON_PARSER_ERROR",
                        "Cannot deserialize instance of sObject out of START_ARRAY",
                    )
                with self.store.transaction(allow_save=_allow_save(request), as_user=True) as tx:
                    new_id = self.store.create(tx, obj, values)
                return json_response({"id": new_id, "success": True, "errors": []}, 201)
            return self._not_allowed(method, "GET, HEAD, POST")
        action = parts[1]
        if len(parts) == 2 and action == "describe" and method == "GET":
            return json_response(describe.describe(so, version, self.store.permissions))
        if len(parts) == 2 and action in ("updated", "deleted") and method == "GET":
            return json_response(self._replication(request, obj, action))
        if len(parts) == 2:
            rid = self._record_id(obj, action)
            if method == "GET":
                return json_response(self._record_json(obj, rid, version, request))
            if method == "PATCH":
                values = await self._json(request)
                if not isinstance(values, dict):
                    raise ApiError(
                        "JSON_PARSER_ERROR",
                        "Cannot deserialize instance of sObject out of START_ARRAY",
                    )
                with self.store.transaction(as_user=True) as tx:
                    self.store.update(tx, obj, rid, values)
                return Response(status_code=204)
            if method == "DELETE":
                with self.store.transaction(as_user=True) as tx:
                    self.store.delete(tx, obj, rid)
                return Response(status_code=204)
            return self._not_allowed(method, "GET, HEAD, PATCH, DELETE")
        raise not_found()

    @staticmethod
    def _not_allowed(method: str, allowed: str) -> Response:
        return json_response(
            [
                {
                    "errorCode": "METHOD_NOT_ALLOWED",
                    "message": f"HTTP Method '{method}' not allowed. Allowed are {allowed}",
                }
            ],
            405,
        )

    def _record_json(self, obj: str, rid: str, version: str, request: Request) -> dict[str, Any]:
        rec = self.store.live(obj, rid)
        so = sobject(obj)
        assert so is not None
        wanted = request.query_params.get("fields")
        names = [f.name for f in self.store.permissions.visible_fields(so)]
        if wanted:
            names = []
            for name in wanted.split(","):
                f = so.field(name.strip())
                if f is None or not self.store.permissions.visible(obj, f.name):
                    raise ApiError(
                        "INVALID_FIELD", f"No such column '{name.strip()}' on sobject of type {obj}"
                    )
                names.append(f.name)
        out: dict[str, Any] = {
            "attributes": {"type": obj, "url": f"/services/data/v{version}/sobjects/{obj}/{rid}"}
        }
        for name in names:
            out[name] = format_value(rec.get(name))
        return out

    def _replication(self, request: Request, obj: str, action: str) -> dict[str, Any]:
        try:
            start = parse_datetime(request.query_params["start"])
            end = parse_datetime(request.query_params["end"])
        except (KeyError, ValueError):
            raise ApiError(
                "MALFORMED_QUERY", "start and end are required ISO 8601 date-times"
            ) from None
        if end < start:
            raise ApiError("INVALID_REPLICATION_DATE", "EndDate before StartDate")
        now = self.store.clock.now()
        # Held back by writes still in flight: everything up to it is visible.
        in_flight = self.store.in_flight_since()
        covered = min(end, now, *([in_flight - timedelta(milliseconds=1)] if in_flight else []))
        covered = _round_down(covered, self.store.replication_resolution)
        if action == "updated":
            return {
                "ids": self.store.updated_ids(obj, start, end),
                "latestDateCovered": format_datetime(covered),
            }
        purged = self.store.delete_log_start
        earliest = (now - timedelta(days=15)).replace(second=0, microsecond=0)
        return {
            "deletedRecords": [
                {"id": rid, "deletedDate": format_datetime(when)}
                for rid, when in self.store.deleted_records(obj, start, end)
            ],
            "earliestDateAvailable": format_datetime(
                purged if purged is not None and purged > earliest else earliest
            ),
            "latestDateCovered": format_datetime(covered),
        }

    # ------------------------------------------------------------------ sObject Collections
    async def collections(self, request: Request) -> Response:  # noqa: PLR0912
        method = request.method
        if method == "DELETE":
            raw = request.query_params.get("ids", "")
            id_list = [i for i in raw.split(",") if i]
            all_or_none = request.query_params.get("allOrNone", "false").lower() == "true"
            if not id_list:
                raise ApiError("MISSING_ARGUMENT", "The ids parameter is required")
            items: list[Any] = id_list
        elif method in ("POST", "PATCH"):
            body = await self._json(request)
            if not isinstance(body, dict) or not isinstance(body.get("records"), list):
                raise ApiError("JSON_PARSER_ERROR", "Expected a JSON object with a records list")
            all_or_none = bool(body.get("allOrNone", False))
            items = body["records"]
        else:
            return self._not_allowed(method, "POST, PATCH, DELETE")
        if len(items) > MAX_COLLECTION:
            raise ApiError(
                "EXCEEDED_ID_LIMIT",
                "record limit reached. cannot submit more than 200 records into this call",
            )
        results: list[dict[str, Any]] = []
        failed = False
        with self.store.transaction(allow_save=_allow_save(request), as_user=True) as tx:
            for item in items:
                savepoint = tx.savepoint()
                given_id: str | None = item if isinstance(item, str) else None
                try:
                    results.append(self._collection_item(tx, method, item))
                except ApiError as error:
                    tx.rollback_to(savepoint)
                    failed = True
                    result: dict[str, Any] = {
                        "success": False,
                        "errors": [error.to_collection_error()],
                    }
                    if method != "POST":
                        if isinstance(item, dict):
                            given_id = item.get("Id") or item.get("id")
                        result = {"id": given_id, **result}
                    results.append(result)
            if failed and all_or_none:
                tx.rollback_to(0)
                for i, result in enumerate(results):
                    if result["success"]:
                        replaced: dict[str, Any] = {
                            "success": False,
                            "errors": [ROLLED_BACK.to_collection_error()],
                        }
                        if method != "POST":
                            replaced = {"id": result["id"], **replaced}
                        results[i] = replaced
        return json_response(results)

    def _collection_item(self, tx: Any, method: str, item: Any) -> dict[str, Any]:
        if method == "DELETE":
            rid = ids.normalize(item)
            obj = ids.object_of(rid) if rid else None
            if rid is None or obj is None or sobject(obj) is None:
                raise ApiError("MALFORMED_ID", f"malformed id {item}", fields=[])
            self._exists(obj, rid)
            self.store.delete(tx, obj, rid)
            return {"id": rid, "success": True, "errors": []}
        if not isinstance(item, dict):
            raise ApiError("JSON_PARSER_ERROR", "Each record must be a JSON object", fields=[])
        attributes = item.get("attributes") or {}
        so = sobject(str(attributes.get("type", ""))) if attributes.get("type") else None
        if not attributes.get("type"):
            raise ApiError("INVALID_TYPE", "Must send a concrete entity type.", fields=[])
        if so is None:
            raise ApiError(
                "INVALID_TYPE", f"sObject type '{attributes['type']}' is not supported.", fields=[]
            )
        values = {k: v for k, v in item.items() if k not in ("attributes", "Id", "id")}
        raw_id = item.get("Id", item.get("id"))
        if method == "POST":
            if raw_id:
                raise ApiError("INVALID_FIELD", "cannot specify Id in an insert call", fields=[])
            return {"id": self.store.create(tx, so.name, values), "success": True, "errors": []}
        if not raw_id:
            raise ApiError("MISSING_ARGUMENT", "Id not specified in an update call", fields=[])
        rid = ids.normalize(raw_id)
        if rid is None or ids.object_of(rid) != so.name:
            raise ApiError("MALFORMED_ID", f"malformed id {raw_id}", fields=[])
        self._exists(so.name, rid)
        self.store.update(tx, so.name, rid, values)
        return {"id": rid, "success": True, "errors": []}

    def _exists(self, obj: str, rid: str) -> None:
        rec = self.store.get(obj, rid)
        if rec is None:
            raise ApiError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", fields=[])
        if rec["IsDeleted"]:
            raise ApiError("ENTITY_IS_DELETED", "entity is deleted", fields=[])

    # ------------------------------------------------------------------ Bulk API 2.0
    async def jobs(self, request: Request, version: str, kind: str, parts: list[str]) -> Response:  # noqa: PLR0911
        method = request.method
        bulk = self.bulk
        if not parts:
            if method == "POST":
                spec = await self._json(request)
                if not isinstance(spec, dict):
                    raise ApiError("JSON_PARSER_ERROR", "Expected a JSON object")
                job = (
                    bulk.create_ingest(spec, version)
                    if kind == "ingest"
                    else bulk.create_query(spec, version)
                )
                info = job.info()
                if kind == "query":
                    info["state"] = "UploadComplete"
                return json_response(info, 200)
            if method == "GET":
                jobs = [j.info() for j in list(bulk.jobs.values()) if j.kind == kind]
                return json_response({"done": True, "records": jobs, "nextRecordsUrl": None})
            return self._not_allowed(method, "GET, POST")
        job_id = parts[0]
        if len(parts) == 1:
            if method == "GET":
                return json_response(bulk.get(job_id, kind).info())
            if method == "PATCH":
                spec = await self._json(request)
                state = spec.get("state", "") if isinstance(spec, dict) else ""
                return json_response(bulk.set_state(job_id, kind, state))
            if method == "DELETE":
                bulk.delete(job_id, kind)
                return Response(status_code=204)
            return self._not_allowed(method, "GET, PATCH, DELETE")
        sub = parts[1]
        if kind == "ingest" and sub == "batches" and method == "PUT":
            bulk.upload(job_id, (await request.body()).decode("utf-8"))
            return Response(status_code=201)
        if (
            kind == "ingest"
            and method == "GET"
            and sub.lower() in ("successfulresults", "failedresults", "unprocessedrecords")
        ):
            canonical = {
                "successfulresults": "successfulResults",
                "failedresults": "failedResults",
                "unprocessedrecords": "unprocessedRecords",
            }[sub.lower()]
            return Response(bulk.results(job_id, canonical), media_type="text/csv")
        if kind == "query" and sub == "results" and method == "GET":
            max_records = request.query_params.get("maxRecords")
            text, count, locator = bulk.query_page(
                job_id,
                request.query_params.get("locator"),
                int(max_records) if max_records and max_records.isdigit() else None,
            )
            return Response(
                text,
                media_type="text/csv",
                headers={"Sforce-NumberOfRecords": str(count), "Sforce-Locator": locator},
            )
        raise not_found()

    # ------------------------------------------------------------------ /__emulator
    def _oauth_policy(self, body: dict[str, Any]) -> dict[str, Any]:
        if body:
            self.sessions.policy = _oauth_settings(self.sessions.policy, body)
        policy = self.sessions.policy
        return {
            "rotate_refresh_tokens": policy.rotate_refresh_tokens,
            "jwt_certificate": policy.jwt_certificate is not None,
            "token_requests": dict(self.sessions.requests),
        }

    async def admin(self, request: Request, path: str) -> Response:
        method = request.method
        body = await self._json(request) if method == "POST" else None
        handler = self._admin_routes().get((method, path))
        if handler is None:
            raise not_found()
        return json_response(handler(body if isinstance(body, dict) else {}))

    def _admin_routes(self) -> dict[tuple[str, str], Callable[[dict[str, Any]], Any]]:
        """`/__emulator/` endpoints: (method, path) → handler of the JSON body."""
        return {
            ("GET", "health"): lambda _: {"ok": True},
            ("POST", "reset"): self._reset,
            ("POST", "seed"): lambda body: seed(self.store, body),
            ("GET", "counters"): lambda _: self.controls.snapshot(),
            ("POST", "counters/reset"): self._reset_counters,
            ("POST", "faults"): self._set_faults,
            ("POST", "duplicate-rules"): self._set_duplicate_rules,
            ("POST", "bulk"): self._set_bulk,
            ("POST", "latency"): self._set_latency,
            ("POST", "sessions/expire"): self._expire_sessions,
            ("GET", "oauth"): self._oauth_policy,
            ("POST", "oauth"): self._oauth_policy,
            ("GET", "permissions"): lambda _: self.store.permissions.to_json(),
            ("POST", "permissions"): self._set_permissions,
            ("GET", "state/summary"): lambda _: self.store.summary(),
            ("POST", "limits"): self._set_limits,
            ("POST", "leads/convert"): lambda body: self.store.convert_lead(
                body.get("lead_id"), body.get("contact_id")
            ),
            ("POST", "merge"): lambda body: self.store.merge(
                str(body.get("object")), body.get("master_id"), list(body.get("loser_ids") or [])
            ),
            ("POST", "locks"): self._set_locks,
            ("POST", "deleted/purge"): self._purge_deleted,
            ("POST", "commit-delay"): self._set_commit_delay,
            ("POST", "replication-resolution"): self._set_replication_resolution,
            ("GET", "clock"): self._clock,
            ("POST", "clock"): self._clock,
        }

    def _reset(self, _: dict[str, Any]) -> dict[str, Any]:
        self.store.reset()
        self.queries.reset()
        self.bulk.reset()
        self.controls.reset()
        self.store.clock.shift(0)
        self.sessions.policy = OAuthPolicy(jwt_certificate=self.jwt_certificate)
        self.sessions.requests.clear()
        return {"ok": True}

    def _reset_counters(self, _: dict[str, Any]) -> dict[str, Any]:
        self.controls.reset_counters()
        return self.controls.snapshot()

    def _set_faults(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.controls.set_faults(body)
        except ValueError as error:
            raise ApiError("INVALID_FIELD", str(error)) from None

    def _set_duplicate_rules(self, body: dict[str, Any]) -> dict[str, str]:
        for object_name, mode in body.items():
            if object_name != "Lead" or mode not in duplicates.MODES:
                raise ApiError("INVALID_FIELD", 'expected {"Lead": off|alert|block}')
            self.store.duplicate_rules[object_name] = mode
        return self.store.duplicate_rules

    def _set_bulk(self, body: dict[str, Any]) -> dict[str, float]:
        self.bulk.processing_seconds = float(body.get("processing_seconds", 0))
        return {"processing_seconds": self.bulk.processing_seconds}

    def _set_latency(self, body: dict[str, Any]) -> dict[str, int]:
        self.controls.latency_ms = int(body.get("ms", 0))
        return {"ms": self.controls.latency_ms}

    def _expire_sessions(self, _: dict[str, Any]) -> dict[str, bool]:
        self.sessions.expire_all()
        return {"ok": True}

    def _set_permissions(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            self.store.permissions = Permissions.parse(body)
        except (TypeError, ValueError) as error:
            raise ApiError("INVALID_FIELD", str(error)) from None
        return self.store.permissions.to_json()

    def _set_limits(self, body: dict[str, Any]) -> Any:
        if "max" in body:
            self.controls.api_limit = int(body["max"])
        if "used" in body:
            self.controls.api_used = int(body["used"])
        return self.controls.snapshot()["api_usage"]

    def _set_locks(self, body: dict[str, Any]) -> dict[str, int]:
        self.store.lock_window_ms = max(0, int(body.get("window_ms", 0)))
        return {"window_ms": self.store.lock_window_ms}

    def _purge_deleted(self, body: dict[str, Any]) -> dict[str, Any]:
        before = body.get("before")
        try:
            cut = parse_datetime(before) if before is not None else None
        except ValueError:
            raise ApiError("INVALID_FIELD", "before must be an ISO 8601 date-time") from None
        purged = self.store.purge_deleted(cut)
        start = self.store.delete_log_start
        assert start is not None
        return {"purged": purged, "earliestDateAvailable": format_datetime(start)}

    def _set_commit_delay(self, body: dict[str, Any]) -> dict[str, float]:
        self.store.commit_delay = timedelta(seconds=float(body.get("seconds", 0)))
        return {"seconds": self.store.commit_delay.total_seconds()}

    def _set_replication_resolution(self, body: dict[str, Any]) -> dict[str, float]:
        seconds = float(body.get("seconds", 60))
        if not 0 < seconds <= 3600:
            raise ApiError("INVALID_FIELD", "seconds must be above 0 and at most 3600")
        self.store.replication_resolution = timedelta(seconds=seconds)
        return {"seconds": seconds}

    def _clock(self, body: dict[str, Any]) -> dict[str, Any]:
        if "offset_ms" in body:
            self.store.clock.shift(int(body["offset_ms"]))
        return {
            "now": format_datetime(self.store.clock.now()),
            "offset_ms": self.store.clock.offset_ms,
        }


def _oauth_settings(policy: OAuthPolicy, body: dict[str, Any]) -> OAuthPolicy:
    """`POST /__emulator/oauth`: change only the settings the body names."""
    rotate = body.get("rotate_refresh_tokens", policy.rotate_refresh_tokens)
    certificate = body.get("jwt_certificate", policy.jwt_certificate)
    if not isinstance(rotate, bool):
        raise ApiError("INVALID_FIELD", "rotate_refresh_tokens must be true or false")
    if certificate is not None:
        try:
            checked_certificate(certificate)
        except (TypeError, ValueError):
            raise ApiError("INVALID_FIELD", "jwt_certificate must be a PEM certificate") from None
    return OAuthPolicy(rotate_refresh_tokens=rotate, jwt_certificate=certificate)


def create_app(**options: Any) -> Emulator:
    """Build the ASGI app; options as for `Emulator`."""
    return Emulator(**options)


def _round_down(moment: datetime, resolution: timedelta) -> datetime:
    """`moment` rounded down to a whole multiple of `resolution` since the epoch."""
    epoch = datetime(1970, 1, 1, tzinfo=moment.tzinfo)
    return moment - (moment - epoch) % resolution
