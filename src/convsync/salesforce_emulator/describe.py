"""describe / describeGlobal bodies built from the schema, enough for real clients."""

from __future__ import annotations

from typing import Any

from .permissions import Permissions
from .schema import OBJECTS, Field, SObject

_EVERYTHING = Permissions()


def _urls(so: SObject, version: str) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{so.name}"
    return {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}


def _field(so: SObject, f: Field, permissions: Permissions) -> dict[str, Any]:
    return {
        "name": f.name,
        "label": f.label or f.name,
        "type": f.type,
        "length": f.length,
        "createable": permissions.createable(so, f),
        "updateable": permissions.updateable(so, f),
        "nillable": f.nillable,
        "defaultedOnCreate": f.type == "boolean" or f.name in ("Id", "CreatedDate"),
        "custom": f.name.endswith("__c"),
        "unique": False,
        "filterable": True,
        "sortable": f.type != "textarea",
        "groupable": f.type not in ("textarea", "datetime"),
        "picklistValues": [
            {"active": True, "defaultValue": False, "label": v, "value": v, "validFor": None}
            for v in f.picklist
        ],
        "restrictedPicklist": f.name == "Status" and not f.picklist,
        "referenceTo": [f.reference_to] if f.reference_to else [],
        "relationshipName": f.relationship_name,
        "idLookup": f.name == "Id" or f.type == "email",
        "soapType": {
            "id": "tns:ID",
            "reference": "tns:ID",
            "boolean": "xsd:boolean",
            "datetime": "xsd:dateTime",
            "date": "xsd:date",
            "int": "xsd:int",
        }.get(f.type, "xsd:string"),
    }


def summary(so: SObject, version: str, permissions: Permissions = _EVERYTHING) -> dict[str, Any]:
    """The object entry of describeGlobal and of `GET sobjects/X`, for the user."""
    allowed = permissions.of(so.name)
    return {
        "name": so.name,
        "label": so.name,
        "labelPlural": so.name + "s",
        "keyPrefix": so.key_prefix,
        "custom": False,
        "createable": allowed.create,
        "updateable": allowed.edit,
        "deletable": allowed.delete,
        "queryable": allowed.read,
        "replicateable": True,
        "retrieveable": True,
        "searchable": True,
        "urls": _urls(so, version),
    }


def describe(so: SObject, version: str, permissions: Permissions = _EVERYTHING) -> dict[str, Any]:
    """`GET sobjects/X/describe`: only the fields the user can see."""
    return {
        **summary(so, version, permissions),
        "fields": [_field(so, f, permissions) for f in permissions.visible_fields(so)],
        "childRelationships": [],
        "recordTypeInfos": [],
    }


def describe_global(version: str, permissions: Permissions = _EVERYTHING) -> dict[str, Any]:
    """`GET sobjects`: the objects the user can read."""
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [
            summary(so, version, permissions)
            for so in OBJECTS.values()
            if permissions.readable(so.name)
        ],
    }
