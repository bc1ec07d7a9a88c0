"""People: who a member is, by email and by the Salesforce Lead or Contact behind them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.orm import Session

from convsync.store.batches import batches
from convsync.store.tables import PersonRow


def people_by_salesforce_id(session: Session, ids: Iterable[str]) -> dict[str, int]:
    wanted = sorted(set(ids))
    found: dict[str, int] = {}
    for batch in batches(wanted):
        for pid, lead, contact in session.execute(
            select(
                PersonRow.id, PersonRow.salesforce_lead_id, PersonRow.salesforce_contact_id
            ).where(
                or_(
                    PersonRow.salesforce_lead_id.in_(batch),
                    PersonRow.salesforce_contact_id.in_(batch),
                )
            )
        ):
            for sf_id in (lead, contact):
                if sf_id in batch:
                    found.setdefault(sf_id, pid)
    return found


def people_by_email(session: Session, emails: Iterable[str]) -> dict[str, int]:
    wanted = sorted(set(emails))
    found: dict[str, int] = {}
    for batch in batches(wanted):
        found.update(
            {
                e: pid
                for pid, e in session.execute(
                    select(PersonRow.id, PersonRow.email).where(PersonRow.email.in_(batch))
                )
            }
        )
    return found


def remember_salesforce_people(session: Session, links: Iterable[tuple[int, str, str]]) -> None:
    """(person id, 'Lead'|'Contact', Salesforce id): fill in ids the person lacks.

    One executemany per kind (a statement compiled once, rows pipelined), in person id
    order: 2,000 people cost ~15 ms instead of ~200 ms for one UPDATE each.
    """
    people = cast(Table, PersonRow.__table__)
    by_kind: dict[str, list[dict[str, Any]]] = {"Contact": [], "Lead": []}
    for person_id, kind, sf_id in sorted(links):
        by_kind["Contact" if kind == "Contact" else "Lead"].append(
            {"p_id": person_id, "p_sf": sf_id}
        )
    for kind, rows in by_kind.items():
        if not rows:
            continue
        column = (
            people.c.salesforce_contact_id if kind == "Contact" else people.c.salesforce_lead_id
        )
        session.execute(
            update(people)
            .where(people.c.id == bindparam("p_id"), column.is_(None))
            .values({column: bindparam("p_sf")}),
            rows,
        )


def repoint_salesforce_people(session: Session, moves: Iterable[tuple[int, str, str, str]]) -> None:
    """(person id, stale Salesforce id, 'Lead'|'Contact', new id): the person's Lead or
    Contact was converted, merged or deleted; forget the stale id, keep the new one.

    Rare (only writes Salesforce refused for the person), so three executemany calls.
    """
    rows = sorted(moves)
    if not rows:
        return
    people = cast(Table, PersonRow.__table__)
    stale = [{"p_id": p, "p_stale": old} for p, old, _, _ in rows]
    for column in (people.c.salesforce_lead_id, people.c.salesforce_contact_id):
        session.execute(
            update(people)
            .where(people.c.id == bindparam("p_id"), column == bindparam("p_stale"))
            .values({column: None}),
            stale,
        )
    for kind in ("Lead", "Contact"):
        column = (
            people.c.salesforce_contact_id if kind == "Contact" else people.c.salesforce_lead_id
        )
        fresh = [{"p_id": p, "p_sf": new} for p, _, k, new in rows if k == kind]
        if fresh:
            session.execute(
                update(people)
                .where(people.c.id == bindparam("p_id"))
                .values({column: bindparam("p_sf")}),
                fresh,
            )
