"""The store's constraints hold on PostgreSQL, whatever the code above does."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from convsync.domain.model import build_campaign_type
from convsync.store import catalog
from convsync.store.catalog import PersonInput
from convsync.store.tables import LinkRow, MemberRow

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _campaign(session: Session, name: str = "Spring") -> tuple[int, int]:
    type_id = catalog.add_type(session, build_campaign_type(f"T-{name}", ["Sent", "Opened"]))
    return catalog.add_campaign(session, name, type_id), type_id


def _person(session: Session, email: str = "a@example.com") -> int:
    return catalog.upsert_people(session, [PersonInput(email)])[email]


def test_a_member_status_must_belong_to_the_campaign_type(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        campaign_id, type_id = _campaign(session)
        session.add(
            MemberRow(
                campaign_id=campaign_id,
                type_id=type_id,
                person_id=_person(session),
                status="Clicked",
                updated_at=NOW,
            )
        )
        with pytest.raises(IntegrityError, match="fk_member_status_in_type"):
            session.flush()


def test_a_member_cannot_claim_another_type(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        campaign_id, _ = _campaign(session, "A")
        _, other_type = _campaign(session, "B")
        session.add(
            MemberRow(
                campaign_id=campaign_id,
                type_id=other_type,
                person_id=_person(session),
                status="Sent",
                updated_at=NOW,
            )
        )
        with pytest.raises(IntegrityError, match="fk_member_campaign_type"):
            session.flush()


def test_a_person_is_in_a_campaign_once(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        campaign_id, type_id = _campaign(session)
        person = _person(session)
        for _ in range(2):
            session.add(
                MemberRow(
                    campaign_id=campaign_id,
                    type_id=type_id,
                    person_id=person,
                    status="Sent",
                    updated_at=NOW,
                )
            )
        with pytest.raises(IntegrityError, match="uq_member_campaign_person"):
            session.flush()


def test_emails_are_stored_lower_case(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, pytest.raises(IntegrityError, match="email_lowercase"):
        catalog.upsert_people(session, [PersonInput("Mixed@Example.com")])


def test_a_removed_member_has_no_status(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        campaign_id, type_id = _campaign(session)
        session.add(
            MemberRow(
                campaign_id=campaign_id,
                type_id=type_id,
                person_id=_person(session),
                status="Sent",
                updated_at=NOW,
                removed_at=NOW,
            )
        )
        with pytest.raises(IntegrityError, match="removed_has_no_status"):
            session.flush()


def test_a_campaign_has_one_active_link(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        campaign_id, _ = _campaign(session)
        session.add_all(
            [
                LinkRow(
                    campaign_id=campaign_id,
                    salesforce_campaign_id="701000000000001AAA",
                    mode="existing",
                ),
                LinkRow(
                    campaign_id=campaign_id,
                    salesforce_campaign_id="701000000000002AAA",
                    mode="existing",
                ),
            ]
        )
        with pytest.raises(IntegrityError, match="uq_link_active_campaign"):
            session.flush()


def test_a_salesforce_campaign_has_one_active_link(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        first, _ = _campaign(session, "A")
        second, _ = _campaign(session, "B")
        session.add_all(
            [
                LinkRow(campaign_id=first, salesforce_campaign_id="701000000000001AAA", mode="new"),
                LinkRow(
                    campaign_id=second, salesforce_campaign_id="701000000000001AAA", mode="new"
                ),
            ]
        )
        with pytest.raises(IntegrityError, match="uq_link_active_salesforce_campaign"):
            session.flush()


def test_upserting_members_twice_changes_nothing_the_second_time(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        campaign_id, type_id = _campaign(session)
        person = _person(session)
        args = {
            "campaign_id": campaign_id,
            "type_id": type_id,
            "statuses": [(person, "Opened")],
            "updated_at": NOW,
        }
        assert catalog.upsert_members(session, **args) == 1
        assert catalog.upsert_members(session, **args) == 0
