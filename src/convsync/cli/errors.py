"""Turns user-facing errors into one line and exit code 1, never a traceback."""

from __future__ import annotations

import math
from typing import Any

import typer
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.exc import DatabaseError, DataError, IntegrityError, InterfaceError
from typer.core import TyperGroup

from convsync.domain.errors import ConvsyncError

# The shell's convention for a command ended by Ctrl-C (128 + SIGINT).
INTERRUPTED = 130
# The largest integer every database column of ours holds (PostgreSQL BIGINT).
MAX_INTEGER = 2**63 - 1


class UserError(ConvsyncError):
    """A CLI-level problem (a missing file, a bad flag combination)."""


def fail(message: str) -> typer.Exit:
    """Print one line on stderr; the caller raises the returned `Exit` (code 1)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def interrupted() -> typer.Exit:
    """Ctrl-C: one line, and the shell's exit code for it."""
    typer.echo("error: interrupted", err=True)
    return typer.Exit(INTERRUPTED)


def _first_line(error: BaseException) -> str:
    lines = str(getattr(error, "orig", error)).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _database_message(error: Exception) -> str:
    text = _first_line(error)
    if "no such table" in text or ("does not exist" in text and "relation" in text):
        return "the database has no schema yet: run `convsync db upgrade`"
    if "file is not a database" in text:
        return (
            "CONVSYNC_DATABASE_URL names a file that is not a SQLite database: point it elsewhere"
        )
    return f"cannot use the database at CONVSYNC_DATABASE_URL: {text}"


def _broker_message(error: BrokerError) -> str:
    return (
        f"cannot reach the broker at CONVSYNC_BROKER_URL ({_first_line(error)}): "
        "start it or fix the URL, then run the command again"
    )


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
        except DataError as error:
            # A value past a column's width (a 100-character first name): the
            # transaction rolled back, so nothing was written.
            raise fail(_value_message(error)) from None
        except IntegrityError as error:
            raise fail(f"the database refused a write ({_first_line(error)})") from None
        except (DatabaseError, InterfaceError) as error:
            raise fail(_database_message(error)) from None
        except BrokerError as error:
            raise fail(_broker_message(error)) from None
        except KeyboardInterrupt:
            raise interrupted() from None


def seconds(value: float | None) -> float | None:
    """A duration option: a finite number of seconds above zero (`nan`, `inf` and
    negative numbers would make a wait that never ends, or one that cannot start)."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise typer.BadParameter(f"must be a number of seconds above 0, not {value}")
    return value


def typer_app(help_text: str) -> typer.Typer:
    return typer.Typer(
        cls=ConvsyncGroup,
        help=help_text,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
