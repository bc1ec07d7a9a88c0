"""Reading the deploy recipes the way their runtimes do, and checking them against the code."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer

from convsync.celeryconfig import QUEUES
from convsync.cli.app import app

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ALL_QUEUES = set(QUEUES.values())

# Names whose values are secrets wherever they appear (env files, manifests, units).
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|TOKEN|SESSION_ID|BASIC_AUTH|DATABASE_URL)", re.I)
# A URL carrying a password: scheme://user:password@host
URL_WITH_PASSWORD = re.compile(r"[a-z+]+://[^/\s:@]+:[^/\s@]+@", re.I)


def parse_cli(args: Sequence[str]) -> list[str]:
    """Parse `convsync ARGS` exactly as the CLI would, without running anything.

    Returns the command path (e.g. ["db", "upgrade"]); a misspelt command or option
    raises a usage error, so a recipe cannot drift from the CLI unnoticed.
    """
    command: Any = typer.main.get_command(app)
    ctx = command.make_context("convsync", list(args))
    path: list[str] = []
    while hasattr(command, "resolve_command"):  # a command group (typer vendors click)
        name, sub, rest = command.resolve_command(ctx, [*ctx._protected_args, *ctx.args])
        path.append(name)
        ctx = sub.make_context(name, rest, parent=ctx)
        command = sub
    return path


def convsync_args(command_line: str) -> list[str]:
    """The arguments of the `convsync ...` command in a shell line (after any `exec`)."""
    words = shlex.split(command_line.rsplit(";", maxsplit=1)[-1])
    start = next(i for i, w in enumerate(words) if w == "convsync" or w.endswith("/convsync"))
    return words[start + 1 :]


def option(args: Sequence[str], name: str) -> str | None:
    """The value of `--name=value` or `--name value` in args."""
    for i, arg in enumerate(args):
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
        if arg == name and i + 1 < len(args):
            return args[i + 1]
    return None


def env_file(path: Path) -> dict[str, str]:
    """KEY=value lines, as systemd, compose, honcho and kubectl all read them."""
    values = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values
