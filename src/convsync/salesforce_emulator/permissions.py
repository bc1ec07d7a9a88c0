"""What the integration user may do: object permissions and field-level security.

Set through `POST /__emulator/permissions` (see the README); everything is allowed by
default. It is enforced where Salesforce enforces it for an API user: an object without
Read is not there at all (absent from describeGlobal, 404 on its resources,
`INVALID_TYPE` in SOQL and DML); a hidden field is absent from describe and record
bodies and is `INVALID_FIELD` in SOQL and writes; a read-only field shows as neither
createable nor updateable and refuses writes with `INVALID_FIELD_FOR_INSERT_UPDATE`;
a missing Create/Edit/Delete shows in describe and refuses that DML per record.
Seeding and other admin endpoints are not the integration user and are never refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import ApiError
from .schema import OBJECTS, Field, SObject, sobject

Access = Literal["none", "read", "edit"]
ACCESS_LEVELS: tuple[Access, ...] = ("none", "read", "edit")
Action = Literal["create", "edit", "delete"]
_FLAGS = ("read", "create", "edit", "delete")


@dataclass(frozen=True)
class ObjectPermissions:
    """One object's permissions for the user, and its fields' access (default: edit)."""

    read: bool = True
    create: bool = True
    edit: bool = True
    delete: bool = True
    fields: Mapping[str, Access] = field(default_factory=dict)

    def access(self, field_name: str) -> Access:
        return self.fields.get(field_name, "edit")

    def to_json(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "create": self.create,
            "edit": self.edit,
            "delete": self.delete,
            "fields": dict(self.fields),
        }


FULL_ACCESS = ObjectPermissions()


def _object_permissions(so: SObject, spec: Any) -> ObjectPermissions:
    if not isinstance(spec, dict):
        raise TypeError(f"{so.name}: expected an object of permissions")
    unknown = set(spec) - {*_FLAGS, "fields"}
    if unknown:
        raise ValueError(f"{so.name}: unknown keys {sorted(unknown)}")
    flags = {name: spec.get(name, True) for name in _FLAGS}
    if not all(isinstance(v, bool) for v in flags.values()):
        raise ValueError(f"{so.name}: read, create, edit and delete are true or false")
    fields: dict[str, Access] = {}
    for name, access in (spec.get("fields") or {}).items():
        found = so.field(name)
        if found is None:
            raise ValueError(f"{so.name} has no field {name!r}")
        if access not in ACCESS_LEVELS:
            raise ValueError(f"{so.name}.{found.name}: access is one of {ACCESS_LEVELS}")
        if access != "edit" and (found.name == "Id" or found.required):
            # Salesforce offers no field-level security on Id and required fields.
            raise ValueError(f"{so.name}.{found.name} is always visible and editable")
        fields[found.name] = access
    return ObjectPermissions(**flags, fields=fields)


@dataclass
class Permissions:
    """The integration user's permissions, by object; objects not named have full access."""

    objects: dict[str, ObjectPermissions] = field(default_factory=dict)

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> Permissions:
        """`{"Lead": {"create": false, "fields": {"Email": "none"}}, ...}`.

        Raises ValueError or TypeError naming what is wrong.
        """
        objects: dict[str, ObjectPermissions] = {}
        for name, spec in body.items():
            so = sobject(name)
            if so is None:
                raise ValueError(f"no such object {name!r}")
            objects[so.name] = _object_permissions(so, spec)
        return cls(objects)

    def to_json(self) -> dict[str, Any]:
        return {name: self.of(name).to_json() for name in OBJECTS}

    def of(self, object_name: str) -> ObjectPermissions:
        return self.objects.get(object_name, FULL_ACCESS)

    def readable(self, object_name: str) -> bool:
        return self.of(object_name).read

    def visible(self, object_name: str, field_name: str) -> bool:
        return self.readable(object_name) and self.of(object_name).access(field_name) != "none"

    def visible_fields(self, so: SObject) -> list[Field]:
        return [f for f in so.fields if self.visible(so.name, f.name)]

    def createable(self, so: SObject, f: Field) -> bool:
        allowed = self.of(so.name)
        return f.createable and allowed.create and allowed.access(f.name) == "edit"

    def updateable(self, so: SObject, f: Field) -> bool:
        allowed = self.of(so.name)
        return f.updateable and allowed.edit and allowed.access(f.name) == "edit"

    def check(self, so: SObject, action: Action, names: Iterable[str] = ()) -> None:
        """Refuse one DML row the way Salesforce does for this user (or return)."""
        allowed = self.of(so.name)
        if not allowed.read:
            raise ApiError("INVALID_TYPE", f"sObject type '{so.name}' is not supported.", fields=[])
        if not getattr(allowed, action):
            raise ApiError(
                "INSUFFICIENT_ACCESS_OR_READONLY",
                "insufficient access rights on object id",
                fields=[],
            )
        for name in names:
            found = so.field(name)
            if found is None or name in ("attributes", "Id", "id"):
                continue  # the store reports unknown fields itself
            access = allowed.access(found.name)
            if access == "none":
                raise ApiError(
                    "INVALID_FIELD",
                    f"No such column '{name}' on sobject of type {so.name}",
                    fields=[],
                )
            schema_allows = found.createable if action == "create" else found.updateable
            if access == "read" and schema_allows:
                raise ApiError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {found.name}. Please check the security "
                    "settings of this field and verify that it is read/write for your profile "
                    "or permission set.",
                    fields=[found.name],
                )
