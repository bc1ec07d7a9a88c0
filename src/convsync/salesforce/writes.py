"""How the sync writes records: sObject Collections of 200 or Bulk API 2.0 jobs, each
record's result mapped back to input order, and the rows refused only for a lock
written again, so one bad or busy row never costs the rest of its chunk."""

from __future__ import annotations

import csv
import io
from collections import defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar

from simple_salesforce.api import Salesforce

from convsync.domain.errors import SalesforceError
from convsync.domain.outcomes import RecordResult, WriteOutcome, classify
from convsync.salesforce.client import SalesforceClient

# sObject Collections take at most 200 records: 200 members ≈ 1 API call.
COLLECTION_SIZE = 200
DUPLICATES_DETECTED = "DUPLICATES_DETECTED"
# Lets a Lead through duplicate rules set to "alert" (REST only: Bulk API 2.0 has none).
ALLOW_DUPLICATE_SAVE = {"Sforce-Duplicate-Rule-Header": "allowSave=true"}
Method = Literal["POST", "PATCH", "DELETE"]
# A record another transaction holds (for members: their Campaign's row, which every
# member write of that campaign locks). Gone a moment later.
LOCKED = "UNABLE_TO_LOCK_ROW"
_UNWRITTEN = RecordResult(WriteOutcome.ERROR, None, "NO_RESULT", "no result for this record")
_R = TypeVar("_R")


class RecordWriter:
    """Writes records in as few calls as the API allows, with the client's retries."""

    def __init__(self, client: SalesforceClient) -> None:
        self.client = client

    def collection(
        self, method: Method, records: list[dict[str, Any]], *, action: str
    ) -> list[RecordResult]:
        def write(chunk: list[dict[str, Any]]) -> list[RecordResult]:
            response = self.client.restful(
                "composite/sobjects",
                action=action,
                method=method,
                json={"allOrNone": False, "records": chunk},
            )
            return collection_results(response, len(chunk))

        results: list[RecordResult] = []
        for start in range(0, len(records), COLLECTION_SIZE):
            chunk = records[start : start + COLLECTION_SIZE]
            results.extend(self.until_unlocked(action, chunk, write))
        return results

    def until_unlocked(
        self,
        action: str,
        records: Sequence[_R],
        write: Callable[[list[_R]], list[RecordResult]],
    ) -> list[RecordResult]:
        """Write the records; those refused only because another transaction held a
        lock (UNABLE_TO_LOCK_ROW) are written again, alone, after a backoff with jitter,
        within the client's retry bounds. Refused records were not written, so writing
        them again is safe, creates included. Any still locked at the end come back as
        they are (transient: the chunk retries them later).
        """
        results: list[RecordResult | None] = [None] * len(records)
        pending = list(range(len(records)))

        def attempt() -> int:
            nonlocal pending
            written = write([records[i] for i in pending])
            for index, result in zip(pending, written, strict=True):
                results[index] = result
            pending = [i for i in pending if (results[i] or _UNWRITTEN).code == LOCKED]
            return len(pending)

        self.client.repeat_while(action, attempt, again=lambda locked: locked > 0, code=LOCKED)
        return [r or _UNWRITTEN for r in results]

    def bulk(
        self,
        object_name: Literal["CampaignMember", "Lead"],
        operation: Literal["insert", "update", "delete"],
        records: list[dict[str, Any]],
        *,
        key: Any,
        retry: bool = True,
    ) -> list[RecordResult]:
        """Run a Bulk API 2.0 ingest job; map its result files back to input order.

        Rows refused for a lock go again in a smaller job (see `_until_unlocked`).
        """
        if not records:
            return []
        return self.until_unlocked(
            f"bulk {operation} {object_name}s",
            records,
            lambda part: self._bulk_job(object_name, operation, part, key=key, retry=retry),
        )

    def _bulk_job(
        self,
        object_name: Literal["CampaignMember", "Lead"],
        operation: Literal["insert", "update", "delete"],
        records: list[dict[str, Any]],
        *,
        key: Any,
        retry: bool,
    ) -> list[RecordResult]:
        poll = self.client.options.bulk_poll_seconds

        def run(sf: Any) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
            handle = getattr(sf.bulk2, object_name)
            jobs = getattr(handle, operation)(records=records, wait=poll)
            successes: list[dict[str, str]] = []
            failures: list[dict[str, str]] = []
            for job in jobs:
                job_id = job["job_id"]
                successes += _csv_rows(handle.get_successful_records(job_id))
                failures += _csv_rows(handle.get_failed_records(job_id))
            return successes, failures

        action = f"bulk {operation} {object_name}s"
        call = self.client.call if retry else self.client.call_once
        successes, failures = call(action, run)
        pending: dict[tuple[str, ...], deque[int]] = defaultdict(deque)
        for index, record in enumerate(records):
            pending[key(record)].append(index)
        results: list[RecordResult | None] = [None] * len(records)
        for row in successes:
            slot = _take(pending, key(row))
            if slot is not None:
                results[slot] = RecordResult(
                    WriteOutcome.OK, row.get("sf__Id") or records[slot].get("Id"), None, None
                )
        for row in failures:
            slot = _take(pending, key(row))
            if slot is not None:
                results[slot] = _bulk_failure(row)
        return [
            r
            if r is not None
            else RecordResult(
                WriteOutcome.ERROR, None, "NO_RESULT", "Bulk API returned no result for this row"
            )
            for r in results
        ]

    def create_leads(
        self, records: list[dict[str, Any]], *, respect_duplicate_alerts: bool
    ) -> list[RecordResult]:
        """Lead records in collections, never repeated blind (see the gateway's
        `create_leads`); allowSave=true unless `respect_duplicate_alerts`."""
        headers = {} if respect_duplicate_alerts else ALLOW_DUPLICATE_SAVE
        results: list[RecordResult] = []
        for start in range(0, len(records), COLLECTION_SIZE):
            chunk = [
                {"attributes": {"type": "Lead"}, **r}
                for r in records[start : start + COLLECTION_SIZE]
            ]
            response = self.client.call_once("create Leads", _create_call(chunk, headers))
            results.extend(collection_results(response, len(chunk)))
        return results


