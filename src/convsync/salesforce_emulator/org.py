"""In-memory org state: records, indexes, transactions and the DML entry points.

Everything goes through one re-entrant lock, so the HTTP layer, the admin endpoints and
test helpers can share a store across threads. Records are immutable dicts replaced on
every write through `_put`, which keeps the indexes right and writes an undo log: that
undo log is what gives sObject Collections `allOrNone` and per-row savepoints their
all-or-nothing behaviour without copying the org.

Indexes (no full scans for id or campaign lookups, so 100,000+ members stay fast):
CampaignMember by CampaignId (creation order, tombstones included for queryAll), by
(CampaignId, person) and by person; CampaignMemberStatus by CampaignId; Lead/Contact by
lower-cased Email; Lead by (FirstName, LastName, Company) for duplicate rules; tombstones
per object.

The rules Salesforce enforces per object live in `campaigns` and `people`, as the
`_create_<Object>`/`_update_<Object>`/`_delete_<Object>` handlers the entry points
here dispatch to; `store.Store` puts them together.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any

from . import duplicates, ids
from .clock import Clock
from .errors import ApiError, not_found
from .permissions import Permissions
from .schema import OBJECTS, Field, SObject

Record = dict[str, Any]

TOMBSTONE_DAYS = 15
UNKNOWN_STATUS_MODES = ("reject", "default")
# Salesforce merges at most three records at once: a master and two others.
MAX_MERGE_LOSERS = 2
CONVERTED_LEAD_STATUS = "Closed - Converted"


def converted_lead(fields: list[str] | None = None) -> ApiError:
    """What Salesforce answers to any write that references a converted Lead."""
    return ApiError(
        "CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", fields=fields or []
    )


class Transaction:
    """One Salesforce transaction: a single timestamp and an undo log for rollback."""

    def __init__(
        self, store: OrgState, now: datetime, *, allow_save: bool = False, as_user: bool = False
    ) -> None:
        self.store = store
        self.now = now
        # The request sent `Sforce-Duplicate-Rule-Header: allowSave=true`.
        self.allow_save = allow_save
        # An API call of the integration user, not a seed or an admin action: its
        # permissions apply, and its writes are the ones `commit-delay` holds back.
        self.as_user = as_user
        self.undo: list[tuple[str, str, Record | None]] = []
        # Campaigns whose members this transaction wrote: it holds their lock.
        self.campaigns: set[str] = set()

    def savepoint(self) -> int:
        """Mark the current point so one row's failure can be undone alone."""
        return len(self.undo)

    def rollback_to(self, savepoint: int) -> None:
        """Undo every write made after `savepoint`, newest first."""
        while len(self.undo) > savepoint:
            object_name, record_id, old = self.undo.pop()
            self.store._put(None, object_name, record_id, old)


def _id_label(field: Field) -> str:
    return field.name[:-2] + " ID" if field.name.endswith("Id") else field.name


