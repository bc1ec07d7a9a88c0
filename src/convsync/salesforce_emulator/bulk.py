"""Bulk API 2.0: ingest jobs (CSV in, per-row results out) and query jobs (CSV pages).

Ingest jobs are processed when the client marks them UploadComplete, in one store
transaction with a savepoint per row, so a failed row never half-applies: at once by
default, or — like a busy org, where jobs take minutes — `processing_seconds` later,
the job `InProgress` meanwhile and none of its rows written yet. State walks Open →
UploadComplete → (InProgress →) JobComplete as clients poll, matching what
simple-salesforce's `wait_for_job` expects.
"""

from __future__ import annotations

import base64
import csv
import io
import threading
from dataclasses import dataclass, field
from typing import Any

from . import ids
from .clock import format_datetime
from .errors import ApiError, not_found
from .schema import sobject
from .soql.engine import CompiledQuery, compile_query
from .soql.execution import execute
from .soql.rendering import csv_header, csv_row
from .store import Store

DELIMITERS = {
    "COMMA": ",",
    "TAB": "\t",
    "PIPE": "|",
    "SEMICOLON": ";",
    "CARET": "^",
    "BACKQUOTE": "`",
}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
INGEST_OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")


@dataclass
class Job:
    """One Bulk API 2.0 job, ingest or query."""

    id: str
    kind: str  # "ingest" | "query"
    operation: str
    object: str
    created: str
    version: str
    delimiter: str = "COMMA"
    line_ending: str = "LF"
    external_id: str | None = None
    state: str = "Open"
    data: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    successes: list[list[str]] = field(default_factory=list)
    failures: list[list[str]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)
    error_message: str | None = None
    query: CompiledQuery | None = None
    rows: list[Any] = field(default_factory=list)
    modstamp: str = ""

    def info(self) -> dict[str, Any]:
        """The job-info JSON Salesforce returns from create, PATCH and GET."""
        body: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": "005Hs0000000001AAA",
            "createdDate": self.created,
            "systemModstamp": self.modstamp or self.created,
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.version),
            "lineEnding": self.line_ending,
            "columnDelimiter": self.delimiter,
        }
        if self.kind == "ingest":
            body["externalIdFieldName"] = self.external_id
            body["contentUrl"] = f"services/data/v{self.version}/jobs/ingest/{self.id}/batches"
            body["jobType"] = "V2Ingest"
            body["numberRecordsProcessed"] = len(self.successes) + len(self.failures)
            body["numberRecordsFailed"] = len(self.failures)
        else:
            body["jobType"] = "V2Query"
            body["numberRecordsProcessed"] = len(self.rows)
        body["retries"] = 0
        body["totalProcessingTime"] = 0
        if self.error_message:
            body["errorMessage"] = self.error_message
        return body


def _csv(rows: list[list[str]], delimiter: str = ",", line_ending: str = "\n") -> str:
    buffer = io.StringIO()
    writer = csv.writer(
        buffer, delimiter=delimiter, lineterminator=line_ending, quoting=csv.QUOTE_ALL
    )
    writer.writerows(rows)
    return buffer.getvalue()


