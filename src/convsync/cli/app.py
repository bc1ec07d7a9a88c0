"""The `convsync` command."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from pydantic import SecretStr

from convsync.cli import (
    admin_commands,
    bench,
    catalog_commands,
    explain_command,
    service_commands,
    status_commands,
    sync_commands,
)
from convsync.cli.errors import fail, seconds, typer_app
from convsync.cli.extras import require_extra
from convsync.domain.errors import ConvsyncError

app = typer_app("Keep Conversion campaigns and Salesforce campaigns in sync.")


class _Stderr:
    """Whatever `sys.stderr` is when a line is written (a test runner swaps it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


@app.callback()
def _logs_to_stderr() -> None:
    """Log lines (a re-login, a retry) go to stderr, so stdout carries only data and
    `convsync … --json | jq` always works. Settings that cannot be read yet leave the
    level at WARNING: the command itself then reports them in one line."""
    from convsync.config import get_settings
    from convsync.logs import configure_logging

    try:
        settings = get_settings()
    except ConvsyncError:
        configure_logging("WARNING", stream=_Stderr())
        return
    secrets = [v.get_secret_value() for v in dict(settings).values() if isinstance(v, SecretStr)]
    configure_logging(settings.log_level, settings.log_format, secrets, stream=_Stderr())


app.add_typer(service_commands.db_app, name="db")
app.add_typer(catalog_commands.types_app, name="types")
app.add_typer(catalog_commands.campaigns_app, name="campaigns")
app.add_typer(catalog_commands.members_app, name="members")
app.command()(service_commands.worker)
app.command()(service_commands.beat)
app.command()(service_commands.flower)
app.command()(service_commands.emulator)
app.command("check-statuses")(sync_commands.check_statuses)
app.command()(sync_commands.link)
app.command()(sync_commands.unlink)
app.command()(sync_commands.sync)
app.command()(sync_commands.status)
app.add_typer(sync_commands.dlq_app, name="dlq")
app.add_typer(status_commands.mapping_app, name="mapping")
app.command("link-policy")(status_commands.link_policy)
app.command()(explain_command.explain)
app.command("bench")(bench.bench)
catalog_commands.campaigns_app.command("create")(sync_commands.create_campaign)
catalog_commands.types_app.command("rename")(admin_commands.types_rename)
catalog_commands.types_app.command("add-status")(admin_commands.types_add_status)
catalog_commands.types_app.command("remove-status")(admin_commands.types_remove_status)
catalog_commands.campaigns_app.command("rename")(admin_commands.campaigns_rename)
catalog_commands.campaigns_app.command("delete")(admin_commands.campaigns_delete)


@app.command()
def demo(
    members: Annotated[
        int,
        typer.Option(min=50, max=200_000, help="Salesforce members of the big campaign."),
    ] = 3_000,
    timeout: Annotated[
        float,
        typer.Option(min=10, callback=seconds, help="Give up on a phase after this many seconds."),
    ] = 120.0,
) -> None:
    """Run a real end-to-end sync on the embedded default (or on CONVSYNC_* services)."""
    require_extra("emulator", "convsync demo")
    from convsync.demo.runner import run_demo

    run_demo(members, timeout)


def main() -> None:
    try:
        app()
    except ConvsyncError as error:
        # Raised before a command ran (e.g. invalid settings while building the app).
        fail(str(error))
        sys.exit(1)
