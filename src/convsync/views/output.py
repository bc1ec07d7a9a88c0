"""Listings: a Rich table for people, `--json` for programs."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import Enum
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

console = Console()
JSON_OPTION_HELP = "Print JSON instead of a table."


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return value


def emit_json(data: Any) -> None:
    print(json.dumps(_plain(data), indent=2, sort_keys=False, ensure_ascii=False))


def literal(value: object) -> Text:
    """Data as Rich shows it: its own characters, never read as markup (`[red]Spring`)."""
    return Text("" if value is None else str(_plain(value)))


def markup(template: str, *data: object) -> str:
    """`template` is our markup; each `{}` is filled with data, escaped so it prints as is."""
    return template.format(*(escape(str(_plain(d))) for d in data))


def say(template: str, *data: object) -> None:
    """The one way the CLI prints a message that quotes data (names, labels, emails)."""
    console.print(markup(template, *data), highlight=False, soft_wrap=True)


def emit_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=literal(title), title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(literal(v) for v in row))
    console.print(table)
