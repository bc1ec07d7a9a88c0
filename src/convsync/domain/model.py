"""The product's nouns: campaign types and their member statuses, members, links.

Plain frozen dataclasses so that the rules in `domain/` can be tested without any I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from convsync.domain import names
from convsync.domain.errors import ValidationError

# Salesforce's CampaignMember.Status picklist is 40 characters at most; a longer label
# could never be pushed, so a type may not declare one.
MAX_STATUS_LENGTH = 40

# Deliberately permissive (RFC 5322 is wider than any marketing list needs): one "@",
# something on each side, a dot in the domain, no spaces or control characters (C0, C1).
_EMAIL = re.compile(
    r"^[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f]+\.[^@\s\x00-\x1f\x7f-\x9f]+$"
)
# RFC 5321's limit on an address, and the width of the people.email column.
MAX_EMAIL_LENGTH = 254


class Side(StrEnum):
    """Where a value lives."""

    CONVERSION = "conversion"
    SALESFORCE = "salesforce"


class SyncMode(StrEnum):
    """The three choices offered when a campaign is created."""

    NONE = "none"
    EXISTING = "existing"
    NEW = "new"


class LinkState(StrEnum):
    ACTIVE = "active"
    UNLINKED = "unlinked"


class RunKind(StrEnum):
    INITIAL = "initial"
    SCHEDULED = "scheduled"
    MANUAL = "manual"
    # Started by Conversion edits, seconds after them (not by beat): see domain.edits.
    EDITS = "edits"


class Stage(StrEnum):
    """The two stages of every run, in the order they run."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"


class RunState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def is_open(self) -> bool:
        return self in (RunState.QUEUED, RunState.RUNNING)


@dataclass(frozen=True, slots=True)
class MemberStatus:
    """One member status of a campaign type (or of a Salesforce campaign)."""

    label: str
    is_default: bool = False
    has_responded: bool = False
    sort_order: int = 0


@dataclass(frozen=True, slots=True)
class CampaignType:
    """A Conversion campaign type: the statuses its campaigns' members may hold."""

    name: str
    statuses: tuple[MemberStatus, ...]

    @property
    def labels(self) -> frozenset[str]:
        return frozenset(s.label for s in self.statuses)

    @property
    def default_status(self) -> MemberStatus:
        return next(s for s in self.statuses if s.is_default)

    def allows(self, label: str) -> bool:
        return self.find(label) is not None

    def find(self, label: str) -> str | None:
        """The type's own spelling of `label`, matched as names are (case, NFC, spaces)."""
        key = names.name_key(label)
        return next((s.label for s in self.statuses if names.name_key(s.label) == key), None)


def normalize_email(raw: str) -> str:
    """The form emails are compared and stored in: trimmed and lower-cased."""
    email = raw.strip().lower()
    if len(email) > MAX_EMAIL_LENGTH:
        raise ValidationError(
            f"{raw[:40]!r}… is not a valid email address (longer than {MAX_EMAIL_LENGTH} "
            "characters)"
        )
    if not _EMAIL.match(email):
        raise ValidationError(f"{raw!r} is not a valid email address")
    return email


def validate_name(kind: str, raw: str) -> str:
    """A campaign or type name as stored (see `domain.names` for the rule)."""
    return names.clean(f"{kind} name", raw, names.MAX_NAME_LENGTH)


def build_campaign_type(
    name: str,
    labels: Sequence[str],
    *,
    default: str | None = None,
    responded: Iterable[str] = (),
) -> CampaignType:
    """Validate a type definition: unique non-empty labels, one default, responded ⊆ labels.

    The first status is the default unless `default` names another. When no status is
    marked responded, the last one is (Salesforce requires at least one responded status
    on every campaign, so a type without one could not be mirrored there).
    """
    type_name = validate_name("campaign type", name)
    if not labels:
        raise ValidationError("a campaign type needs at least one --status")
    cleaned = [names.status_label(label) for label in labels]
    by_key: dict[str, str] = {}
    for label in cleaned:
        if names.name_key(label) in by_key:
            raise ValidationError(f"status {label!r} is listed twice")
        by_key[names.name_key(label)] = label

    def one_of(option: str, raw: str) -> str:
        found = by_key.get(names.name_key(raw))
        if found is None:
            raise ValidationError(f"{option} {raw.strip()!r} is not one of the statuses")
        return found

    default_label = cleaned[0] if default is None else one_of("--default", default)
    responded_set = {one_of("--responded", r) for r in responded}
    if not responded_set:
        responded_set = {cleaned[-1]}
    statuses = tuple(
        MemberStatus(
            label=label,
            is_default=label == default_label,
            has_responded=label in responded_set,
            sort_order=index + 1,
        )
        for index, label in enumerate(cleaned)
    )
    return CampaignType(name=type_name, statuses=statuses)


@dataclass(frozen=True, slots=True)
class MemberValue:
    """One side's view of a member: its status, or `None` when removed/absent, and when.

    `updated_at` is timezone-aware UTC; `None` only for "never existed on this side".
    """

    status: str | None
    updated_at: datetime | None = None

    @property
    def present(self) -> bool:
        return self.status is not None


ABSENT = MemberValue(status=None, updated_at=None)
