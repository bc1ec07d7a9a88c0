"""No recipe carries a secret: they come from convsync.env (never committed) or a Secret."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.deploy.recipes import DEPLOY, SECRET_NAME, URL_WITH_PASSWORD, env_file

EXAMPLE = DEPLOY / "convsync.env.example"
DEMO = DEPLOY / "demo.env"
# The committed recipes: not the docs, not an operator's filled-in (git-ignored) copies.
FILLED_IN = {"convsync.env", "salesforce-jwt.key"}
RECIPES = sorted(
    p
    for p in DEPLOY.rglob("*")
    if p.is_file() and p not in (EXAMPLE, DEMO) and p.suffix != ".md" and p.name not in FILLED_IN
)


# A secret-named variable given a value inline: KEY=value, KEY: value, "KEY": value.
INLINE_SECRET = re.compile(
    r"\b[A-Z_]*(PASSWORD|SECRET|TOKEN|SESSION_ID|BASIC_AUTH|DATABASE_URL)[A-Z_]*[\"']?\s*[=:]\s*\S"
)


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_no_recipe_contains_a_password(path: Path) -> None:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        assert not URL_WITH_PASSWORD.search(line), f"{path.name}:{number}: {line}"
        assert not INLINE_SECRET.search(line), f"{path.name}:{number}: {line}"


def test_the_example_environment_holds_placeholders_only() -> None:
    for key, value in env_file(EXAMPLE).items():
        if SECRET_NAME.search(key):
            assert "change-me" in value, key


def test_the_example_names_every_variable_the_recipes_need() -> None:
    example = env_file(EXAMPLE)
    for key in (
        "CONVSYNC_DATABASE_URL",
        "CONVSYNC_BROKER_URL",
        "CONVSYNC_RESULT_BACKEND",
        "CONVSYNC_FLOWER_BASIC_AUTH",
        "POSTGRES_PASSWORD",
    ):
        assert key in example


def test_the_demo_environment_can_only_reach_this_machine() -> None:
    for key, value in env_file(DEMO).items():
        if "://" in value:
            assert "127.0.0.1" in value, key


def test_filled_in_environment_files_are_ignored_by_git() -> None:
    for name in ("deploy/convsync.env", "deploy/salesforce-jwt.key"):
        ignored = subprocess.run(
            ["git", "check-ignore", "-q", name], cwd=DEPLOY.parent, check=False
        ).returncode
        assert ignored == 0, f"{name} is not ignored"
