"""The `name_key` column of campaign_types and campaigns: what names are matched by."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import MappedColumn, mapped_column

from convsync.domain.names import name_key

# casefold() can lengthen a name (ß -> ss): room for an 80-character name's key.
NAME_KEY_LENGTH = 240


def _from_name(context: DefaultExecutionContext) -> str:
    """Filled from the row's own `name` on every insert (ORM or Core); a rename sets both."""
    # SQLAlchemy leaves get_current_parameters unannotated.
    parameters = context.get_current_parameters()  # type: ignore[no-untyped-call]
    return name_key(str(parameters["name"]))


def name_key_column() -> MappedColumn[str]:
    """domain.names.name_key of the row's name, unique: "spring" finds "Spring"."""
    return mapped_column(String(NAME_KEY_LENGTH), unique=True, default=_from_name)
