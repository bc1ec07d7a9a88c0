"""A throw-away CA and server certificate, made at start with trustme.

simple-salesforce only speaks https://, so the emulator needs TLS; a fresh CA per run
means nothing secret is ever committed and clients trust exactly this emulator.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the CA certificate (for clients) and the server cert+key (for uvicorn)."""

    ca_file: str
    cert_file: str
    key_file: str


def make_tls_files(directory: str | Path | None = None) -> TlsFiles:
    """Issue a CA and a cert for 127.0.0.1/localhost/::1 and write them as PEM files."""
    folder = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="sf-emulator-"))
    folder.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost", "::1")
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "server.pem", folder / "key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert.private_key_pem.write_to_path(str(key_file))
    cert_file.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    return TlsFiles(str(ca_file), str(cert_file), str(key_file))
