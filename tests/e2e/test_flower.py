"""Flower, as ops run it: basic auth, persistent state, and the sync's tasks readable in it.

A real `convsync flower` process watches real workers doing a link-later sync. The
browser check (headless Chromium logging in and screenshotting the tasks page) runs with
`make flower-check`; `make test` skips it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from tornado.websocket import WebSocketClientConnection, websocket_connect

from convsync.cli import service_commands
from convsync.config import get_settings
from convsync.salesforce_emulator.testing import EmulatorHandle
from convsync.workers.app import app
from tests.support.scenario import cli, cli_fails, eventually, salesforce_campaign
from tests.support.workers import WorkerProcess

pytestmark = pytest.mark.e2e

WEBINAR = [("Invited", True, False), ("Registered", False, False), ("Attended", False, True)]
SYNC_TASKS = {
    "convsync.sync.import_inbound": "convsync.inbound",
    "convsync.sync.apply_inbound_chunk": "convsync.members",
    "convsync.sync.push_outbound": "convsync.outbound",
    "convsync.sync.push_outbound_chunk": "convsync.members",
}


class FlowerProcess:
    """`convsync flower` in a subprocess on a free port, with its own state file and log."""

    def __init__(self, env: dict[str, str], workdir: Path, name: str = "flower") -> None:
        self.log_path = workdir / f"{name}.log"
        self.db = workdir / "flower.db"
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "convsync.cli", "flower", "--port=0", f"--db={self.db}"],
            env={**os.environ, **env},
            cwd=workdir,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.url = self._wait_for_url()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _wait_for_url(self, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"flower exited early:\n{self.log()[-4000:]}")
            found = re.search(r"Visit me at (http://[\d.]+:\d+)", self.log())
            if found:
                return found.group(1)
            time.sleep(0.2)
        raise TimeoutError(f"flower did not start within {timeout:.0f}s:\n{self.log()[-4000:]}")

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, as a service manager stops it: Flower saves its state on the way out."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self._log.close()


@pytest.fixture(scope="module")
def ops_login() -> tuple[str, str]:
    return "ops", f"pw-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def flower_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("flower")


@pytest.fixture(scope="module")
def flower(
    salesforce_env: dict[str, str], ops_login: tuple[str, str], flower_dir: Path
) -> Iterator[FlowerProcess]:
    """One Flower for the module, started before any worker so it sees every event."""
    user, password = ops_login
    process = FlowerProcess(
        {**salesforce_env, "CONVSYNC_FLOWER_BASIC_AUTH": f"{user}:{password}"}, flower_dir
    )
    yield process
    process.stop()


def api(flower: FlowerProcess, login: tuple[str, str], path: str) -> Any:
    response = requests.get(flower.url + path, auth=login, timeout=10)
    response.raise_for_status()
    return response.json()


def flower_tasks(flower: FlowerProcess, login: tuple[str, str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = api(flower, login, "/api/tasks")
    return found


def sees_worker(flower: FlowerProcess, worker: WorkerProcess) -> bool:
    """Flower got the worker's online event: events flow from workers to Flower."""
    metrics = requests.get(flower.url + "/metrics", timeout=10).text
    return f'flower_worker_online{{worker="{worker.name}@' in metrics


def link_later_sync(org: EmulatorHandle) -> None:
    cli("types", "create", "Webinar", "-s", "Invited", "-s", "Registered", "-s", "Attended")
    cli("campaigns", "create", "Spring", "--type", "Webinar")
    cli("members", "add", "Spring", "only-here@example.com", "Registered")
    sf = salesforce_campaign(org, "Spring SF", WEBINAR, [("only-there@example.com", "Attended")])
    cli("link", "Spring", "--salesforce-campaign", sf["id"])


def sync_tasks_seen(flower: FlowerProcess, login: tuple[str, str]) -> dict[str, dict[str, Any]]:
    """name → one succeeded task of that name, once Flower has all four sync tasks."""
    seen = {
        t["name"]: t for t in flower_tasks(flower, login).values() if t.get("state") == "SUCCESS"
    }
    return seen if set(SYNC_TASKS) <= set(seen) else {}


# ---------------------------------------------------------------- refusing to start


