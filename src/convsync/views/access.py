"""How a refusal for missing Salesforce permissions is shown: one line per permission,
on stderr, before the error line (data stays on stdout)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import typer

from convsync.domain.errors import MissingAccessError


def print_missing_access(missing: Sequence[str]) -> None:
    """One line per permission the Salesforce user lacks, on stderr (data stays on stdout)."""
    for line in missing:
        typer.echo(f"missing: {line}", err=True)


@contextmanager
def listing_missing_access() -> Iterator[None]:
    """A refusal for missing permissions lists them, one line each, before its error line."""
    try:
        yield
    except MissingAccessError as refused:
        print_missing_access(refused.missing)
        raise