class BulkJobs:
    """All jobs of the org, keyed by id; thread-safe."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.jobs: dict[str, Job] = {}
        self.processing_seconds = 0.0
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.jobs.clear()
            self.processing_seconds = 0.0

    def get(self, job_id: str, kind: str) -> Job:
        with self._lock:
            job = self.jobs.get(job_id)
        if job is None or job.kind != kind:
            raise not_found()
        return job

    def delete(self, job_id: str, kind: str) -> None:
        self.get(job_id, kind)
        with self._lock:
            self.jobs.pop(job_id, None)

    def _new(self, kind: str, spec: dict[str, Any], version: str, obj: str) -> Job:
        delimiter = spec.get("columnDelimiter", "COMMA")
        line_ending = spec.get("lineEnding", "LF")
        if delimiter not in DELIMITERS or line_ending not in LINE_ENDINGS:
            raise ApiError("INVALIDJOB", "InvalidJob : Invalid columnDelimiter or lineEnding")
        job = Job(
            id=self.store.ids.new("Job"),
            kind=kind,
            operation=spec.get("operation", ""),
            object=obj,
            created=format_datetime(self.store.clock.now()),
            version=version,
            delimiter=delimiter,
            line_ending=line_ending,
            external_id=spec.get("externalIdFieldName"),
        )
        with self._lock:
            self.jobs[job.id] = job
        return job

    # ------------------------------------------------------------------ ingest
    def create_ingest(self, spec: dict[str, Any], version: str) -> Job:
        so = sobject(str(spec.get("object", "")))
        if so is None:
            raise ApiError("NOT_FOUND", f"sObject type '{spec.get('object')}' is not supported.")
        if spec.get("operation") not in INGEST_OPERATIONS:
            raise ApiError("INVALIDJOB", f"InvalidJob : Invalid operation: {spec.get('operation')}")
        if spec.get("operation") == "upsert" and (spec.get("externalIdFieldName") or "") != "Id":
            raise ApiError("INVALIDJOB", "InvalidJob : the emulator only upserts on Id")
        return self._new("ingest", spec, version, so.name)

    def upload(self, job_id: str, body: str) -> None:
        job = self.get(job_id, "ingest")
        if job.state != "Open":
            raise ApiError("INVALIDJOBSTATE", "Job is not open for uploads", status=409)
        job.data.append(body)

    def set_state(self, job_id: str, kind: str, state: str) -> dict[str, Any]:
        """PATCH a job's state; UploadComplete processes it (the reply says UploadComplete)."""
        job = self.get(job_id, kind)
        if state == "Aborted" and job.state not in ("JobComplete", "Failed"):
            job.state = "Aborted"
            return job.info()
        if state == "UploadComplete" and kind == "ingest" and job.state == "Open":
            job.state = "UploadComplete"
            info = job.info()
            if self.processing_seconds > 0:
                job.state = "InProgress"
                timer = threading.Timer(self.processing_seconds, self._process, [job])
                timer.daemon = True
                timer.start()
            else:
                self._process(job)
            return info
        raise ApiError("INVALIDJOBSTATE", f"Cannot move job from {job.state} to {state}")

    def _rows(self, job: Job) -> tuple[list[str], list[list[str]]]:
        delimiter = DELIMITERS[job.delimiter]
        header: list[str] = []
        rows: list[list[str]] = []
        for chunk in job.data:
            reader = csv.reader(io.StringIO(chunk), delimiter=delimiter)
            chunk_rows = [r for r in reader if r]
            if not chunk_rows:
                continue
            if header and chunk_rows[0] != header:
                raise ApiError("INVALIDBATCH", "InvalidBatch : all uploads must share a header")
            header = chunk_rows[0]
            rows.extend(chunk_rows[1:])
        return header, rows

    def _process(self, job: Job) -> None:
        if job.state not in ("UploadComplete", "InProgress"):
            return  # aborted while it waited
        try:
            header, rows = self._rows(job)
            self._check_header(job.object, header)
        except ApiError as error:
            job.state, job.error_message = "Failed", error.message
            return
        job.columns = header
        job.state = "InProgress"
        with self.store.transaction(as_user=True) as tx:
            for row in rows:
                values: dict[str, Any] = {}
                for name, raw in zip(header, row, strict=False):
                    if raw == "":
                        continue
                    values[name] = None if raw == "#N/A" else raw
                savepoint = tx.savepoint()
                try:
                    record_id, created = self._apply(tx, job, values)
                except ApiError as error:
                    tx.rollback_to(savepoint)
                    given = ids.normalize(values.get("Id") or values.get("id")) or ""
                    job.failures.append([given, error.to_bulk_error(), *row])
                else:
                    job.successes.append([record_id, "true" if created else "false", *row])
        job.state = "JobComplete"
        job.modstamp = format_datetime(self.store.clock.now())

    @staticmethod
    def _check_header(object_name: str, header: list[str]) -> None:
        so = sobject(object_name)
        assert so is not None
        for name in header:
            if so.field(name) is None:
                raise ApiError("INVALIDBATCH", f"InvalidBatch : Field name not found : {name}")

    def _apply(self, tx: Any, job: Job, values: dict[str, Any]) -> tuple[str, bool]:
        obj = job.object
        raw_id = values.pop("Id", None)
        record_id = ids.normalize(raw_id) if raw_id else None
        if raw_id and (record_id is None or ids.object_of(record_id) != obj):
            raise ApiError("MALFORMED_ID", f"malformed id {raw_id}", fields=["Id"])
        if job.operation == "insert" or (job.operation == "upsert" and record_id is None):
            return self.store.create(tx, obj, values), True
        if record_id is None:
            raise ApiError("MISSING_ARGUMENT", "Id not specified in an update call", fields=[])
        if job.operation in ("delete", "hardDelete"):
            self._exists(record_id, obj)
            self.store.delete(tx, obj, record_id)
            return record_id, False
        self._exists(record_id, obj)
        self.store.update(tx, obj, record_id, values)
        return record_id, False

    def _exists(self, record_id: str, obj: str) -> None:
        rec = self.store.get(obj, record_id)
        if rec is None:
            raise ApiError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", fields=[])
        if rec["IsDeleted"]:
            raise ApiError("ENTITY_IS_DELETED", "entity is deleted", fields=[])

    def results(self, job_id: str, which: str) -> str:
        job = self.get(job_id, "ingest")
        delimiter = DELIMITERS[job.delimiter]
        line_ending = LINE_ENDINGS[job.line_ending]
        if which == "successfulResults":
            rows = [["sf__Id", "sf__Created", *job.columns], *job.successes]
        elif which == "failedResults":
            rows = [["sf__Id", "sf__Error", *job.columns], *job.failures]
        else:
            header, data = self._rows(job) if job.state in ("Open", "Aborted") else ([], [])
            rows = [header or job.columns, *data]
        return _csv(rows, delimiter, line_ending)

    # ------------------------------------------------------------------ query
    def create_query(self, spec: dict[str, Any], version: str) -> Job:
        if spec.get("operation", "query") not in ("query", "queryAll"):
            raise ApiError("INVALIDJOB", f"InvalidJob : Invalid operation: {spec.get('operation')}")
        cq = compile_query(str(spec.get("query", "")), self.store)
        job = self._new("query", {"operation": "query", **spec}, version, cq.sobject.name)
        _, rows = execute(cq, self.store, include_deleted=job.operation == "queryAll")
        job.query, job.rows, job.state = cq, rows, "JobComplete"
        return job

    def query_page(
        self, job_id: str, locator: str | None, max_records: int | None
    ) -> tuple[str, int, str]:
        """(CSV text, number of records, next locator or "null")."""
        job = self.get(job_id, "query")
        if job.state != "JobComplete" or job.query is None:
            raise ApiError("INVALIDJOBSTATE", "Job is not complete", status=400)
        start = 0
        if locator:
            try:
                start = int(base64.b64decode(locator.encode()).decode())
            except ValueError:
                raise ApiError("INVALID_LOCATOR", f"Invalid locator: {locator}") from None
        size = max_records or len(job.rows) or 1
        page = job.rows[start : start + size]
        body = [csv_header(job.query), *(csv_row(job.query, r) for r in page)]
        end = start + len(page)
        next_locator = (
            base64.b64encode(str(end).encode()).decode() if end < len(job.rows) else "null"
        )
        text = _csv(body, DELIMITERS[job.delimiter], LINE_ENDINGS[job.line_ending])
        return text, len(page), next_locator
