"""Cutting long id lists into batches a single statement can carry."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

# Ids per `IN (...)` list: far below SQLite's 32,766 bound parameters and PostgreSQL's
# 65,535, and small enough that the planner still picks the index (docs/performance.md).
BATCH_SIZE = 1_000


def batches(items: Sequence[T], size: int = BATCH_SIZE) -> Iterator[list[T]]:
    """`items` in consecutive slices of at most `size` (none for an empty sequence)."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
