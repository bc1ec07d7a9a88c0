"""`python -m convsync.salesforce_emulator`: run the emulator standalone."""

from __future__ import annotations

import argparse
import sys

from .controls import DEFAULT_API_LIMIT
from .server import EXIT_SETUP_ERROR, EmulatorSetupError, run

EPILOG = """exit codes: 0 stopped (Ctrl-C, SIGTERM); 1 a bad credentials file or a port that
cannot be bound (nothing written); 2 a usage error; 3 the server failed to start (uvicorn)"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m convsync.salesforce_emulator",
        description="A local Salesforce REST API emulator.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--api-limit", type=int, default=DEFAULT_API_LIMIT)
    parser.add_argument("--unknown-status", choices=("reject", "default"), default="reject")
    parser.add_argument("--credentials", default=None, help="JSON file restricting OAuth logins")
    parser.add_argument(
        "--jwt-certificate",
        default=None,
        help="PEM certificate that JWT assertions must verify with",
    )
    parser.add_argument("--info-file", default=".convsync/emulator.json")
    args = parser.parse_args(argv)
    try:
        run(
            host=args.host,
            port=args.port,
            latency_ms=args.latency_ms,
            fault_rate=args.fault_rate,
            api_limit=args.api_limit,
            unknown_status=args.unknown_status,
            credentials_file=args.credentials,
            jwt_certificate_file=args.jwt_certificate,
            info_file=args.info_file or None,
        )
    except EmulatorSetupError as error:
        sys.stderr.write(f"error: {error}\n")
        sys.exit(EXIT_SETUP_ERROR)


if __name__ == "__main__":
    main()
