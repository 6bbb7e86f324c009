"""The in-process limiter: GCRA arithmetic, token settlement and stream slots, on a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from interlink.config.settings import Config
from interlink.core.errors import ErrorKind, GatewayError
from interlink.limits import Limiter, Release, create_limiter
from interlink.limits.memory import MemoryLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limiter(clock: FakeClock) -> MemoryLimiter:
    return MemoryLimiter(clock=clock)


def test_create_limiter_picks_memory_without_redis_url() -> None:
    limiter = create_limiter(Config())
    assert isinstance(limiter, MemoryLimiter)
    assert isinstance(limiter, Limiter)


async def test_requests_burst_then_refused_with_exact_retry_after(limiter: MemoryLimiter, clock: FakeClock) -> None:
    for _ in range(60):
        await limiter.check_request("k1", 60, name="alice")
    with pytest.raises(GatewayError) as info:
        await limiter.check_request("k1", 60, name="alice")
    err = info.value
    assert err.kind is ErrorKind.RATE_LIMIT and err.status == 429 and err.retryable
    assert err.retry_after == pytest.approx(1.0)
    assert err.message == "rate limit: 60 requests/min for key 'alice'; retry in 1 s"


async def test_refusal_charges_nothing_and_bucket_refills(limiter: MemoryLimiter, clock: FakeClock) -> None:
    for _ in range(3):
        await limiter.check_request("k", 3)
    for _ in range(5):  # hammering while refused must not push the wait further out
        with pytest.raises(GatewayError) as info:
            await limiter.check_request("k", 3)
        assert info.value.retry_after == pytest.approx(20.0)
    clock.advance(20.0)
    await limiter.check_request("k", 3)
    with pytest.raises(GatewayError):
        await limiter.check_request("k", 3)


async def test_rates_that_do_not_divide_sixty_admit_the_full_burst(limiter: MemoryLimiter) -> None:
    for _ in range(7):
        await limiter.check_request("k", 7)
    with pytest.raises(GatewayError):
        await limiter.check_request("k", 7)


async def test_keys_are_independent(limiter: MemoryLimiter) -> None:
    await limiter.check_request("a", 1)
    await limiter.check_request("b", 1)
    with pytest.raises(GatewayError):
        await limiter.check_request("a", 1)


async def test_none_limits_are_no_checks(limiter: MemoryLimiter) -> None:
    for _ in range(1000):
        await limiter.check_request("k", None)
    reservation = await limiter.reserve_tokens("k", None, 10**9)
    await limiter.settle(reservation, 10**9)
    release = await limiter.open_stream("k", None)
    assert isinstance(release, Release)
    await release()


async def test_zero_limits_refuse_without_retry(limiter: MemoryLimiter) -> None:
    with pytest.raises(GatewayError) as info:
        await limiter.check_request("k", 0)
    assert info.value.retryable is False and info.value.retry_after is None
    with pytest.raises(GatewayError):
        await limiter.reserve_tokens("k", 0, 10)
    with pytest.raises(GatewayError):
        await limiter.open_stream("k", 0)


async def test_token_reservation_refund_and_charge(limiter: MemoryLimiter, clock: FakeClock) -> None:
    first = await limiter.reserve_tokens("k", 1000, 800, name="bob")
    assert first.tokens == 800
    with pytest.raises(GatewayError) as info:
        await limiter.reserve_tokens("k", 1000, 300, name="bob")
    # 800 + 300 exceeds the minute by 100 tokens, which refill in 100 × 60 ms.
    assert info.value.retry_after == pytest.approx(6.0)
    assert "1000 tokens/min for key 'bob'" in info.value.message
    assert "retry in 6 s" in info.value.message

    await limiter.settle(first, 100)  # 700 returned
    second = await limiter.reserve_tokens("k", 1000, 300)
    await limiter.settle(second, 1000)  # 700 more charged: 1100 spent in a 1000 minute
    with pytest.raises(GatewayError) as info:
        await limiter.reserve_tokens("k", 1000, 1)
    assert info.value.retry_after == pytest.approx(101 * 0.06)


async def test_settle_is_idempotent(limiter: MemoryLimiter) -> None:
    reservation = await limiter.reserve_tokens("k", 1000, 1000)
    await limiter.settle(reservation, 0)
    await limiter.settle(reservation, 0)  # a second refund would credit more than was taken
    await limiter.reserve_tokens("k", 1000, 1000)
    with pytest.raises(GatewayError):
        await limiter.reserve_tokens("k", 1000, 1)


async def test_estimate_above_the_minute_is_admitted_on_a_full_bucket(limiter: MemoryLimiter, clock: FakeClock) -> None:
    reservation = await limiter.reserve_tokens("k", 100, 500)
    assert reservation.tokens == 100
    await limiter.settle(reservation, 500)  # 500 tokens = five minutes' worth at 100/min
    clock.advance(60.0)
    with pytest.raises(GatewayError) as info:
        await limiter.reserve_tokens("k", 100, 1)
    # Four minutes of the charge are left; one token fits once all but one window has passed.
    assert info.value.retry_after == pytest.approx(240.0 + 0.6 - 60.0)


async def test_concurrent_callers_get_exactly_the_limit(limiter: MemoryLimiter) -> None:
    results = await asyncio.gather(*(limiter.check_request("k", 10) for _ in range(50)), return_exceptions=True)
    assert sum(r is None for r in results) == 10
    assert all(isinstance(r, GatewayError) for r in results if r is not None)


async def test_stream_slots_count_and_release(limiter: MemoryLimiter) -> None:
    first = await limiter.open_stream("k", 2)
    async with await limiter.open_stream("k", 2):
        assert limiter.open_streams("k") == 2
        with pytest.raises(GatewayError) as info:
            await limiter.open_stream("k", 2, name="carol")
        assert info.value.retry_after == 1.0
        assert "2 concurrent streams for key 'carol' are already open" in info.value.message
    assert limiter.open_streams("k") == 1
    await first()
    await first()  # idempotent: must not free a slot someone else holds
    assert limiter.open_streams("k") == 0
    other = await limiter.open_stream("k", 2)
    await first()
    assert limiter.open_streams("k") == 1
    await other()


async def test_idle_buckets_are_swept(limiter: MemoryLimiter, clock: FakeClock) -> None:
    for i in range(100):
        await limiter.check_request(f"key-{i}", 60)
    clock.advance(61.0)
    await limiter.check_request("fresh", 60)
    assert len(limiter._requests) == 1
