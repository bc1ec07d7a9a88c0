"""What the Salesforce integration user must be allowed to do, and what it lacks.

A sync whose user cannot, say, read `Lead.Email` or edit `CampaignMember` fails member
by member, run after run. Checking describe's answers against the sync's needs before a
link writes anything turns that into one line per missing permission, naming what to
grant. Sharing (records the user cannot see) does not show in describe; the README says
what to grant for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Ability(StrEnum):
    READ = "read"
    CREATE = "create"
    EDIT = "edit"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class Need:
    """One thing the sync does: an ability on an object, or on one of its fields."""

    object_name: str
    ability: Ability
    purpose: str  # why, in the user's words: "to find people by email"
    field: str | None = None


@dataclass(frozen=True, slots=True)
class ObjectAccess:
    """What describe says the user may do with one object; the defaults: nothing.

    An object the user cannot read is absent from describe: it is `ObjectAccess(name)`.
    """

    object_name: str
    readable: bool = False
    createable: bool = False
    updateable: bool = False
    deletable: bool = False
    readable_fields: frozenset[str] = field(default_factory=frozenset)
    createable_fields: frozenset[str] = field(default_factory=frozenset)
    updateable_fields: frozenset[str] = field(default_factory=frozenset)

    def allows(self, need: Need) -> bool:
        if need.field is None:
            return {
                Ability.READ: self.readable,
                Ability.CREATE: self.createable,
                Ability.EDIT: self.updateable,
                Ability.DELETE: self.deletable,
            }[need.ability]
        fields = {
            Ability.READ: self.readable_fields,
            Ability.CREATE: self.createable_fields,
            Ability.EDIT: self.updateable_fields,
        }.get(need.ability, frozenset())
        return need.field in fields


Gap = tuple[str, Ability, str | None]  # (object, ability, field or None for the object)


def _gap(need: Need, access: ObjectAccess) -> Gap | None:
    """The root cause that refuses `need`, or None when describe grants it.

    An object the user cannot read stands for everything on it; a missing object
    permission for its fields; a field the user cannot read for writing it.
    """
    if not access.readable:
        return need.object_name, Ability.READ, None
    if not access.allows(Need(need.object_name, need.ability, need.purpose)):
        return need.object_name, need.ability, None
    if need.field is None:
        return None
    if need.field not in access.readable_fields:
        return need.object_name, Ability.READ, need.field
    if not access.allows(need):
        return need.object_name, need.ability, need.field
    return None


def _line(gap: Gap, purposes: list[str]) -> str:
    object_name, ability, field_name = gap
    if field_name is None:
        what = f"{ability.value} {object_name} records"
    elif ability is Ability.CREATE:
        what = f"set the field {object_name}.{field_name} on new records"
    else:
        what = f"{ability.value} the field {object_name}.{field_name}"
    return f"the Salesforce user cannot {what} (needed {', '.join(purposes)})"


def missing_access(needs: Iterable[Need], granted: Mapping[str, ObjectAccess]) -> tuple[str, ...]:
    """One line per missing permission, in the order of `needs`, with every reason.

    Root causes stand for their details (see `_gap`): an object the user cannot read is
    one line, not one per field.
    """
    gaps: dict[Gap, list[str]] = {}
    for need in needs:
        gap = _gap(need, granted.get(need.object_name, ObjectAccess(need.object_name)))
        if gap is not None:
            purposes = gaps.setdefault(gap, [])
            if need.purpose not in purposes:
                purposes.append(need.purpose)
    return tuple(_line(gap, purposes) for gap, purposes in gaps.items())
