"""The concurrency cap: process-local, Redis sorted-set semaphore (fakeredis + real)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import fakeredis
import pytest
import redis
from tests.support.services import dedicated_redis_database

from convsync.domain.errors import TransientSalesforceError
from convsync.salesforce.limiter import LocalLimiter, RedisLimiter


def _peak_concurrency(limiter: Any, workers: int = 8) -> int:
    """The most threads inside `limiter.slot()` at once.

    A thread that got a slot keeps it until the cap is reached (or no other thread is
    left to come in), so the peak reaches the cap whatever the machine's load, and a
    limiter that lets one more in shows a peak above it.
    """
    cap = limiter.limit
    active = peak = done = 0
    changed = threading.Condition()

    def work() -> None:
        nonlocal active, peak, done
        with limiter.slot(), changed:
            active += 1
            peak = max(peak, active)
            changed.notify_all()
            reached = changed.wait_for(
                lambda: active >= cap or active + done == workers, timeout=30
            )
            assert reached, "threads never filled the slots"
            active -= 1
            done += 1
            changed.notify_all()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert done == workers
    return peak


@pytest.fixture
def fake_redis() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis()


@pytest.fixture
def real_redis() -> Iterator[redis.Redis]:
    with dedicated_redis_database() as url:
        client = redis.Redis.from_url(url)
        yield client
        client.close()


def _key() -> str:
    return f"convsync:test:inflight:{uuid.uuid4().hex}"


def test_local_limiter_caps_threads() -> None:
    assert _peak_concurrency(LocalLimiter(2)) == 2


def test_local_limiter_gives_up_after_the_acquire_timeout() -> None:
    limiter = LocalLimiter(1, acquire_timeout=0.05)
    with limiter.slot(), pytest.raises(TransientSalesforceError, match="no free"):
        limiter.slot().__enter__()


def test_redis_limiter_caps_concurrency(fake_redis: fakeredis.FakeRedis) -> None:
    limiter = RedisLimiter(fake_redis, 3, key=_key(), poll_seconds=0.005)
    assert _peak_concurrency(limiter) == 3


def test_redis_limiter_releases_its_slot(fake_redis: fakeredis.FakeRedis) -> None:
    limiter = RedisLimiter(fake_redis, 1, key=_key())
    with limiter.slot():
        assert limiter.in_flight() == 1
    assert limiter.in_flight() == 0


def test_redis_limiter_releases_its_slot_when_the_call_fails(
    fake_redis: fakeredis.FakeRedis,
) -> None:
    limiter = RedisLimiter(fake_redis, 1, key=_key())
    with pytest.raises(RuntimeError), limiter.slot():
        raise RuntimeError("boom")
    assert limiter.in_flight() == 0


def test_redis_limiter_reclaims_expired_leases(fake_redis: fakeredis.FakeRedis) -> None:
    key = _key()
    crashed = RedisLimiter(fake_redis, 1, key=key, lease_seconds=0.05)
    assert crashed.try_acquire() is not None  # never released: the worker "died"
    survivor = RedisLimiter(fake_redis, 1, key=key, acquire_timeout=2.0, poll_seconds=0.01)
    with survivor.slot():
        assert survivor.in_flight() == 1


def test_redis_limiter_gives_up_after_the_acquire_timeout(
    fake_redis: fakeredis.FakeRedis,
) -> None:
    limiter = RedisLimiter(fake_redis, 1, key=_key(), acquire_timeout=0.05, poll_seconds=0.01)
    with limiter.slot(), pytest.raises(TransientSalesforceError, match="across workers"):
        limiter.slot().__enter__()


def test_redis_limiter_caps_concurrency_on_real_redis(real_redis: redis.Redis) -> None:
    key = _key()
    try:
        limiter = RedisLimiter(real_redis, 2, key=key, poll_seconds=0.005)
        assert _peak_concurrency(limiter) == 2
        assert limiter.in_flight() == 0
    finally:
        real_redis.delete(key)
