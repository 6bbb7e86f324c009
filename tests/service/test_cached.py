"""The read-through cache in front of keys and budgets: one query per expired value however many
requests wait for it, busy values refreshed before they expire, never a value older than its ttl."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from interlink.auth.keys import KeyStore
from interlink.store import Database
from interlink.store.cached import Cached


class Source:
    """A fetch that counts its calls and answers after `delay` seconds."""

    def __init__(self, delay: float = 0.02) -> None:
        self.calls = 0
        self.delay = delay
        self.value = "v1"
        self.fail = False

    async def __call__(self, key: str) -> str:
        self.calls += 1
        value = self.value  # what the database held when asked
        await asyncio.sleep(self.delay)
        if self.fail:
            raise ConnectionError("database down")
        return f"{key}:{value}"


async def test_concurrent_misses_share_one_fetch() -> None:
    source = Source()
    cached: Cached[str, str] = Cached(source, ttl=1.0)
    values = await asyncio.gather(*(cached.get("k") for _ in range(16)))
    assert values == ["k:v1"] * 16
    assert source.calls == 1


async def test_busy_value_is_refreshed_in_the_background_before_it_expires() -> None:
    source = Source(delay=0.05)
    cached: Cached[str, str] = Cached(source, ttl=0.2)
    await cached.get("k")
    source.value = "v2"
    await asyncio.sleep(0.12)  # past ttl/2, within ttl: served at once, refresh started
    assert await cached.get("k") == "k:v1"
    await asyncio.sleep(0)  # the refresh task starts
    assert source.calls == 2
    await asyncio.sleep(0.07)
    assert await cached.get("k") == "k:v2"  # the refreshed value, without waiting
    assert source.calls == 2


async def test_a_value_older_than_ttl_is_never_used() -> None:
    source = Source(delay=0.0)
    cached: Cached[str, str] = Cached(source, ttl=0.05)
    await cached.get("k")
    source.value = "v2"
    await asyncio.sleep(0.08)
    assert await cached.get("k") == "k:v2"


async def test_invalidate_discards_a_fetch_already_running() -> None:
    source = Source(delay=0.05)
    cached: Cached[str, str] = Cached(source, ttl=10)
    early = asyncio.create_task(cached.get("k"))
    await asyncio.sleep(0.01)
    source.value = "v2"
    cached.invalidate()  # e.g. this process revoked a key while a lookup was running
    assert await early == "k:v1"
    assert await cached.get("k") == "k:v2"


async def test_a_cancelled_waiter_does_not_cancel_the_others() -> None:
    source = Source(delay=0.05)
    cached: Cached[str, str] = Cached(source, ttl=1.0)
    first = asyncio.create_task(cached.get("k"))
    second = asyncio.create_task(cached.get("k"))
    await asyncio.sleep(0.01)
    first.cancel()
    assert await second == "k:v1"
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_errors_reach_every_waiter_and_the_next_call_asks_again() -> None:
    source = Source()
    source.fail = True
    cached: Cached[str, str] = Cached(source, ttl=1.0)
    results = await asyncio.gather(cached.get("k"), cached.get("k"), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results) and source.calls == 1
    source.fail = False
    assert await cached.get("k") == "k:v1"
    assert source.calls == 2


async def test_key_lookups_under_concurrency_cost_one_query(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/keys.db")
    await db.start()
    try:
        keys = KeyStore(db, cache_ttl=0.2)
        _, secret = await keys.create(name="busy")
        queries: list[str] = []
        sa.event.listen(db.engine.sync_engine, "before_cursor_execute", lambda *a: queries.append(a[2]))
        for _ in range(3):  # three expiries, 32 requests in flight each time
            await asyncio.sleep(0.25)
            principals = await asyncio.gather(*(keys.authenticate(secret) for _ in range(32)))
            assert {p.name for p in principals if p} == {"busy"}
        assert len([q for q in queries if "api_keys" in q]) == 3
    finally:
        await db.close()
