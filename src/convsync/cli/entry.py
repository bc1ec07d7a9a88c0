"""The console script's entry point: Ctrl-C is one line and exit code 130, even while
the command's modules are still being imported (a second or so on a cold start)."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from convsync.cli.app import main as run

        run()
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        sys.exit(130)
