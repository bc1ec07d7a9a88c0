"""Optional extras: commands that need one say how to install it, in one line."""

from __future__ import annotations

from importlib.util import find_spec

from convsync.cli.errors import UserError

# What each extra of pyproject.toml brings, by the module names the code imports.
EXTRAS: dict[str, tuple[str, ...]] = {
    # The Salesforce emulator's server stack, and psutil for the demo's and the bench's
    # process control: not needed by workers or beat.
    "emulator": ("starlette", "uvicorn", "trustme", "lark", "psutil"),
}


def require_extra(extra: str, command: str) -> None:
    """Refuse `command` in one line when a module of `extra` is not installed."""
    missing = [module for module in EXTRAS[extra] if find_spec(module) is None]
    if missing:
        raise UserError(
            f"{command} needs the '{extra}' extra ({', '.join(missing)} not installed): "
            f"pip install 'convsync[{extra}]'"
        )
