"""The newest Salesforce refresh token, shared by every process of a deployment.

With refresh-token rotation on the connected app, each refresh returns a new token and
voids the one it used, so the token in the environment works exactly once. Every
process must refresh with the newest one, and two must never refresh with the same one
at once (the second would be refused). The database is the one store every process of a
deployment shares (Redis is optional), and a row lock held across the token request
serialises refreshes: the next process waits, then reads the token this one stored.

The row is keyed by a hash of the configured token, so configuring a new one (after
re-authorising the app) starts afresh, and the stored token is encrypted with a key
derived from the configured one: a copy of the database alone does not reveal it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from convsync.store.db import transaction
from convsync.store.tables import RefreshTokenRow, utcnow
from convsync.store.upsert import insert


def _digest(purpose: bytes, configured: str) -> bytes:
    return hashlib.sha256(
        b"convsync refresh token " + purpose + b"\0" + configured.encode()
    ).digest()


@dataclass(repr=False)
class HeldRefreshToken:
    """The token to refresh with now; `replace()` keeps the one Salesforce returned."""

    current: str
    replacement: str | None = field(default=None)

    def replace(self, new: str) -> None:
        self.replacement = new

    def __repr__(self) -> str:
        return "HeldRefreshToken(current='***')"


class SharedRefreshTokens:
    """Rotated refresh tokens in the database (see the module's docstring)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    @contextmanager
    def hold(self, configured: str) -> Iterator[HeldRefreshToken]:
        """Lock the configured token's row for one refresh; yield the token to use.

        The replacement set on the yielded object is stored when the block ends
        normally; an exception leaves the stored token as it was.
        """
        key = _digest(b"id", configured).hex()
        cipher = Fernet(base64.urlsafe_b64encode(_digest(b"key", configured)))
        with transaction(self.sessions) as session:
            # Create the row if need be, so that there is always a row to lock.
            session.execute(
                insert(session, RefreshTokenRow)
                .values(configured_hash=key)
                .on_conflict_do_nothing(index_elements=["configured_hash"])
            )
            row = session.execute(
                select(RefreshTokenRow)
                .where(RefreshTokenRow.configured_hash == key)
                .with_for_update()
            ).scalar_one()
            stored = cipher.decrypt(row.token.encode()).decode() if row.token else None
            held = HeldRefreshToken(stored or configured)
            yield held
            if held.replacement is not None and held.replacement != held.current:
                row.token = cipher.encrypt(held.replacement.encode()).decode()
                row.rotated_at = utcnow()