class OrgState:
    """The org's state: records, indexes, transactions, reads and DML dispatch."""

    def __init__(self, unknown_status: str = "reject") -> None:
        if unknown_status not in UNKNOWN_STATUS_MODES:
            raise ValueError(f"unknown_status must be one of {UNKNOWN_STATUS_MODES}")
        self.lock = threading.RLock()
        self.clock = Clock()
        self.ids = ids.IdFactory()
        self.unknown_status = unknown_status
        self.reset()

    # ------------------------------------------------------------------ state & indexes
    def reset(self) -> None:
        """Forget every record (the clock keeps running forwards)."""
        with self.lock:
            self.tables: dict[str, dict[str, Record]] = {name: {} for name in OBJECTS}
            self.members_by_campaign: dict[str, dict[str, None]] = {}
            self.member_by_pair: dict[tuple[str, str], str] = {}
            self.members_by_person: dict[str, dict[str, None]] = {}
            self.statuses_by_campaign: dict[str, dict[str, None]] = {}
            self.people_by_email: dict[str, dict[str, dict[str, None]]] = {
                "Lead": {},
                "Contact": {},
            }
            self.tombstones: dict[str, dict[str, None]] = {name: {} for name in OBJECTS}
            self.leads_by_name: dict[tuple[str, ...], dict[str, None]] = {}
            self.duplicate_rules: dict[str, str] = {"Lead": "off"}
            self.permissions = Permissions()
            # Campaign id → when (monotonic seconds) a transaction last wrote its members.
            self.campaign_writes: dict[str, float] = {}
            self.lock_window_ms = 0
            # `sobjects/X/deleted` reaches back to here at most (a purge moves it on).
            self.delete_log_start: datetime | None = None
            # Writes not visible yet: (object, id) → (their SystemModstamp, when they
            # become visible, the version queries see until then; None: no record).
            self.in_flight: dict[tuple[str, str], tuple[datetime, datetime, Record | None]] = {}
            self.commit_delay = timedelta(0)
            # `latestDateCovered` is rounded down to a multiple of this (Salesforce: minutes).
            self.replication_resolution = timedelta(minutes=1)

    @contextmanager
    def transaction(
        self, *, allow_save: bool = False, as_user: bool = False
    ) -> Iterator[Transaction]:
        """Hold the lock for one transaction; an escaping exception rolls it all back.

        `allow_save`: the request sent `Sforce-Duplicate-Rule-Header: allowSave=true`.
        `as_user`: the integration user's API call, checked against `permissions`; with
        a commit delay set, its writes keep the stamp they got here but stay invisible
        to queries for the delay, as a long transaction's rows do in an org.
        """
        with self.lock:
            tx = Transaction(self, self.clock.tick(), allow_save=allow_save, as_user=as_user)
            try:
                yield tx
            except BaseException:
                tx.rollback_to(0)
                raise
            released = time.monotonic()
            for campaign_id in tx.campaigns:
                self.campaign_writes[campaign_id] = released

            if as_user and self.commit_delay:
                self._hold_back(tx)

    def _hold_back(self, tx: Transaction) -> None:
        visible_at = tx.now + self.commit_delay
        for object_name, record_id, old in tx.undo:  # oldest first: the pre-tx version
            key = (object_name, record_id)
            held = self.in_flight.get(key)
            if held is None or held[1] <= tx.now:
                self.in_flight[key] = (tx.now, visible_at, old)
            else:  # still in flight from an earlier write: the oldest version stays seen
                self.in_flight[key] = (held[0], visible_at, held[2])

    def visible(self, object_name: str, rec: Record) -> Record | None:
        """The version of `rec` queries see now (None: not visible yet)."""
        if not self.in_flight:
            return rec
        key = (object_name, rec["Id"])
        held = self.in_flight.get(key)
        if held is None:
            return rec
        if held[1] <= self.clock.now():
            del self.in_flight[key]
            return rec
        return held[2]

    def in_flight_since(self) -> datetime | None:
        """The earliest SystemModstamp of a write still invisible, if any."""
        now = self.clock.now()
        with self.lock:
            for key in [k for k, held in self.in_flight.items() if held[1] <= now]:
                del self.in_flight[key]
            return min((held[0] for held in self.in_flight.values()), default=None)

    def purge_deleted(self, before: datetime | None) -> int:
        """Empty the delete log up to `before` (all of it when None), as an org does early
        when the log is large: those tombstones are gone from queryAll and `deleted`."""
        with self.lock:
            cut = before or self.clock.now()
            purged = 0
            for object_name, tombstones in self.tombstones.items():
                table = self.tables[object_name]
                for rid in [r for r in tombstones if table[r]["SystemModstamp"] < cut]:
                    self._put(None, object_name, rid, None)
                    purged += 1
            if self.delete_log_start is None or cut > self.delete_log_start:
                self.delete_log_start = cut
            return purged

    def _lock_campaign(self, tx: Transaction, campaign_id: str) -> None:
        """Take the Campaign's row lock for a member write, as Salesforce does.

        With `lock_window_ms` set, another transaction's member write to the same
        campaign holds the lock that long after it ends: this one fails per record.
        """
        if campaign_id in tx.campaigns:
            return
        last = self.campaign_writes.get(campaign_id)
        if (
            self.lock_window_ms > 0
            and last is not None
            and (time.monotonic() - last) * 1000 < self.lock_window_ms
        ):
            raise ApiError(
                "UNABLE_TO_LOCK_ROW",
                f"unable to obtain exclusive access to this record or 1 records: {campaign_id}",
                fields=[],
            )
        tx.campaigns.add(campaign_id)

    def _put(
        self, tx: Transaction | None, object_name: str, record_id: str, new: Record | None
    ) -> None:
        table = self.tables[object_name]
        old = table.get(record_id)
        if tx is not None:
            tx.undo.append((object_name, record_id, old))
        if old is not None:
            self._unindex(object_name, record_id, old, removing=new is None)
        if new is None:
            table.pop(record_id, None)
        else:
            table[record_id] = new
            self._index(object_name, record_id, new)

    def _index(self, object_name: str, record_id: str, rec: Record) -> None:
        live = not rec["IsDeleted"]
        if not live:
            self.tombstones[object_name][record_id] = None
        if object_name == "CampaignMember":
            self.members_by_campaign.setdefault(rec["CampaignId"], {})[record_id] = None
            if live:
                person = rec["ContactId"] or rec["LeadId"]
                self.member_by_pair[(rec["CampaignId"], person)] = record_id
                self.members_by_person.setdefault(person, {})[record_id] = None
        elif object_name == "CampaignMemberStatus":
            if live:
                self.statuses_by_campaign.setdefault(rec["CampaignId"], {})[record_id] = None
        elif object_name in ("Lead", "Contact") and live and rec["Email"]:
            by_email = self.people_by_email[object_name]
            by_email.setdefault(rec["Email"].lower(), {})[record_id] = None
        if object_name == "Lead" and live and (name := duplicates.name_key(rec)):
            self.leads_by_name.setdefault(name, {})[record_id] = None

    def _unindex(self, object_name: str, record_id: str, rec: Record, *, removing: bool) -> None:
        self.tombstones[object_name].pop(record_id, None)
        if object_name == "CampaignMember":
            if removing:
                self.members_by_campaign.get(rec["CampaignId"], {}).pop(record_id, None)
            person = rec["ContactId"] or rec["LeadId"]
            if self.member_by_pair.get((rec["CampaignId"], person)) == record_id:
                del self.member_by_pair[(rec["CampaignId"], person)]
            self.members_by_person.get(person, {}).pop(record_id, None)
        elif object_name == "CampaignMemberStatus":
            self.statuses_by_campaign.get(rec["CampaignId"], {}).pop(record_id, None)
        elif object_name in ("Lead", "Contact") and rec["Email"]:
            self.people_by_email[object_name].get(rec["Email"].lower(), {}).pop(record_id, None)
        if object_name == "Lead" and (name := duplicates.name_key(rec)):
            self.leads_by_name.get(name, {}).pop(record_id, None)

    # ------------------------------------------------------------------ reads
    def get(self, object_name: str, record_id: str) -> Record | None:
        """A record by 18-character id, tombstones included."""
        return self.tables[object_name].get(record_id)

    def live(self, object_name: str, record_id: str) -> Record:
        """A live record, or the 404 Salesforce gives for a missing or deleted one."""
        rec = self.tables[object_name].get(record_id)
        if rec is None:
            raise not_found()
        if rec["IsDeleted"]:
            raise ApiError("ENTITY_IS_DELETED", "entity is deleted", status=404, fields=[])
        return rec

    def statuses(self, campaign_id: str) -> list[Record]:
        """A campaign's live member statuses, by SortOrder."""
        table = self.tables["CampaignMemberStatus"]
        recs = [table[i] for i in self.statuses_by_campaign.get(campaign_id, {})]
        return sorted(recs, key=lambda r: (r["SortOrder"] or 0, r["Id"]))

    def purge_horizon(self) -> datetime:
        """Tombstones older than this are gone, as from Salesforce's recycle bin."""
        horizon = self.clock.now() - timedelta(days=TOMBSTONE_DAYS)
        start = self.delete_log_start
        return horizon if start is None or start < horizon else start

    def updated_ids(self, object_name: str, start: datetime, end: datetime) -> list[str]:
        """Ids of live records whose SystemModstamp falls in [start, end)."""
        with self.lock:
            seen = (self.visible(object_name, rec) for rec in self.tables[object_name].values())
            return [
                rec["Id"]
                for rec in seen
                if rec is not None and not rec["IsDeleted"] and start <= rec["SystemModstamp"] < end
            ]

    def deleted_records(
        self, object_name: str, start: datetime, end: datetime
    ) -> list[tuple[str, datetime]]:
        """(id, deletedDate) of tombstones deleted in [start, end), within the horizon."""
        horizon = self.purge_horizon()
        with self.lock:
            table = self.tables[object_name]
            out = []
            for rid in self.tombstones[object_name]:
                rec = self.visible(object_name, table[rid])
                if rec is None or not rec["IsDeleted"]:
                    continue
                stamp = rec["SystemModstamp"]
                if start <= stamp < end and stamp >= horizon:
                    out.append((rid, stamp))
            return sorted(out)

    def summary(self) -> dict[str, dict[str, int]]:
        """Live and deleted counts per object, for dashboards and tests."""
        with self.lock:
            return {
                name: {
                    "live": len(table) - len(self.tombstones[name]),
                    "deleted": len(self.tombstones[name]),
                }
                for name, table in self.tables.items()
            }

    # ------------------------------------------------------------------ input checks
    def _coerce(  # noqa: PLR0911
        self, field: Field, value: Any
    ) -> Any:
        if value is None:
            return None
        kind = field.type
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            raise ApiError(
                "JSON_PARSER_ERROR", f"Cannot deserialize instance of boolean from value {value!r}"
            )
        if kind == "int":
            try:
                return int(value)
            except (TypeError, ValueError):
                raise ApiError(
                    "JSON_PARSER_ERROR", f"Cannot deserialize instance of int from value {value!r}"
                ) from None
        if kind == "date":
            if isinstance(value, str):
                try:
                    return date.fromisoformat(value[:10])
                except ValueError:
                    pass
            raise ApiError(
                "JSON_PARSER_ERROR",
                f"Cannot deserialize instance of date from VALUE_STRING value {value}"
                " or request may be missing a required field",
            )
        if isinstance(value, bool | dict | list):
            raise ApiError(
                "JSON_PARSER_ERROR",
                f"Cannot deserialize instance of {kind} from {type(value).__name__}",
            )
        text = value if isinstance(value, str) else str(value)
        if (
            kind in ("string", "email", "picklist", "textarea")
            and field.length
            and len(text) > field.length
        ):
            raise ApiError(
                "STRING_TOO_LONG",
                f"{field.name}: data value too large: {text} (max length={field.length})",
                fields=[field.name],
            )
        if text == "" and kind != "textarea":
            return None
        return text

    def _input(self, so: SObject, values: dict[str, Any], *, creating: bool) -> Record:
        out: Record = {}
        for key, value in values.items():
            if key == "attributes":
                continue
            field = so.field(key)
            if field is None:
                raise ApiError(
                    "INVALID_FIELD",
                    f"No such column '{key}' on sobject of type {so.name}",
                    fields=[],
                )
            allowed = field.createable if creating else field.updateable
            if not allowed:
                if not creating and field.name == "Id":
                    continue
                raise ApiError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {field.name}. Please check the security "
                    "settings of this field and verify that it is read/write for your profile "
                    "or permission set.",
                    fields=[field.name],
                )
            out[field.name] = self._coerce(field, value)
        return out

    def _reference(self, field: Field, value: str | None, *, required: bool = True) -> str | None:
        """Check a lookup value: well-formed id of the right object, naming a live record."""
        if value is None:
            return None
        rid = ids.normalize(value)
        target = field.reference_to or ""
        if rid is None or ids.object_of(rid) != target:
            raise ApiError(
                "MALFORMED_ID",
                f"{_id_label(field)}: id value of incorrect type: {value}",
                fields=[field.name],
            )
        rec = self.tables[target].get(rid)
        if rec is None:
            raise ApiError(
                "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", fields=[field.name]
            )
        if rec["IsDeleted"]:
            raise ApiError("ENTITY_IS_DELETED", "entity is deleted", fields=[field.name])
        return rid

    @staticmethod
    def _missing(so: SObject, rec: Record) -> None:
        missing = [f.name for f in so.fields if f.required and rec.get(f.name) is None]
        if missing:
            raise ApiError(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                fields=missing,
            )

    def _blank(self, so: SObject, now: datetime) -> Record:
        rec: Record = {f.name: (False if f.type == "boolean" else None) for f in so.fields}
        rec["Id"] = self.ids.new(so.name)
        rec["CreatedDate"] = rec["LastModifiedDate"] = rec["SystemModstamp"] = now
        return rec

    # ------------------------------------------------------------------ DML entry points
    def create(self, tx: Transaction, object_name: str, values: dict[str, Any]) -> str:
        """Insert one record; raises ApiError exactly where Salesforce would."""
        so = OBJECTS[object_name]
        if tx.as_user:
            self.permissions.check(so, "create", values)
        rec = self._blank(so, tx.now)
        rec.update(self._input(so, values, creating=True))
        handler = getattr(self, f"_create_{object_name}")
        handler(tx, so, rec)
        return str(rec["Id"])

    def update(
        self, tx: Transaction, object_name: str, record_id: str, values: dict[str, Any]
    ) -> None:
        """Update one live record by id."""
        so = OBJECTS[object_name]
        if tx.as_user:
            self.permissions.check(so, "edit", values)
        current = self.live(object_name, record_id)
        changes = self._input(so, values, creating=False)
        rec = {**current, **changes, "LastModifiedDate": tx.now, "SystemModstamp": tx.now}
        self._missing(so, rec)
        handler = getattr(self, f"_update_{object_name}")
        handler(tx, current, rec)

    def delete(self, tx: Transaction, object_name: str, record_id: str) -> None:
        """Soft-delete one live record (and what Salesforce cascades with it)."""
        if tx.as_user:
            self.permissions.check(OBJECTS[object_name], "delete")
        current = self.live(object_name, record_id)
        handler = getattr(self, f"_delete_{object_name}")
        handler(tx, current)

    def _tombstone(self, tx: Transaction, object_name: str, rec: Record) -> None:
        self._put(
            tx,
            object_name,
            rec["Id"],
            {**rec, "IsDeleted": True, "SystemModstamp": tx.now, "LastModifiedDate": tx.now},
        )

    # ------------------------------------------------------------------ shared by the rules
    @staticmethod
    def _person_fields(member: Record, person: Record, object_name: str) -> Record:
        member["Email"] = person["Email"]
        member["FirstName"] = person["FirstName"]
        member["LastName"] = person["LastName"]
        member["CompanyOrAccount"] = (
            person["Company"] if object_name == "Lead" else person.get("AccountName__c")
        )
        return member
