"""Fixtures the end-to-end modules share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.scenario import module_worker
from tests.support.workers import WorkerProcess


@pytest.fixture(scope="module")
def worker(
    salesforce_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[WorkerProcess]:
    """One real `convsync worker` for the module that asks for it (see `module_worker`).

    A module opts in with `pytestmark = [..., pytest.mark.usefixtures("worker")]`.
    """
    name = request.module.__name__.rpartition(".")[2].removeprefix("test_")
    with module_worker(salesforce_env, tmp_path_factory.mktemp(name)) as running:
        yield running
