"""`convsync demo`: the product, end to end, on whatever CONVSYNC_* points at."""

from __future__ import annotations

import time
import uuid

from convsync.cli.output import console
from convsync.cli.processes import process_group
from convsync.config import DATA_DIR, get_settings
from convsync.store import heartbeats
from convsync.store.migrate import upgrade
from convsync.workers.root import adapters


def run_demo() -> None:
    settings = get_settings()
    where = "embedded SQLite + serverless broker" if settings.is_embedded else "configured services"
    console.rule(f"convsync demo ({where})")
    upgrade(adapters().engine)
    console.print("[green]✓[/] database schema migrated")
    with process_group({}, DATA_DIR / "demo-logs") as group:
        group.start("worker", "worker", "--concurrency=2")
        group.wait_for_log("worker", "ready.")
        console.print("[green]✓[/] worker started")
        from convsync.workers.app import app

        token = uuid.uuid4().hex
        started = time.monotonic()
        app.send_task("convsync.system.ping", kwargs={"token": token})
        seen = None
        while seen is None and time.monotonic() - started < 60:
            with adapters().sessions() as session:
                seen = heartbeats.seen_at(session, token)
            time.sleep(0.2)
        if seen is None:
            raise SystemExit("the worker did not answer the ping within 60 s")
        elapsed = time.monotonic() - started
        console.print(
            f"[green]✓[/] worker consumed a task and wrote to the store ({elapsed:.1f} s)"
        )
