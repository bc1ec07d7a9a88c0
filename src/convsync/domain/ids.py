"""Salesforce record ids: one form everywhere, the 18-character one.

Salesforce shows an id in two forms: 15 characters, case-sensitive (the web UI, reports,
URLs), and 18 characters, with a 3-character suffix that encodes the case of the first
15 (the API's results). Both name the same record, so an id kept or compared in its
15-character form is a second name for one campaign: two links could then hold one
Salesforce campaign, and a removal in one would reach the other. Every boundary (the
command line, the use cases, the database) therefore turns an id into its 18-character
form, here, before anything else looks at it.
"""

from __future__ import annotations

import re

from convsync.domain.errors import ValidationError

# Key prefixes of the objects the sync touches.
PREFIXES: dict[str, str] = {
    "Campaign": "701",
    "CampaignMember": "00v",
    "CampaignMemberStatus": "01Y",
    "Lead": "00Q",
    "Contact": "003",
}
_OBJECT_BY_PREFIX = {prefix: name for name, prefix in PREFIXES.items()}
_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-5]{3})?")
_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def id_checksum(id15: str) -> str:
    """The 3-character case-safe suffix of a 15-character id."""
    suffix = []
    for start in (0, 5, 10):
        bits = 0
        for offset, char in enumerate(id15[start : start + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << offset
        suffix.append(_CHECKSUM_ALPHABET[bits])
    return "".join(suffix)


def to_18(value: str) -> str:
    """The 18-character form of a (syntactically valid) id."""
    return value if len(value) == 18 else value + id_checksum(value)


def salesforce_id(value: object, object_name: str) -> str:
    """A Salesforce id of `object_name`, checked and in its 18-character form.

    Checks the length, the characters, the checksum of an 18-character id (accepted in
    lower case, as Salesforce does) and the key prefix; a malformed id is a
    `ValidationError` naming what is wrong, before any API call is spent on it.
    """
    prefix = PREFIXES[object_name]
    what = f"{value!r} is not a valid Salesforce {object_name} id"
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ValidationError(what + " (15 or 18 letters and digits)")
    if len(value) == 18:
        if value[15:].upper() != id_checksum(value[:15]):
            raise ValidationError(what + " (checksum mismatch)")
        value = value[:15] + value[15:].upper()
    if value[:3] != prefix:
        actual = _OBJECT_BY_PREFIX.get(value[:3])
        hint = f" (it is a {actual} id)" if actual else f" (it should start with {prefix})"
        raise ValidationError(what + hint)
    return to_18(value)


def campaign_id(value: object) -> str:
    """A Salesforce Campaign id in its 18-character form (see `salesforce_id`)."""
    return salesforce_id(value, "Campaign")
