"""The schema, as SQLAlchemy 2 typed models. Works on PostgreSQL and SQLite.

Constraints, not hope: a member's status must belong to its campaign's type, enforced by
composite foreign keys (member → (campaign, type) and (type, status label)), so no code
path can store a status the type does not list.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from convsync.domain.model import LinkState, RunState
from convsync.store.columns import NAMING, Id, UTCDateTime, utcnow
from convsync.store.name_keys import name_key_column

# Re-exported: migrations name `convsync.store.tables.UTCDateTime`.
__all__ = ["NAMING", "Id", "UTCDateTime", "utcnow"]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class CampaignTypeRow(Base):
    __tablename__ = "campaign_types"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    name_key: Mapped[str] = name_key_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TypeStatusRow(Base):
    __tablename__ = "campaign_type_statuses"
    __table_args__ = (
        UniqueConstraint("type_id", "label", name="uq_type_status_label"),
        # One default per type.
        Index(
            "uq_type_one_default",
            "type_id",
            unique=True,
            postgresql_where=text("is_default"),
            sqlite_where=text("is_default"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    type_id: Mapped[int] = mapped_column(ForeignKey("campaign_types.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(40))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    has_responded: Mapped[bool] = mapped_column(Boolean, default=False)
    sort_order: Mapped[int] = mapped_column(Integer)


class PersonRow(Base):
    __tablename__ = "people"
    __table_args__ = (
        # Emails are stored normalised, so a plain unique index is case-insensitive.
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        Index("ix_people_salesforce_lead_id", "salesforce_lead_id"),
        Index("ix_people_salesforce_contact_id", "salesforce_contact_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    first_name: Mapped[str | None] = mapped_column(String(80))
    last_name: Mapped[str | None] = mapped_column(String(80))
    company: Mapped[str | None] = mapped_column(String(255))
    salesforce_lead_id: Mapped[str | None] = mapped_column(String(18))
    salesforce_contact_id: Mapped[str | None] = mapped_column(String(18))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CampaignRow(Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        # Target of the members' composite foreign key (campaign, type).
        UniqueConstraint("id", "type_id", name="uq_campaign_id_type"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    name_key: Mapped[str] = name_key_column()
    type_id: Mapped[int] = mapped_column(ForeignKey("campaign_types.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MemberRow(Base):
    """A person in a campaign. `status` NULL with `removed_at` set is a removal tombstone."""

    __tablename__ = "campaign_members"
    __table_args__ = (
        UniqueConstraint("campaign_id", "person_id", name="uq_member_campaign_person"),
        ForeignKeyConstraint(
            ["campaign_id", "type_id"],
            ["campaigns.id", "campaigns.type_id"],
            name="fk_member_campaign_type",
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["type_id", "status"],
            ["campaign_type_statuses.type_id", "campaign_type_statuses.label"],
            name="fk_member_status_in_type",
            ondelete="RESTRICT",
        ),
        CheckConstraint(
            "(status IS NULL) = (removed_at IS NOT NULL)", name="removed_has_no_status"
        ),
        Index("ix_member_campaign_updated", "campaign_id", "updated_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(Id)
    type_id: Mapped[int] = mapped_column(Id)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="RESTRICT"))
    status: Mapped[str | None] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LinkRow(Base):
    """A Conversion campaign ↔ Salesforce campaign link, with its bookmarks."""

    __tablename__ = "salesforce_links"
    __table_args__ = (
        # One active link per campaign, and per Salesforce campaign.
        Index(
            "uq_link_active_campaign",
            "campaign_id",
            unique=True,
            postgresql_where=text("state = 'active'"),
            sqlite_where=text("state = 'active'"),
        ),
        Index(
            "uq_link_active_salesforce_campaign",
            "salesforce_campaign_id",
            unique=True,
            postgresql_where=text("state = 'active'"),
            sqlite_where=text("state = 'active'"),
        ),
        CheckConstraint("mode IN ('existing', 'new')", name="mode_known"),
        CheckConstraint("state IN ('active', 'unlinked')", name="state_known"),
        CheckConstraint("inbound_unknown IN ('skip', 'default')", name="inbound_unknown_known"),
        CheckConstraint(
            "outbound_unknown IN ('dead-letter', 'create')", name="outbound_unknown_known"
        ),
        # The 18-character form only: a 15-character id would be a second name for one
        # Salesforce campaign, and the index above would not see the two as one.
        CheckConstraint("length(salesforce_campaign_id) = 18", name="salesforce_campaign_id_18"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    salesforce_campaign_id: Mapped[str] = mapped_column(String(18))
    mode: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default=LinkState.ACTIVE.value)
    # Salesforce SystemModstamp bookmark for CampaignMember reads (capped at run start).
    inbound_mark: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Local clock bookmark: members updated after it are candidates to push.
    outbound_mark: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Latest CampaignMemberStatus SystemModstamp seen: a newer one may fix dead letters.
    status_mark: Mapped[datetime | None] = mapped_column(UTCDateTime())
    initial_sync_done: Mapped[bool] = mapped_column(Boolean, default=False)
    # Conversion edits of the campaign since the link (each edit transaction counts one),
    # and how many of them the last successful run pushed: more made than pushed is the
    # durable "pending edits" signal (domain.edits), written with the edit itself.
    edit_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    pushed_edit_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # When the oldest edit not yet pushed was made (at the latest): bounds the coalescing.
    edits_pending_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The status policies (domain.status_rules): what happens to a member whose status
    # the other side lacks. The defaults are the spec's rules.
    inbound_unknown: Mapped[str] = mapped_column(String(16), default="skip", server_default="skip")
    outbound_unknown: Mapped[str] = mapped_column(
        String(16), default="dead-letter", server_default="dead-letter"
    )
    # When the campaign's mapping or the link's policies last changed: until a run starts
    # after it, the link is due (its skips and dead letters are judged again).
    rules_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    unlinked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class StatusMappingRow(Base):
    """A Conversion status known in Salesforce by another label, for one campaign's links.

    Kept per campaign rather than per link so that it can be set before linking (the
    pre-flight check and `link` take it into account) and survives an unlink.
    """

    __tablename__ = "status_mappings"
    __table_args__ = (
        UniqueConstraint("campaign_id", "conversion_status", name="uq_mapping_campaign_status"),
        UniqueConstraint("campaign_id", "salesforce_label", name="uq_mapping_campaign_label"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    conversion_status: Mapped[str] = mapped_column(String(40))
    salesforce_label: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MemberSyncStateRow(Base):
    """The base for conflict resolution: the value both sides held after the last sync."""

    __tablename__ = "member_sync_state"
    __table_args__ = (UniqueConstraint("link_id", "person_id", name="uq_sync_state_link_person"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("salesforce_links.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    # False while only the Salesforce member id is known (no agreed value yet).
    synced: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str | None] = mapped_column(String(40))
    salesforce_member_id: Mapped[str | None] = mapped_column(String(18))
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The value an outbound chunk is writing to Salesforce, recorded before the write and
    # cleared with the next base: a chunk killed in between leaves it, and the inbound
    # stage then knows that value in Salesforce as the sync's own (domain.conflict.landed).
    push_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    push_status: Mapped[str | None] = mapped_column(String(40))


class RunRow(Base):
    """One sync run of one link. At most one open (queued/running) run per link."""

    __tablename__ = "sync_runs"
    __table_args__ = (
        Index(
            "uq_run_one_open_per_link",
            "link_id",
            unique=True,
            postgresql_where=text("state IN ('queued', 'running')"),
            sqlite_where=text("state IN ('queued', 'running')"),
        ),
        CheckConstraint("kind IN ('initial', 'scheduled', 'manual', 'edits')", name="kind_known"),
        CheckConstraint(
            "state IN ('queued', 'running', 'succeeded', 'failed')", name="state_known"
        ),
        CheckConstraint("stage IN ('inbound', 'outbound', 'done')", name="stage_known"),
        Index("ix_run_link_created", "link_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("salesforce_links.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default=RunState.QUEUED.value)
    stage: Mapped[str] = mapped_column(String(16), default="inbound")
    # Rows are read up to this instant; bookmarks never move past it.
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # All chunks of the current stage have been planned (the barrier may close).
    stage_planned: Mapped[bool] = mapped_column(Boolean, default=False)
    # How often the current stage's planning task was started (bounded by the reconciler).
    stage_attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The Salesforce campaign's statuses as read at the start of the outbound stage.
    salesforce_statuses: Mapped[list[str] | None] = mapped_column(JSON)
    # The campaign's statuses as a tick's shared read found them, and when (sync.read_ahead).
    statuses_read_ahead: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    statuses_read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    inbound_max_stamp: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The link's edit_count when outbound was planned: every edit up to it is in the plan.
    edit_count: Mapped[int | None] = mapped_column(BigInteger)
    # Drift repair: the inbound stage reads every live member and compares with the bases.
    full_compare: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Salesforce's latestDateCovered when the inbound read began: the bookmark's ceiling.
    inbound_covered: Mapped[datetime | None] = mapped_column(UTCDateTime())
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ChunkRow(Base):
    """The PostgreSQL-held barrier: one row per chunk, marked done with its writes."""

    __tablename__ = "sync_chunks"
    __table_args__ = (
        UniqueConstraint("run_id", "stage", "number", name="uq_chunk_run_stage_number"),
        CheckConstraint("state IN ('pending', 'done')", name="state_known"),
        Index("ix_chunk_pending_lease", "state", "lease_until"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("sync_runs.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(16))
    number: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    size: Mapped[int] = mapped_column(Integer, default=0)
    # Outbound chunks cover a range of member ids (lo, hi].
    member_id_lo: Mapped[int | None] = mapped_column(Id)
    member_id_hi: Mapped[int | None] = mapped_column(Id)
    # Claim protocol: a task claims a chunk (token + lease) and commits only if it still
    # holds the claim; an expired lease may be taken over by a redelivered task.
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Updates the chunk's task left in the update pool (sync.update_pool), and since when
    # they wait there (None once a flush took them): written with many runs' others.
    pooled_updates: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    pooled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class StagedMemberRow(Base):
    """A Salesforce CampaignMember read by an inbound stage, waiting for its chunk task.

    Staging keeps task arguments to ids (no payload blobs in the broker) and makes a
    re-delivered chunk see exactly the rows it saw the first time.
    """

    __tablename__ = "staged_salesforce_members"
    __table_args__ = (
        UniqueConstraint("chunk_id", "salesforce_member_id", name="uq_staged_chunk_member"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    chunk_id: Mapped[int] = mapped_column(ForeignKey("sync_chunks.id", ondelete="CASCADE"))
    salesforce_member_id: Mapped[str] = mapped_column(String(18))
    lead_id: Mapped[str | None] = mapped_column(String(18))
    contact_id: Mapped[str | None] = mapped_column(String(18))
    email: Mapped[str | None] = mapped_column(String(254))
    first_name: Mapped[str | None] = mapped_column(String(80))
    last_name: Mapped[str | None] = mapped_column(String(80))
    company: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str | None] = mapped_column(String(40))
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    last_modified: Mapped[datetime] = mapped_column(UTCDateTime())
    system_modstamp: Mapped[datetime] = mapped_column(UTCDateTime())


class AddedMemberRow(Base):
    """A CampaignMember the sync inserted into Salesforce: "the members the sync added",
    which `unlink --remove-synced-members` removes (while the base still knows that id)."""

    __tablename__ = "added_salesforce_members"
    __table_args__ = (
        UniqueConstraint("link_id", "salesforce_member_id", name="uq_added_link_member"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("salesforce_links.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    salesforce_member_id: Mapped[str] = mapped_column(String(18))
    run_id: Mapped[int | None] = mapped_column(Id)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Set when an unlink removed it from Salesforce again.
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SkippedMemberRow(Base):
    """An inbound member not imported (its status is not in the type), visible to users."""

    __tablename__ = "skipped_members"
    __table_args__ = (
        UniqueConstraint("link_id", "salesforce_member_id", name="uq_skipped_link_member"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("salesforce_links.id", ondelete="CASCADE"))
    salesforce_member_id: Mapped[str] = mapped_column(String(18))
    email: Mapped[str | None] = mapped_column(String(254))
    status: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(Id)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SyncErrorRow(Base):
    """A dead letter: a member (or a task) the sync could not move, until replayed."""

    __tablename__ = "sync_errors"
    __table_args__ = (
        # One open dead letter per member and direction; a repeat bumps `attempts`.
        Index(
            "uq_error_open_member",
            "link_id",
            "person_id",
            "direction",
            unique=True,
            postgresql_where=text("resolved_at IS NULL AND person_id IS NOT NULL"),
            sqlite_where=text("resolved_at IS NULL AND person_id IS NOT NULL"),
        ),
        CheckConstraint("direction IN ('inbound', 'outbound', 'task')", name="direction_known"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    link_id: Mapped[int | None] = mapped_column(
        ForeignKey("salesforce_links.id", ondelete="CASCADE")
    )
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    run_id: Mapped[int | None] = mapped_column(Id)
    direction: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DecisionRow(Base):
    """One decision about one member (`convsync explain`), kept for the retention period."""

    __tablename__ = "member_decisions"
    __table_args__ = (
        # A chunk that runs again in the same run (a retry) decides the same members again.
        UniqueConstraint("run_id", "stage", "person_id", "kind", name="uq_decision_once_per_run"),
        Index("ix_decision_link_person", "link_id", "person_id", "decided_at"),
        Index("ix_decision_decided_at", "decided_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("salesforce_links.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    run_id: Mapped[int | None] = mapped_column(Id)
    stage: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32))
    rule: Mapped[str] = mapped_column(Text)
    conflict: Mapped[bool] = mapped_column(Boolean, default=False)
    conversion_status: Mapped[str | None] = mapped_column(String(40))
    conversion_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    salesforce_status: Mapped[str | None] = mapped_column(String(40))
    salesforce_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    base_status: Mapped[str | None] = mapped_column(String(40))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class HeartbeatRow(Base):
    """Written by `convsync.system.ping`: proof that a worker consumes and writes."""

    __tablename__ = "worker_heartbeats"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RefreshTokenRow(Base):
    """The newest refresh token of a configured one, once Salesforce has rotated it.

    Keyed by a hash of the configured token (a new one in the environment starts afresh)
    and encrypted with a key derived from it, so the table alone gives nothing away.
    """

    __tablename__ = "salesforce_refresh_tokens"

    configured_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[str | None] = mapped_column(Text)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
