"""Long-running processes: worker, beat, Flower, the Salesforce emulator; and `db upgrade`."""

from __future__ import annotations

import ipaddress
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from convsync.cli.errors import MAX_INTEGER, UserError, typer_app
from convsync.cli.extras import require_extra
from convsync.config import DATA_DIR, get_settings
from convsync.views.output import console

db_app = typer_app("The database schema.")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the latest version."""
    from convsync.store.migrate import upgrade
    from convsync.workers.root import adapters

    upgrade(adapters().engine)
    url = adapters().engine.url.render_as_string(hide_password=True)
    console.print(f"database schema is up to date ({url})")


def _celery(argv: list[str]) -> None:
    from convsync.workers.app import app

    app.start(argv)


class Pool(StrEnum):
    """Celery's execution pools a convsync worker runs on."""

    PREFORK = "prefork"
    THREADS = "threads"
    SOLO = "solo"


def worker(
    queues: Annotated[
        str | None, typer.Option("--queues", "-Q", help="Comma-separated queues (default: all).")
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", "-c", min=1, max=1_024)
    ] = None,
    pool: Annotated[Pool, typer.Option(help="The execution pool.")] = Pool.PREFORK,
    loglevel: Annotated[str, typer.Option("--loglevel", "-l")] = "INFO",
    hostname: Annotated[str | None, typer.Option("--hostname", "-n")] = None,
) -> None:
    """Run a Celery worker with the project's settings."""
    from convsync.celeryconfig import QUEUES

    settings = get_settings()
    argv = ["worker", f"--loglevel={loglevel}", f"--pool={pool.value}"]
    argv.append(f"--queues={queues or ','.join(QUEUES.values())}")
    workers = concurrency or settings.worker_concurrency
    if workers:
        argv.append(f"--concurrency={workers}")
    if hostname:
        argv.append(f"--hostname={hostname}")
    _celery(argv)


def beat(
    loglevel: Annotated[str, typer.Option("--loglevel", "-l")] = "INFO",
    schedule: Annotated[
        Path | None,
        typer.Option(
            "--schedule",
            "-s",
            help="Beat's state file (default: .convsync/beat-schedule in the current directory).",
        ),
    ] = None,
) -> None:
    """Run Celery beat (exactly one per deployment; see docs/operations.md)."""
    if schedule is None:
        DATA_DIR.mkdir(exist_ok=True)
        schedule = DATA_DIR / "beat-schedule"
    elif not schedule.parent.is_dir():
        raise UserError(f"--schedule: no such directory: {schedule.parent}")
    _celery(["beat", f"--loglevel={loglevel}", f"--schedule={schedule}", "--pidfile="])


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# What the tasks page shows: tasks take ids only, so their kwargs are readable as they
# are, and the routing key is the queue's name (celeryconfig routes one key per queue).
FLOWER_TASK_COLUMNS = "name,state,kwargs,routing_key,worker,received,runtime,retries,uuid"


def _check_basic_auth(value: str) -> None:
    """Flower splits the value on commas: each piece must be a non-empty user:password.

    The message never repeats the value: it holds a password.
    """
    for entry in value.split(","):
        user, colon, password = entry.partition(":")
        if not (user.strip() and colon and password):
            raise UserError(
                "CONVSYNC_FLOWER_BASIC_AUTH must look like user:password "
                "(several: user1:pass1,user2:pass2; no commas in passwords)"
            )


