"""`convsync demo`: the product, end to end, on one machine, in about a minute.

It starts the Salesforce emulator, a real worker and beat as separate processes, seeds
both sides with a believable story (see `convsync.demo.scenario`), links the campaigns through
the same use cases the CLI calls, shows the initial syncs live, reports what they did
(and checks it against the story), then edits a member through `convsync.api` (in
Salesforce seconds later, without beat) and one in Salesforce, which beat's next tick
carries across. Every process it starts is stopped when it ends,
also on Ctrl-C.

On the embedded default it runs in a fresh `.convsync/demo/` (SQLite database, kombu's
SQLAlchemy transport). With CONVSYNC_DATABASE_URL / _BROKER_URL / _RESULT_BACKEND set
it runs on those services instead; the database must then be empty, because the
emulator's ids start over on every run and would clash with an earlier demo's.

This module is the entry point only: processes and environment are in `services`, the
story's steps and checks in `story`, the Salesforce user's edits in `salesforce_user`.
"""

from __future__ import annotations

import contextlib
import signal
import time

from convsync.demo.errors import DemoError
from convsync.demo.salesforce_user import SalesforceUser
from convsync.demo.scenario import Sizes
from convsync.demo.services import (
    DEMO_DIR,
    SYNC_INTERVAL_SECONDS,
    Login,
    embedded_services,
    migrate_empty_database,
    prepare_directory,
    raise_stop,
    start_emulator,
    stopping,
    use_environment,
    wait_for,
    where,
)
from convsync.demo.story import (
    DemoFailedError,
    Story,
    cadence,
    edit_through_the_api,
    explain,
    initial_sync,
    set_the_scene,
    show_metrics,
    step,
)
from convsync.harness.processes import ProcessGroup
from convsync.views.output import console

WORKER_CONCURRENCY = 2


def run_demo(members: int = 3_000, timeout: float = 120.0) -> None:
    """Run the whole story; exit 0 when the sync did what it says, 1 when not, 130 on Ctrl-C."""
    import typer

    started = time.monotonic()
    previous_term = signal.signal(signal.SIGTERM, raise_stop)
    try:
        _run(members, timeout, started)
    except KeyboardInterrupt:
        console.print("\n[yellow]interrupted[/]: every process the demo started is stopped")
        raise typer.Exit(130) from None
    except DemoFailedError as failure:
        raise DemoError(f"the demo's sync went wrong: {failure}") from None
    finally:
        signal.signal(signal.SIGTERM, previous_term)


def _run(members: int, timeout: float, started: float) -> None:
    from convsync.logs import configure_logging
    from convsync.tasks.dispatch import sync_context

    if not console.is_terminal:
        console.width = 140  # a log or a pipe: room for the tables
    root = DEMO_DIR.resolve()
    prepare_directory(root)
    services = embedded_services(root)
    console.rule(f"convsync demo ({where(services)})")
    login = Login.fresh()
    base = {
        **services,
        "CONVSYNC_SYNC_INTERVAL_SECONDS": str(SYNC_INTERVAL_SECONDS),
        "CONVSYNC_LOG_FORMAT": "json",
        "CONVSYNC_METRICS_PORT": "0",  # the worker serves /metrics on a free port
    }
    use_environment(base)
    logs = root / "logs"
    with contextlib.ExitStack() as stack:
        emulator_group = stack.enter_context(stopping(ProcessGroup({}, logs)))
        emulator = start_emulator(emulator_group, root, login)
        step(f"Salesforce emulator at {emulator.url} (accepts only this run's credentials)")
        use_environment(login.environment(emulator))
        configure_logging("WARNING", "console", [login.password, login.client_secret])
        migrate_empty_database()
        group = stack.enter_context(stopping(ProcessGroup({}, logs)))
        group.start("worker", "worker", f"--concurrency={WORKER_CONCURRENCY}", "--hostname=demo@%h")
        group.start("beat", "beat", f"--schedule={root / 'beat-schedule'}")
        wait_for(group, "worker", "ready.", logs / "worker.log")
        wait_for(group, "beat", "beat: Starting", logs / "beat.log")
        step(
            f"worker ({WORKER_CONCURRENCY} processes) and beat started (logs: {DEMO_DIR / 'logs'}/)"
        )
        ctx = sync_context()
        story = Story(Sizes.for_members(members), SalesforceUser(emulator, login))
        stack.callback(story.user.close)
        set_the_scene(ctx, story)
        initial_sync(ctx, story, timeout)
        edit_through_the_api(ctx, story, logs / "worker.log", timeout)
        cadence(ctx, story, timeout)
        explain(ctx, story)
        show_metrics(group)
    elapsed = time.monotonic() - started
    step(f"worker, beat and emulator stopped; the demo took {elapsed:.0f} s")
