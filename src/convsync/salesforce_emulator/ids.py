"""Salesforce record ids: key prefixes, 15/18-character forms and validation.

Real ids matter because client code (and the sync) validates and normalises them: an
18-character id carries a case-safe checksum, and the 3-character key prefix names the
object. Ids are minted from a counter so that lexical order equals creation order, which
the query engine relies on for its default ordering.

The checksum is written here again on purpose, not imported from `convsync.domain.ids`:
the emulator is the oracle the sync is tested against, and one shared function would let
a single mistake pass on both sides of every test.
"""

from __future__ import annotations

import itertools
import re
import threading

KEY_PREFIXES: dict[str, str] = {
    "Campaign": "701",
    "CampaignMemberStatus": "01Y",
    "CampaignMember": "00v",
    "Lead": "00Q",
    "Contact": "003",
    "Account": "001",  # minted by lead conversion only; not an emulated object
    "User": "005",
    "Organization": "00D",
    "QueryLocator": "01g",
    "Job": "750",
}
OBJECT_BY_PREFIX: dict[str, str] = {prefix: name for name, prefix in KEY_PREFIXES.items()}

_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
# Digits < upper case < lower case in ASCII, so fixed-width base62 sorts numerically.
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_RE = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-5]{3})?$")
# The pod/instance characters real orgs put after the prefix; fixed here.
_POD = "Hs0"


def checksum(id15: str) -> str:
    """Return the 3-character case-safe suffix Salesforce appends to a 15-character id."""
    suffix = []
    for chunk_start in (0, 5, 10):
        bits = 0
        for position, char in enumerate(id15[chunk_start : chunk_start + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix.append(_SUFFIX_ALPHABET[bits])
    return "".join(suffix)


def to18(id15: str) -> str:
    """Extend a 15-character id to its 18-character case-safe form."""
    return id15 + checksum(id15)


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, remainder = divmod(number, 62)
        digits.append(_BASE62[remainder])
    return "".join(reversed(digits)).rjust(width, "0")


def normalize(value: object) -> str | None:
    """Return the 18-character form of a well-formed id, or None when it is malformed.

    An 18-character id whose suffix does not match its body is malformed: that is what
    catches ids mangled by case-insensitive systems (spreadsheets, some databases).
    """
    if not isinstance(value, str) or not _ID_RE.match(value):
        return None
    if len(value) == 15:
        return to18(value)
    if value[15:].upper() != checksum(value[:15]):
        return None
    return value[:15] + value[15:].upper()


def object_of(id18: str) -> str | None:
    """Name the object an id belongs to, from its key prefix (None when unknown)."""
    return OBJECT_BY_PREFIX.get(id18[:3])


class IdFactory:
    """Mints strictly increasing ids per key prefix; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counter = itertools.count(1)

    def new(self, object_name: str) -> str:
        """Return a fresh 18-character id for `object_name`."""
        with self._lock:
            number = next(self._counter)
        id15 = KEY_PREFIXES[object_name] + _POD + _base62(number, 9)
        return to18(id15)
