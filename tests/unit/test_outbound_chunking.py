"""How an outbound stage is cut into chunks, and which chunks go through Bulk API 2.0."""

from __future__ import annotations

import pytest

from convsync.store.runs import ChunkClaim
from convsync.sync.context import SyncOptions
from convsync.sync.outbound import BULK_MIN_RECORDS, bulk_from, outbound_chunk_size

DEFAULTS = SyncOptions()  # threshold 10,000; chunks of 1,000 (collections), 10,000 (bulk)


def chunks(candidates: int, options: SyncOptions = DEFAULTS) -> list[int]:
    size = outbound_chunk_size(candidates, options)
    return [min(size, candidates - start) for start in range(0, candidates, size)]


def claim(size: int) -> ChunkClaim:
    return ChunkClaim(1, 0, "token", 1, size, size)


def test_a_stage_below_the_threshold_uses_collection_sized_chunks() -> None:
    assert chunks(9_999) == [1_000] * 9 + [999]


def test_a_stage_at_the_threshold_is_one_bulk_chunk() -> None:
    assert chunks(10_000) == [10_000]


def test_a_large_stage_is_cut_into_bulk_chunks_of_at_least_the_threshold() -> None:
    assert chunks(50_000) == [10_000] * 5
    assert chunks(29_999) == [15_000, 14_999]


@pytest.mark.parametrize("candidates", [1, 199, 200, 999, 1_000, 9_999, 10_000, 10_001, 123_457])
@pytest.mark.parametrize("threshold", [200, 1_000, 10_000, 50_000])
def test_a_chunk_goes_bulk_exactly_when_its_stage_reached_the_threshold(
    candidates: int, threshold: int
) -> None:
    options = SyncOptions(bulk_threshold=threshold)
    bulk_stage = candidates >= threshold
    assert all(
        (bulk_from(claim(size), options) is not None) == bulk_stage
        for size in chunks(candidates, options)
    )


def test_in_a_bulk_stage_small_writes_still_go_in_collections() -> None:
    assert bulk_from(claim(10_000), DEFAULTS) == BULK_MIN_RECORDS
    assert bulk_from(claim(500), SyncOptions(bulk_threshold=200)) == 200
