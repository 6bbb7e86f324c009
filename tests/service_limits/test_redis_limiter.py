"""The Redis limiter against a real Redis (127.0.0.1:6379, or INTERLINK_TEST_REDIS_URL).

Each test gets its own random `interlink:test-…:` key prefix and deletes its keys afterwards.
Skipped with a reason when Redis is unreachable, except under CI=true, where that is a failure:
CI must exercise the shared limits.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from importlib import resources

import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from interlink.config.settings import Config
from interlink.core.errors import ErrorKind, GatewayError
from interlink.limits import Limiter, create_limiter
from interlink.limits.redis import RedisLimiter, redacted

REDIS_URL = os.environ.get("INTERLINK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

Factory = Callable[..., RedisLimiter]


@pytest.fixture
async def redis_client() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(REDIS_URL, decode_responses=True, socket_connect_timeout=1.0)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        reason = f"Redis at {redacted(REDIS_URL)} is unreachable ({type(exc).__name__}: {exc})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true requires a Redis for the shared rate-limit tests")
        pytest.skip(f"{reason}; start redis-server to run the shared rate-limit tests")
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(redis_client: aioredis.Redis) -> AsyncIterator[str]:
    value = f"interlink:test-{uuid.uuid4().hex[:12]}:"
    yield value
    keys = [key async for key in redis_client.scan_iter(match=f"{value}*")]
    if keys:
        await redis_client.delete(*keys)


@pytest.fixture
async def make(prefix: str) -> AsyncIterator[Factory]:
    """Builds limiters ("replicas") sharing the test's prefix; closes them all at the end."""
    made: list[RedisLimiter] = []

    def build(url: str = REDIS_URL, **kwargs: object) -> RedisLimiter:
        limiter = RedisLimiter(url, prefix=prefix, **kwargs)  # type: ignore[arg-type]
        made.append(limiter)
        return limiter

    yield build
    for limiter in made:
        await limiter.close()


async def keys_under(client: aioredis.Redis, prefix: str) -> list[str]:
    return [key async for key in client.scan_iter(match=f"{prefix}*")]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_lua_scripts_ship_inside_the_package() -> None:
    package = resources.files("interlink.limits")
    for name in ("gcra_take", "gcra_adjust", "stream_open", "stream_renew"):
        assert "redis.call('TIME')" in package.joinpath(f"{name}.lua").read_text()


async def test_create_limiter_picks_redis_when_configured() -> None:
    limiter = create_limiter(Config(redis_url="redis://127.0.0.1:6379/0"))
    try:
        assert isinstance(limiter, RedisLimiter)
        assert isinstance(limiter, Limiter)
    finally:
        await limiter.close()


def test_log_lines_never_show_the_password() -> None:
    assert redacted("redis://user:s3cret@cache:6380/1") == "redis://user:***@cache:6380/1"
    assert redacted("redis://127.0.0.1:6379") == "redis://127.0.0.1:6379"


async def test_rpm_holds_across_two_replicas(make: Factory) -> None:
    a, b = make(), make()
    for i in range(5):
        await (a if i % 2 else b).check_request("k", 5, name="alice")
    for replica in (a, b):
        with pytest.raises(GatewayError) as info:
            await replica.check_request("k", 5, name="alice")
        err = info.value
        assert err.kind is ErrorKind.RATE_LIMIT and err.status == 429
        # Five per minute refill one every 12 s; a few ms have passed since the burst.
        assert 11.0 < err.retry_after <= 12.0
        assert err.message == "rate limit: 5 requests/min for key 'alice'; retry in 12 s"
    await b.check_request("other-key", 5)


async def test_concurrent_replicas_admit_exactly_the_limit(make: Factory) -> None:
    replicas = [make() for _ in range(3)]
    calls = [replicas[i % 3].check_request("k", 20) for i in range(60)]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert sum(r is None for r in results) == 20
    assert all(isinstance(r, GatewayError) for r in results if r is not None)


async def test_refusals_charge_nothing(make: Factory) -> None:
    limiter = make()
    await limiter.check_request("k", 1)
    waits = []
    for _ in range(5):
        with pytest.raises(GatewayError) as info:
            await limiter.check_request("k", 1)
        waits.append(info.value.retry_after)
    assert all(55.0 < w <= 60.0 for w in waits)


async def test_tokens_refill_after_retry_after(make: Factory) -> None:
    limiter = make()
    await limiter.reserve_tokens("k", 60_000, 60_000)  # one token per millisecond
    with pytest.raises(GatewayError) as info:
        await limiter.reserve_tokens("k", 60_000, 100)
    wait = info.value.retry_after
    assert 0.05 < wait <= 0.1
    await asyncio.sleep(wait + 0.02)
    await limiter.reserve_tokens("k", 60_000, 100)


async def test_token_reservation_and_settlement_across_replicas(make: Factory) -> None:
    a, b = make(), make()
    first = await a.reserve_tokens("k", 1000, 800, name="bob")
    assert first.tokens == 800
    with pytest.raises(GatewayError) as info:
        await b.reserve_tokens("k", 1000, 300, name="bob")
    assert 5.5 < info.value.retry_after <= 6.0  # 100 tokens over at 60 ms each
    assert "1000 tokens/min for key 'bob' (this request needs about 300)" in info.value.message

    await a.settle(first, 100)  # 700 returned
    second = await b.reserve_tokens("k", 1000, 300)
    await b.settle(second, 1000)  # 700 more charged: 1100 spent in a 1000-token minute
    await b.settle(second, 1000)  # idempotent
    with pytest.raises(GatewayError) as info:
        await a.reserve_tokens("k", 1000, 1)
    assert 5.9 < info.value.retry_after <= 6.06


