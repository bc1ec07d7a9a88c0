"""`python -m convsync.cli` (used where the console script is not on PATH)."""

from convsync.cli.entry import main

main()
