"""The ASGI application: routing, auth, API-call accounting, faults, queries and Bulk jobs.

A single plain ASGI callable (Starlette's Request/Response, no middleware stack) so that
each response is assembled once and sent as one start + one body message, the
Salesforce-shaped error handling wraps everything (never an HTML 500), and the `drop`
fault can abort the TCP connection itself. The sObject and Collections resources are
in `sobject_resources`, the `/__emulator/` endpoints in `admin`; `Emulator` mixes both in.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from . import ids
from .admin import AdminEndpoints
from .auth import Credentials, OAuthPolicy, Sessions, load_certificate
from .bulk import BulkJobs
from .composite import run_composite
from .controls import DEFAULT_API_LIMIT, LOST_RESPONSE, Controls
from .errors import ApiError, not_found
from .queries import QueryService, batch_size
from .responses import error_response, json_response
from .sobject_resources import SObjectResources
from .store import Store

log = logging.getLogger("convsync.salesforce_emulator")

_DATA_PATH = re.compile(r"^/services/data/v(\d+\.\d+)(?:/(.*))?$")
# Salesforce refuses a URI longer than this (414), or URI + headers longer (431): help
# article 000386264. Always on: it is how every org behaves.
MAX_REQUEST_BYTES = 16_384


class DropConnectionError(Exception):
    """Raised by the `drop` fault: close the connection without any response."""


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


class Emulator(SObjectResources, AdminEndpoints):
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
    async def admin(self, request: Request, path: str) -> Response:
        method = request.method
        body = await self._json(request) if method == "POST" else None
        handler = self._admin_routes().get((method, path))
        if handler is None:
            raise not_found()
        return json_response(handler(body if isinstance(body, dict) else {}))


def create_app(**options: Any) -> Emulator:
    """Build the ASGI app; options as for `Emulator`."""
    return Emulator(**options)