@pytest.fixture
def never_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Flower must refuse before starting: if it would start, the test fails instead."""

    def started(argv: list[str]) -> None:
        raise AssertionError(f"flower started with {argv}")

    monkeypatch.setattr(service_commands, "_celery", started)
    monkeypatch.delenv("CONVSYNC_FLOWER_BASIC_AUTH", raising=False)


@pytest.mark.usefixtures("never_starts")
def test_flower_refuses_to_start_without_basic_auth() -> None:
    output = cli_fails("flower")
    assert output.strip().splitlines() == [
        "error: set CONVSYNC_FLOWER_BASIC_AUTH=user:password "
        "(or pass --insecure-local on a loopback address)"
    ]


@pytest.mark.usefixtures("never_starts")
def test_insecure_local_refuses_a_non_loopback_address() -> None:
    output = cli_fails("flower", "--insecure-local", "--address", "0.0.0.0")  # noqa: S104
    assert "only binds to loopback" in output


@pytest.mark.usefixtures("never_starts")
def test_a_malformed_basic_auth_is_refused_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONVSYNC_FLOWER_BASIC_AUTH", "ops:fine,nopassword-hunter2")
    output = cli_fails("flower")
    assert "must look like user:password" in output
    assert "hunter2" not in output


@pytest.mark.usefixtures("never_starts")
def test_flower_refuses_the_embedded_broker_which_carries_no_events(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CONVSYNC_FLOWER_BASIC_AUTH", "ops:secret")
    monkeypatch.setenv("CONVSYNC_BROKER_URL", f"sqla+sqlite:///{tmp_path}/broker.sqlite")
    get_settings.cache_clear()
    try:
        output = cli_fails("flower")
    finally:
        get_settings.cache_clear()
    assert "Flower needs a Redis or RabbitMQ broker" in output


# ---------------------------------------------------------------- a running Flower


def status_of(flower: FlowerProcess, path: str, login: tuple[str, str] | None = None) -> int:
    return requests.get(flower.url + path, auth=login, timeout=10).status_code


def test_flower_answers_401_without_credentials_and_200_with_them(
    flower: FlowerProcess, ops_login: tuple[str, str]
) -> None:
    wrong = (ops_login[0], "wrong")
    assert [status_of(flower, "/"), status_of(flower, "/", wrong)] == [401, 401]
    assert status_of(flower, "/api/tasks") == 401
    assert status_of(flower, "/", ops_login) == 200
    assert status_of(flower, "/api/tasks", ops_login) == 200


def test_metrics_and_healthcheck_answer_without_credentials(flower: FlowerProcess) -> None:
    # Flower's design, not ours: hence Flower stays on internal interfaces (docs/operations.md).
    assert requests.get(flower.url + "/healthcheck", timeout=10).text == "OK"
    assert "flower_events_total" in requests.get(flower.url + "/metrics", timeout=10).text


def test_flower_never_logs_the_password(flower: FlowerProcess, ops_login: tuple[str, str]) -> None:
    assert ops_login[1] not in flower.log()
    assert "Visit me at" in flower.log()


def test_sync_tasks_show_their_names_queues_and_ids_in_flower(
    org: EmulatorHandle,
    start_worker: Callable[..., WorkerProcess],
    flower: FlowerProcess,
    ops_login: tuple[str, str],
) -> None:
    worker = start_worker(name="flowerwatch")
    eventually(lambda: sees_worker(flower, worker))

    link_later_sync(org)

    seen = eventually(lambda: sync_tasks_seen(flower, ops_login))
    for name, queue in SYNC_TASKS.items():
        task = seen[name]
        assert task["routing_key"] == queue
        assert task["worker"].startswith("flowerwatch@")
        # Tasks carry ids only: the arguments read as plain numbers.
        assert re.fullmatch(r"\{'run_id': \d+(, 'chunk': \d+)?\}", task["kwargs"]), task["kwargs"]
    metrics = requests.get(flower.url + "/metrics", timeout=10).text
    assert 'task="convsync.sync.import_inbound"' in metrics


def test_task_history_survives_a_flower_restart(
    salesforce_env: dict[str, str],
    start_worker: Callable[..., WorkerProcess],
    ops_login: tuple[str, str],
    tmp_path: Path,
) -> None:
    env = {**salesforce_env, "CONVSYNC_FLOWER_BASIC_AUTH": ":".join(ops_login)}
    first = FlowerProcess(env, tmp_path, name="flower-first")
    try:
        worker = start_worker(name="historian")
        eventually(lambda: sees_worker(first, worker))
        ping = app.send_task("convsync.system.ping", kwargs={"token": uuid.uuid4().hex})
        eventually(
            lambda: flower_tasks(first, ops_login).get(ping.id, {}).get("state") == "SUCCESS"
        )
    finally:
        first.stop()

    second = FlowerProcess(env, tmp_path, name="flower-second")
    try:
        assert flower_tasks(second, ops_login)[ping.id]["name"] == "convsync.system.ping"
    finally:
        second.stop()


# ---------------------------------------------------------------- a browser (make flower-check)

BROWSER_CHECK = os.environ.get("CONVSYNC_BROWSER_CHECK") == "1"
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".convsync" / "flower-check"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class HeadlessChromium:
    """Chromium driven over the DevTools protocol (tornado's websocket client, no Selenium).

    Basic auth the way a person meets it: the page answers 401, the browser raises an
    auth challenge (`Fetch.authRequired`) and we answer it with `login`, or cancel it
    when `login` is None. The protocol runs on an event loop in a background thread so
    challenges are answered while the test thread waits.
    """

    def __init__(self, executable: str, width: int = 1800, height: int = 900) -> None:
        self.login: tuple[str, str] | None = None
        self.challenges = 0
        self._profile = Path(tempfile.mkdtemp(prefix="convsync-chromium-"))
        self._process = subprocess.Popen(
            [
                executable,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={self._profile}",
                "--remote-debugging-port=0",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._loop = asyncio.new_event_loop()
        self._loaded = asyncio.Event()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._session: str | None = None
        self._ws: WebSocketClientConnection = self._run(self._connect())
        target = self._run(self._call("Target.createTarget", url="about:blank"))["targetId"]
        attached = self._run(self._call("Target.attachToTarget", targetId=target, flatten=True))
        self._session = attached["sessionId"]
        self.call("Page.enable")
        self.call("Fetch.enable", handleAuthRequests=True, patterns=[{"urlPattern": "*"}])
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def _run(self, coroutine: Any, timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _connect(self) -> WebSocketClientConnection:
        port_file = self._profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if time.monotonic() > deadline or self._process.poll() is not None:
                raise RuntimeError("chromium did not open its DevTools port")
            await asyncio.sleep(0.1)
        port, path = port_file.read_text().splitlines()[:2]
        ws = await websocket_connect(f"ws://127.0.0.1:{port}{path}", max_message_size=1 << 28)
        self._reader = asyncio.ensure_future(self._read(ws))
        return ws

    async def _read(self, ws: WebSocketClientConnection) -> None:
        while (raw := await ws.read_message()) is not None:
            message = json.loads(raw)
            future = self._pending.pop(message.get("id", 0), None)
            if future is not None and not future.done():
                if "error" in message:
                    future.set_exception(RuntimeError(f"DevTools: {message['error']}"))
                else:
                    future.set_result(message.get("result", {}))
            elif "method" in message:
                self._on_event(message["method"], message.get("params", {}))

    def _on_event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Fetch.requestPaused":
            self._send("Fetch.continueRequest", requestId=params["requestId"])
        elif method == "Fetch.authRequired":
            self.challenges += 1
            answer: dict[str, str] = {"response": "CancelAuth"}
            if self.login is not None:
                user, password = self.login
                answer = {"response": "ProvideCredentials", "username": user, "password": password}
            self._send(
                "Fetch.continueWithAuth",
                requestId=params["requestId"],
                authChallengeResponse=answer,
            )
        elif method == "Page.loadEventFired":
            self._loaded.set()

    def _send(self, method: str, **params: Any) -> asyncio.Future[Any]:
        number = next(self._ids)
        message: dict[str, Any] = {"id": number, "method": method, "params": params}
        if self._session is not None:
            message["sessionId"] = self._session
        future: asyncio.Future[Any] = self._loop.create_future()
        self._pending[number] = future
        self._ws.write_message(json.dumps(message))
        return future

    async def _call(self, method: str, **params: Any) -> Any:
        return await self._send(method, **params)

    def call(self, method: str, **params: Any) -> Any:
        return self._run(self._call(method, **params))

    def open(self, url: str, timeout: float = 30.0) -> None:
        async def navigate() -> None:
            self._loaded.clear()
            await self._send("Page.navigate", url=url)
            await asyncio.wait_for(self._loaded.wait(), timeout)

        self._run(navigate(), timeout + 5)

    def text(self, selector: str = "body") -> str:
        found = self.call(
            "Runtime.evaluate",
            expression=f"document.querySelector({json.dumps(selector)})?.innerText ?? ''",
            returnByValue=True,
        )
        return str(found["result"].get("value", ""))

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        async def hang_up() -> None:
            self._ws.close()

        # The connection belongs to the loop's thread: tornado's streams are not
        # thread-safe, and the loop may be answering a paused request right now.
        with contextlib.suppress(Exception):
            self._run(hang_up(), timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(10)
        shutil.rmtree(self._profile, ignore_errors=True)


@pytest.fixture
def chromium() -> Iterator[HeadlessChromium]:
    if not BROWSER_CHECK:
        pytest.skip("the browser check runs with `make flower-check`")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium chromium-driver)")
    browser = HeadlessChromium(executable)
    yield browser
    browser.close()


def run_state(campaign: str) -> str | None:
    [status] = json.loads(cli("status", campaign, "--json"))
    return status["last_run"]["state"] if status["last_run"] else None


def finished_state(campaign: str) -> str | None:
    state = run_state(campaign)
    return state if state in ("succeeded", "failed") else None


def tasks_table(chromium: HeadlessChromium, flower: FlowerProcess, *names: str) -> str:
    """The tasks page's table once it lists every name.

    The page fills its table by AJAX after the load event and never polls: read it for
    a few seconds, then load the page again.
    """

    def listed() -> str:
        chromium.open(flower.url + "/tasks")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            table = chromium.text("#tasks-table")
            if all(n in table for n in names):
                return table
            time.sleep(0.25)
        return ""

    found: str = eventually(listed, timeout=90, interval=0.5)
    return found


def test_a_browser_logs_in_to_flower_and_sees_the_sync_tasks(
    chromium: HeadlessChromium,
    flower: FlowerProcess,
    ops_login: tuple[str, str],
    org: EmulatorHandle,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    chromium.open(flower.url + "/tasks")
    assert chromium.text() == "Access denied"
    assert chromium.challenges == 1

    worker = start_worker(name="browsed")
    eventually(lambda: sees_worker(flower, worker))
    cli("types", "create", "Webinar", "-s", "Invited", "-s", "Registered", "-s", "Attended")
    cli("campaigns", "create", "Autumn", "--type", "Webinar")
    cli("members", "add", "Autumn", "only-here@example.com", "Registered")
    [seeded] = org.admin.seed(
        campaigns=[
            {
                "Name": "Autumn SF",
                "statuses": [
                    {"Label": label, "IsDefault": default, "HasResponded": responded}
                    for label, default, responded in WEBINAR
                ],
                "generate_members": 5_000,
                "member_status": "Invited",
            }
        ]
    )["campaigns"]
    org.admin.set_latency(1_000)  # every API call takes a second: the sync lasts a while
    try:
        chromium.login = ops_login
        cli("link", "Autumn", "--salesforce-campaign", seeded["id"])
        table = tasks_table(
            chromium, flower, "convsync.sync.import_inbound", "convsync.sync.apply_inbound_chunk"
        )
        during = chromium.screenshot(SCREENSHOTS / "flower-tasks-during-sync.png")
        state_at_screenshot = run_state("Autumn")
        assert "convsync.inbound" in table
        assert state_at_screenshot in ("queued", "running")
        assert eventually(lambda: finished_state("Autumn"), timeout=120) == "succeeded"
    finally:
        org.admin.set_latency(0)
    table = tasks_table(chromium, flower, *SYNC_TASKS)
    after = chromium.screenshot(SCREENSHOTS / "flower-tasks-after-sync.png")
    assert set(SYNC_TASKS.values()) <= set(table.split())
    assert "{'run_id':" in table
    assert chromium.challenges >= 2
    assert during.stat().st_size > 10_000
    assert after.stat().st_size > 10_000
