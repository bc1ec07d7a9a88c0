"""Names, labels and person fields: one rule for what is accepted, and one for matching.

Accepted: Unicode NFC, surrounding whitespace trimmed (inner whitespace kept), not empty,
no control characters (a newline or an escape sequence would be echoed raw to a terminal
or a log), and no longer than the column that stores it. Matched: by `name_key`, the
case-folded NFC form, so "Spring", "spring" and a decomposed "Spring" are one campaign.
Pure: the store and the use cases call these; nothing here does I/O.
"""

from __future__ import annotations

import unicodedata

from convsync.domain.errors import ValidationError

# The widths of the columns that store them (store/tables.py): campaign_types.name and
# campaigns.name are 80; a status label is 40 (Salesforce's CampaignMember.Status).
MAX_NAME_LENGTH = 80
MAX_LABEL_LENGTH = 40
# people.first_name / last_name (80, Salesforce's Lead.FirstName is 40, LastName 80)
# and people.company (255).
MAX_PERSON_NAME_LENGTH = 80
MAX_COMPANY_LENGTH = 255

_CONTROL_NAMES = {"\n": "a newline", "\r": "a carriage return", "\t": "a tab", "\x1b": "an escape"}


def _control(text: str) -> str | None:
    """The first control character (Unicode category Cc: C0, DEL, C1), described."""
    for char in text:
        if unicodedata.category(char) == "Cc":
            return _CONTROL_NAMES.get(char, f"control character U+{ord(char):04X}")
    return None


def clean(what: str, raw: str, limit: int) -> str:
    """`raw` as stored: NFC, trimmed; refused (one line naming `what`) if it cannot be."""
    text = unicodedata.normalize("NFC", raw).strip()
    if not text:
        raise ValidationError(f"the {what} must not be empty")
    bad = _control(text)
    if bad is not None:
        raise ValidationError(f"the {what} must not contain {bad} (got {text!r})")
    if len(text) > limit:
        raise ValidationError(f"the {what} must be at most {limit} characters (got {len(text)})")
    return text


def clean_optional(what: str, raw: str | None, limit: int) -> str | None:
    """A field that may be left out: blank is None, anything else as `clean`."""
    if raw is None or not raw.strip():
        return None
    return clean(what, raw, limit)


def name_key(name: str) -> str:
    """What names are matched by: case-folded NFC of the trimmed name."""
    folded = unicodedata.normalize("NFC", name).strip().casefold()
    return unicodedata.normalize("NFC", folded)


def campaign_name(raw: str) -> str:
    return clean("campaign name", raw, MAX_NAME_LENGTH)


def type_name(raw: str) -> str:
    return clean("campaign type name", raw, MAX_NAME_LENGTH)


def status_label(raw: str) -> str:
    return clean("status label", raw, MAX_LABEL_LENGTH)