def flower(
    address: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="0 picks a free port.")] = 5555,
    db: Annotated[
        Path | None,
        typer.Option(help="Flower's state file (default: .convsync/flower.db)."),
    ] = None,
    insecure_local: Annotated[
        bool, typer.Option(help="Allow no auth, on a loopback address only.")
    ] = False,
) -> None:
    """Run Flower against convsync's Celery app; basic auth from CONVSYNC_FLOWER_BASIC_AUTH.

    Flower's /metrics and /healthcheck answer without auth (Prometheus and probes need
    them): bind it to an internal interface only, see docs/operations.md.
    """
    basic_auth = os.environ.get("CONVSYNC_FLOWER_BASIC_AUTH", "")
    if basic_auth:
        _check_basic_auth(basic_auth)
    elif not insecure_local:
        raise UserError(
            "set CONVSYNC_FLOWER_BASIC_AUTH=user:password "
            "(or pass --insecure-local on a loopback address)"
        )
    elif not _is_loopback(address):
        raise UserError(f"--insecure-local only binds to loopback, not {address}")
    if get_settings().is_embedded:
        raise UserError(
            "Flower needs a Redis or RabbitMQ broker: set CONVSYNC_BROKER_URL "
            "(the embedded transport carries no worker events)"
        )
    if db is None:
        DATA_DIR.mkdir(exist_ok=True)
        db = DATA_DIR / "flower.db"
    elif not db.parent.is_dir():
        raise UserError(f"--db: no such directory: {db.parent}")
    argv = [
        "flower",
        f"--address={address}",
        f"--port={port}",
        # Task history survives a restart: saved every minute and on shutdown.
        "--persistent=True",
        f"--db={db}",
        "--state_save_interval=60000",
        f"--tasks_columns={FLOWER_TASK_COLUMNS}",
    ]
    # Flower reads FLOWER_BASIC_AUTH itself, so the password never shows in `ps`; an
    # inherited value must not switch auth on (or off) behind the check above.
    os.environ.pop("FLOWER_BASIC_AUTH", None)
    if basic_auth:
        os.environ["FLOWER_BASIC_AUTH"] = basic_auth
    _celery(argv)


def emulator(
    host: Annotated[
        str, typer.Option(help="Interface to bind (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="0 picks a free port.")] = 8443,
    latency_ms: Annotated[int, typer.Option(min=0, max=600_000)] = 0,
    fault_rate: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.0,
    api_limit: Annotated[int, typer.Option(min=1, max=MAX_INTEGER)] = 1_000_000,
    unknown_status: Annotated[
        str, typer.Option(help="reject (default) or default: what a bad member Status does.")
    ] = "reject",
    credentials: Annotated[
        Path | None, typer.Option(help="JSON file restricting accepted logins.")
    ] = None,
    info_file: Annotated[Path, typer.Option()] = DATA_DIR / "emulator.json",
    jwt_certificate: Annotated[
        Path | None,
        typer.Option(help="PEM certificate that JWT bearer assertions must be signed for."),
    ] = None,
) -> None:
    """Run the local Salesforce REST API emulator (tests, demo, benchmarks).

    Exit codes: 0 stopped (Ctrl-C, SIGTERM); 1 a bad option or credentials file, or the
    port is taken (nothing written); 2 a usage error; 3 the server failed to start
    (uvicorn's code); 130 interrupted while starting.
    """
    require_extra("emulator", "convsync emulator")
    from convsync.salesforce_emulator.server import EmulatorSetupError, run

    if unknown_status not in ("reject", "default"):
        raise UserError("--unknown-status must be reject or default")
    if credentials is not None and not credentials.is_file():
        raise UserError(f"no such file: {credentials}")
    if jwt_certificate is not None:
        from convsync.salesforce_emulator.auth import load_certificate

        try:
            load_certificate(jwt_certificate)
        except OSError:
            raise UserError(f"cannot read {jwt_certificate}") from None
        except ValueError:
            raise UserError(f"{jwt_certificate} is not a PEM certificate") from None
    try:
        run(
            host=host,
            port=port,
            latency_ms=latency_ms,
            fault_rate=fault_rate,
            api_limit=api_limit,
            unknown_status=unknown_status,
            credentials_file=str(credentials) if credentials else None,
            info_file=str(info_file),
            jwt_certificate_file=str(jwt_certificate) if jwt_certificate else None,
        )
    except EmulatorSetupError as error:
        raise UserError(str(error)) from None
