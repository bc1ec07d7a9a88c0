"""Run the emulator as an HTTPS server (uvicorn), standalone or in a background thread."""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from .app import Emulator
from .auth import Credentials
from .controls import DEFAULT_API_LIMIT
from .tls import TlsFiles, make_tls_files

# Exit codes of a standalone emulator (also in its README and `--help`).
EXIT_SETUP_ERROR = 1  # a bad option or credentials file, or the port is taken
EXIT_STARTUP_FAILURE = 3  # uvicorn's own: the server could not start (TLS, event loop)


class EmulatorSetupError(Exception):
    """The emulator cannot start as asked; one line saying what to change."""


def _config(app: Emulator, host: str, port: int, tls: TlsFiles) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        ssl_certfile=tls.cert_file,
        ssl_keyfile=tls.key_file,
        http="h11",
        # h11 refuses a request head over 16 KiB itself (a bare 400): let the app see it
        # and answer 414 / 431 as Salesforce does.
        h11_max_incomplete_event_size=1 << 20,
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_keep_alive=30,
    )


class _Server(uvicorn.Server):
    """Stops at the first signal: an emulator has no request worth draining, and uvicorn's
    graceful shutdown would wait for clients' idle keep-alive connections to time out."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.force_exit = True
        super().handle_exit(sig, frame)


def bound_port(server: uvicorn.Server) -> int:
    """The real port of a started server (port 0 asks the OS for a free one)."""
    for listener in server.servers:
        for sock in listener.sockets:
            return int(sock.getsockname()[1])
    raise RuntimeError("server has no listening socket")


def listen(host: str, port: int) -> socket.socket:
    """Bind the listening socket before anything is written: a second emulator on a busy
    port then fails here, leaving the running one's certificate and info file alone."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # As uvicorn does: a restart may reuse a port in TIME_WAIT (never a listening one).
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        reason = "it is in use (another emulator?)" if error.errno == errno.EADDRINUSE else ""
        raise EmulatorSetupError(
            f"cannot listen on {host}:{port}: {reason or error.strerror}; choose another --port"
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def write_atomically(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as tmp:
        tmp.write(text)
    os.replace(tmp.name, path)


def load_credentials(path: str | None) -> Credentials:
    """The `--credentials` file, or one line saying what is wrong with it."""
    try:
        return Credentials.load(path)
    except OSError as error:
        raise EmulatorSetupError(f"--credentials {path}: {error.strerror}") from None
    except ValueError as error:
        raise EmulatorSetupError(f"--credentials {path}: {error}") from None


def run(  # noqa: PLR0917 - the CLI calls run() with this exact signature
    host: str = "127.0.0.1",
    port: int = 0,
    latency_ms: int = 0,
    fault_rate: float = 0.0,
    api_limit: int = DEFAULT_API_LIMIT,
    unknown_status: str = "reject",
    credentials_file: str | None = None,
    info_file: str | None = ".convsync/emulator.json",
    jwt_certificate_file: str | None = None,
) -> None:
    """Serve until interrupted; print the URL and CA path and write them to `info_file`.

    Raises `EmulatorSetupError` (nothing written) for a bad credentials file or a port
    that cannot be bound; the certificate and the info file are written only once the
    port is ours.
    """
    load_credentials(credentials_file)
    sock = listen(host, port)
    app = Emulator(
        api_limit=api_limit,
        latency_ms=latency_ms,
        fault_rate=fault_rate,
        unknown_status=unknown_status,
        credentials_file=credentials_file,
        jwt_certificate_file=jwt_certificate_file,
    )
    tls_dir = Path(info_file).resolve().parent / "emulator-tls" if info_file else None
    tls = make_tls_files(tls_dir)
    server = _Server(_config(app, host, port, tls))

    def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            time.sleep(0.02)
        shown_host = f"[{host}]" if ":" in host else host
        url = f"https://{shown_host}:{bound_port(server)}"
        info: dict[str, Any] = {"url": url, "ca_file": tls.ca_file, "pid": os.getpid()}
        if info_file:
            write_atomically(Path(info_file), json.dumps(info, indent=2) + "\n")
        sys.stdout.write(f"Salesforce emulator at {url}\nCA certificate: {tls.ca_file}\n")
        sys.stdout.flush()

    threading.Thread(target=announce, daemon=True).start()
    server.run(sockets=[sock])
