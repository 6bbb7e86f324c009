"""`Cached`: a small read-through cache for values the request path reads from the database
(a key's principal, "are there any keys", a key's spend this period).

Each value is at most `ttl` seconds old when it is used, so a revocation or a budget written by
another replica is seen within `ttl`, as before. What this adds, measured under load:

- **one query per key, not one per request in flight**: when a value expires, every request
  that needs it waits on the same fetch (single flight). Without it, 16 concurrent requests on
  an expired key sent 16 identical queries, and the request p99 at concurrency 16 went from
  ~40 ms to ~100-470 ms with keys on.
- **refresh ahead**: once a value is older than half its `ttl` it is still used, and the next
  request starts one background refresh, so a busy key never waits for the database at all.
- **misses apart**: values `is_miss` calls misses ("no such key") live in a table of their own,
  so a flood of made-up keys can never push a real key's entry out.
- **stale on outage**: when the fetch fails (the database is down), a value up to `stale_for`
  seconds old is used instead, so keys and budgets keep working through a short outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Cached(Generic[K, V]):
    """`await cached.get(key)`: the value `fetch(key)` returned at most `ttl` seconds ago."""

    def __init__(
        self,
        fetch: Callable[[K], Awaitable[V]],
        *,
        ttl: float,
        max_size: int = 10_000,
        stale_for: float = 0.0,
        is_miss: Callable[[V], bool] | None = None,
    ) -> None:
        self.fetch = fetch
        self.ttl = ttl
        self.max_size = max_size
        self.stale_for = stale_for
        self.is_miss = is_miss
        self.served_stale = 0
        self._values: dict[K, tuple[V, float]] = {}
        self._misses: dict[K, tuple[V, float]] = {}
        self._inflight: dict[K, asyncio.Task[V]] = {}
        self._generation = 0

    async def get(self, key: K) -> V:
        entry = self._values.get(key) or self._misses.get(key)
        age = 0.0
        if entry is not None:
            age = time.monotonic() - entry[1]
            if age <= self.ttl:
                if age > self.ttl / 2 and key not in self._inflight:
                    self._refresh(key)
                return entry[0]
        task = self._inflight.get(key) or self._refresh(key)
        try:
            # shield: one waiter cancelled (its client went away) must not cancel the others' fetch.
            return await asyncio.shield(task)
        except Exception:
            if entry is not None and age <= self.stale_for:
                self.served_stale += 1
                return entry[0]
            raise

    def invalidate(self) -> None:
        """Forget everything, including fetches already running (this process just wrote)."""
        self._generation += 1
        self._values.clear()
        self._misses.clear()
        self._inflight.clear()

    def _refresh(self, key: K) -> asyncio.Task[V]:
        task = asyncio.get_running_loop().create_task(self._load(key, self._generation))
        self._inflight[key] = task
        # A refresh nobody awaits may fail (database briefly down): the value then expires and
        # the next request's own fetch reports the error; asyncio must not log it as lost.
        task.add_done_callback(_consume)
        return task

    async def _load(self, key: K, generation: int) -> V:
        # Taken before the query: the value is as old as the moment it was asked for.
        asked = time.monotonic()
        try:
            value = await self.fetch(key)
        except BaseException:
            if self._inflight.get(key) is asyncio.current_task():
                del self._inflight[key]
            raise
        if generation == self._generation:
            table = self._misses if self.is_miss is not None and self.is_miss(value) else self._values
            if len(table) >= self.max_size and key not in table:
                table.clear()
            table[key] = (value, asked)
            (self._values if table is self._misses else self._misses).pop(key, None)
            if self._inflight.get(key) is asyncio.current_task():
                del self._inflight[key]
        return value


def _consume(task: asyncio.Task[object]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        task.exception()
