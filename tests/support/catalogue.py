"""What every bad-input catalogue checks: the command's one `error:` line, and that a
refused command wrote nothing (row counts of every table before and after)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from convsync.cli.app import app
from convsync.store.tables import Base

runner = CliRunner()


def invoke(*args: str, stdin: str | bytes | None = None) -> Any:
    return runner.invoke(app, list(args), input=stdin)


def row_counts(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        return {
            t.name: int(session.scalar(select(func.count()).select_from(t)) or 0)
            for t in Base.metadata.sorted_tables
        }


def one_error_line(result: Any) -> str:
    """The single `error: …` line a handled failure prints (and nothing like a traceback)."""
    assert isinstance(result.exception, SystemExit), f"unhandled: {result.exception!r}"
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, result.output
    return errors[0]