def collection_results(response: Any, expected: int) -> list[RecordResult]:
    """sObject Collections results (request order) → RecordResults."""
    items = response if isinstance(response, list) else []
    if len(items) != expected:
        raise SalesforceError(
            f"Salesforce returned {len(items)} results for {expected} records",
            code="UNEXPECTED_RESPONSE",
        )
    results = []
    for item in items:
        if item.get("success"):
            results.append(RecordResult(WriteOutcome.OK, item.get("id"), None, None))
            continue
        errors = item.get("errors") or [{}]
        error = errors[0]
        code = str(error.get("statusCode") or error.get("errorCode") or "UNKNOWN")
        message = str(error.get("message") or "")
        if isinstance(error.get("duplicateResult"), Mapping):
            message = _duplicate_message(message, error["duplicateResult"])
        fields = [str(f) for f in error.get("fields") or []]
        results.append(RecordResult(classify(code, message, fields), item.get("id"), code, message))
    return results


def _create_call(
    records: list[dict[str, Any]], headers: dict[str, str]
) -> Callable[[Salesforce], Any]:
    def create(sf: Salesforce) -> Any:
        body = {"allOrNone": False, "records": records}
        return sf.restful("composite/sobjects", method="POST", json=body, headers=headers)

    return create


def _duplicate_message(message: str, result: Mapping[str, Any]) -> str:
    """A duplicate rule's refusal, naming the rule and the records it matched."""
    matches = [
        f"{match.get('entityType')} {found['record']['Id']}"
        for match in result.get("matchResults") or []
        for found in match.get("matchRecords") or []
        if isinstance(found.get("record"), Mapping) and found["record"].get("Id")
    ]
    named = f"it matches {', '.join(matches)}" if matches else "Salesforce named no match"
    rule = result.get("duplicateRule") or "a duplicate rule"
    return f"duplicate rule {rule} refused the new Lead ({named}): {message}"


def _csv_rows(text: str) -> list[dict[str, str]]:
    if not text.strip():
        return []
    return list(csv.DictReader(io.StringIO(text)))


def insert_key(row: Mapping[str, str]) -> tuple[str, ...]:
    return (
        (row.get("CampaignId") or "")[:15],
        (row.get("LeadId") or "")[:15],
        (row.get("ContactId") or "")[:15],
    )


def email_key(row: Mapping[str, str]) -> tuple[str, ...]:
    return ((row.get("Email") or "").strip().lower(),)


def id_key(row: Mapping[str, str]) -> tuple[str, ...]:
    return ((row.get("Id") or row.get("sf__Id") or "")[:15],)


def _take(pending: dict[tuple[str, ...], deque[int]], key: tuple[str, ...]) -> int | None:
    queue = pending.get(key)
    return queue.popleft() if queue else None


def _bulk_failure(row: Mapping[str, str]) -> RecordResult:
    """`DUPLICATE_VALUE:Already a campaign member.:--` → RecordResult."""
    raw = row.get("sf__Error") or "UNKNOWN:"
    code, _, rest = raw.partition(":")
    message, separator, field_text = rest.rpartition(":")
    if not separator:
        message, field_text = rest, ""
    # Fields come as "Status --" or a bare "--" (none).
    fields = [f.strip() for f in field_text.removesuffix("--").split(",") if f.strip()]
    return RecordResult(classify(code, message, fields), row.get("sf__Id") or None, code, message)
