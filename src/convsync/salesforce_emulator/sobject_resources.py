"""sObject resources and sObject Collections: the record-by-record half of the REST API.

Single records (`sobjects/<Object>/<id>`), describe, the `updated`/`deleted`
replication calls and the Collections endpoint with its `allOrNone` savepoints. A mixin
of `Emulator`, kept apart from routing and the admin endpoints so each resource's
Salesforce behaviour reads in one place.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from . import describe, duplicates, ids
from .clock import format_datetime, format_value
from .errors import ApiError, not_found
from .responses import json_response
from .schema import sobject
from .soql.parser import parse_datetime
from .store import Store

MAX_COLLECTION = 200
ROLLED_BACK = ApiError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using "
    "AllOrNone header",
    fields=[],
)


def _allow_save(request: Request) -> bool:
    return duplicates.allow_save(request.headers.get("sforce-duplicate-rule-header"))


class SObjectResources:
    """sObject and Collections handlers over the org `Emulator` holds."""

    store: Store
    jwt_certificate: Any

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


def _round_down(moment: datetime, resolution: timedelta) -> datetime:
    """`moment` rounded down to a whole multiple of `resolution` since the epoch."""
    epoch = datetime(1970, 1, 1, tzinfo=moment.tzinfo)
    return moment - (moment - epoch) % resolution