async def test_streams_counted_across_replicas_and_released(
    make: Factory, redis_client: aioredis.Redis, prefix: str
) -> None:
    a, b = make(), make()
    first = await a.open_stream("k", 2)
    second = await b.open_stream("k", 2)
    assert await a.open_streams("k") == 2
    with pytest.raises(GatewayError) as info:
        await b.open_stream("k", 2, name="carol")
    assert info.value.kind is ErrorKind.RATE_LIMIT and info.value.retry_after == 1.0
    assert "2 concurrent streams for key 'carol' are already open" in info.value.message

    await first()
    await first()  # idempotent
    assert await b.open_streams("k") == 1
    async with await a.open_stream("k", 2):
        assert await b.open_streams("k") == 2
    await second()
    assert await a.open_streams("k") == 0
    assert await keys_under(redis_client, prefix) == []  # the empty set is gone, nothing leaks


async def test_heartbeat_keeps_a_long_stream_counted(make: Factory) -> None:
    limiter = make(stream_lease=0.3)
    release = await limiter.open_stream("k", 1)
    await asyncio.sleep(0.8)  # well past one lease: only the heartbeat keeps it
    assert await limiter.open_streams("k") == 1
    with pytest.raises(GatewayError):
        await limiter.open_stream("k", 1)
    await release()
    assert await limiter.open_streams("k") == 0


async def test_a_crashed_replica_frees_its_streams_when_leases_expire(make: Factory) -> None:
    crashed, survivor = make(stream_lease=0.3), make(stream_lease=0.3)
    await crashed.open_stream("k", 1)
    await crashed.close()  # stops heartbeats without releasing: what a killed process leaves
    with pytest.raises(GatewayError):
        await survivor.open_stream("k", 1)
    await asyncio.sleep(0.4)
    release = await survivor.open_stream("k", 1)
    await release()


async def test_every_key_is_namespaced_and_expires(make: Factory, redis_client: aioredis.Redis, prefix: str) -> None:
    limiter = make(stream_lease=30.0)
    await limiter.check_request("k", 10)
    await limiter.settle(await limiter.reserve_tokens("k", 1000, 10), 500)
    release = await limiter.open_stream("k", 3)
    keys = sorted(await keys_under(redis_client, prefix))
    assert keys == sorted(f"{prefix}rl:{family}:k" for family in ("req", "tok", "streams"))
    for key in keys:
        assert key.startswith("interlink:")
        ttl = await redis_client.pttl(key)
        assert 0 < ttl <= 60_000, (key, ttl)
    await release()


async def test_noscript_reloads_the_script(make: Factory) -> None:
    limiter = make()
    await limiter.check_request("k", 2)
    # What a Redis restart or SCRIPT FLUSH looks like to a client holding a cached SHA, without
    # flushing the shared server's script cache.
    limiter._scripts["gcra_take"].sha = "0" * 40
    await limiter.check_request("k", 2)
    with pytest.raises(GatewayError):
        await limiter.check_request("k", 2)
    assert limiter.available


async def test_fails_open_when_redis_is_down(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RedisLimiter(f"redis://127.0.0.1:{closed_port()}/0", timeout=0.5)
    try:
        started = time.monotonic()
        with caplog.at_level("WARNING", logger="interlink.limits"):
            for _ in range(5):
                await limiter.check_request("k", 1)
            reservation = await limiter.reserve_tokens("k", 10, 1000)
            await limiter.settle(reservation, 5000)
            for _ in range(3):
                release = await limiter.open_stream("k", 1)
            await release()
        assert time.monotonic() - started < 2.0
        assert reservation.tokens == 0  # nothing was charged, so settle would charge it all
        assert not limiter.available
        warnings = [r for r in caplog.records if "failing open" in r.getMessage()]
        assert len(warnings) == 1  # one warning per outage, not one per request
    finally:
        await limiter.close()


class Proxy:
    """A TCP forwarder to Redis that a test can cut and restore, as a network partition would."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}


async def test_recovers_when_redis_comes_back(make: Factory, caplog: pytest.LogCaptureFixture) -> None:
    from urllib.parse import urlsplit

    target = urlsplit(REDIS_URL)
    proxy = Proxy((target.hostname or "127.0.0.1", target.port or 6379))
    await proxy.start()
    path = target.path or "/0"
    limiter = make(f"redis://127.0.0.1:{proxy.port}{path}", retry_interval=0.0)
    with caplog.at_level("WARNING", logger="interlink.limits"):
        await limiter.check_request("k", 1)
        await proxy.stop()
        await limiter.check_request("k", 1)  # would be refused: Redis is gone, so it fails open
        assert not limiter.available
        await proxy.start()  # same port
        with pytest.raises(GatewayError):
            await limiter.check_request("k", 1)  # enforced again, with the state kept in Redis
        assert limiter.available
    messages = [r.getMessage() for r in caplog.records]
    assert any("failing open" in m for m in messages)
    assert any("is back" in m for m in messages)
    await proxy.stop()
