"""The shared refresh token: the newest one wins, in every process, on both databases."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from convsync.store.db import make_engine, make_session_factory
from convsync.store.refresh_tokens import SharedRefreshTokens
from convsync.store.tables import Base

CONFIGURED = "5Aep-configured-token"


@pytest.fixture(params=["postgresql", "sqlite"])
def tokens(request: pytest.FixtureRequest, tmp_path: Path) -> SharedRefreshTokens:
    if request.param == "postgresql":
        sessions: sessionmaker[Session] = request.getfixturevalue("sessions")
        return SharedRefreshTokens(sessions)
    engine = make_engine(f"sqlite:///{tmp_path / 'convsync.sqlite'}")
    Base.metadata.create_all(engine)
    return SharedRefreshTokens(make_session_factory(engine))


def test_the_configured_token_is_used_until_one_is_stored(tokens: SharedRefreshTokens) -> None:
    with tokens.hold(CONFIGURED) as held:
        assert held.current == CONFIGURED


def test_a_replacement_is_what_the_next_holder_gets(tokens: SharedRefreshTokens) -> None:
    with tokens.hold(CONFIGURED) as held:
        held.replace("5Aep-second")
    with tokens.hold(CONFIGURED) as held:
        assert held.current == "5Aep-second"
        held.replace("5Aep-third")
    with tokens.hold(CONFIGURED) as held:
        assert held.current == "5Aep-third"


def test_a_failed_refresh_keeps_the_stored_token(tokens: SharedRefreshTokens) -> None:
    with tokens.hold(CONFIGURED) as held:
        held.replace("5Aep-second")

    def refresh_that_fails() -> None:
        with tokens.hold(CONFIGURED) as held:
            held.replace("5Aep-lost")
            raise RuntimeError("the token request failed")

    with pytest.raises(RuntimeError):
        refresh_that_fails()
    with tokens.hold(CONFIGURED) as held:
        assert held.current == "5Aep-second"


def test_another_configured_token_starts_afresh(tokens: SharedRefreshTokens) -> None:
    with tokens.hold(CONFIGURED) as held:
        held.replace("5Aep-second")
    with tokens.hold("5Aep-newly-authorised") as held:
        assert held.current == "5Aep-newly-authorised"


def test_a_second_holder_waits_for_the_first_and_sees_its_replacement(
    tokens: SharedRefreshTokens,
) -> None:
    seen: list[str] = []
    first_holds = threading.Event()

    def second() -> None:
        first_holds.wait()
        with tokens.hold(CONFIGURED) as held:
            seen.append(held.current)

    waiter = threading.Thread(target=second)
    waiter.start()
    with tokens.hold(CONFIGURED) as held:
        first_holds.set()
        # Give an unserialised second holder the time to read too early; with the lock
        # it waits, however long this lasts.
        time.sleep(0.3)
        held.replace("5Aep-second")
    waiter.join(timeout=30)
    assert seen == ["5Aep-second"]
