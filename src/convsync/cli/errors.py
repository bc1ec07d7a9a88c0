"""Turns user-facing errors into one line and exit code 1, never a traceback."""

from __future__ import annotations

from typing import Any

import typer
from sqlalchemy.exc import DataError, OperationalError, ProgrammingError
from typer.core import TyperGroup

from convsync.domain.errors import ConvsyncError


class UserError(ConvsyncError):
    """A CLI-level problem (a missing file, a bad flag combination)."""


def fail(message: str) -> typer.Exit:
    """Print one line on stderr; the caller raises the returned `Exit` (code 1)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _database_message(error: Exception) -> str:
    text = str(getattr(error, "orig", error)).strip().splitlines()[0]
    if "no such table" in text or ("does not exist" in text and "relation" in text):
        return "the database has no schema yet: run `convsync db upgrade`"
    return f"cannot use the database at CONVSYNC_DATABASE_URL: {text}"


def _value_message(error: DataError) -> str:
    text = str(getattr(error, "orig", error)).strip().splitlines()[0]
    return f"a value does not fit in the database ({text}): shorten it"


class ConvsyncGroup(TyperGroup):
    """A command group that reports known errors in one line."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ConvsyncError as error:
            raise fail(str(error)) from None
        except (OperationalError, ProgrammingError) as error:
            raise fail(_database_message(error)) from None
        except DataError as error:
            # A value past a column's width (a 100-character first name): the
            # transaction rolled back, so nothing was written.
            raise fail(_value_message(error)) from None


def typer_app(help_text: str) -> typer.Typer:
    return typer.Typer(
        cls=ConvsyncGroup,
        help=help_text,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
