"""The reasoning store in Redis, shared by every replica (used when `config.redis_url` is set).

A Chat client's next turn may land on another replica than the one that saw the answer's
thinking; with the store in Redis that replica finds it too. Same keys, same scoping (the
caller's key and the conversation) and the same restore rules as the in-process store
(`reasoning_store`); what changes is where entries live:

- Keys: `interlink:rs:<owner>|<conversation>|call:<tool call id>` (or `|text:<hash>`), a JSON
  list of the answer's reasoning blocks (text, opaque part, id), each with an expiry of
  `ttl_seconds` (default one day). An index (sorted set `interlink:rs:index`, by write time)
  keeps at most `max_entries`: a write beyond that removes the oldest entries, in the same
  Lua script, so replicas never race past the cap. An answer whose reasoning is larger than
  `max_entry_bytes` is not kept (its turn then replays without thinking, as with no store).
- Reads: one MGET per request for the assistant turns it carries, before the first attempt.
- Redis unavailable: FAIL OPEN, as the rate limiter does. Nothing is restored or kept, the
  request goes on, one warning is logged per outage, and Redis is not retried for a second.
- One Redis, not a Cluster: the trimming script deletes entries it finds in the index.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable
from typing import Any, cast

import orjson
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from interlink.core import ChatRequest, Opaque, ReasoningBlock
from interlink.core.content import Block
from interlink.repair.reasoning_store import (
    ReasoningStore,
    StoreLimits,
    StreamObserver,
    conversation_scope,
    entry_keys,
    kept_blocks,
    wanted_keys,
)

log = logging.getLogger("interlink.reasoning")

# KEYS[1] the index, KEYS[2..] entries; ARGV[1] now (ms), ARGV[2] ttl (ms), ARGV[3] cap, ARGV[4] the value.
_KEEP = """
local now, ttl, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], ARGV[4], 'PX', ttl)
  redis.call('ZADD', KEYS[1], now, KEYS[i])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ttl)
local excess = math.min(redis.call('ZCARD', KEYS[1]) - cap, 1000)  -- unpack() has a stack limit
if excess > 0 then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, excess - 1)
  redis.call('DEL', unpack(oldest))
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, excess - 1)
end
redis.call('PEXPIRE', KEYS[1], ttl)
return excess
"""


def encode(blocks: list[ReasoningBlock]) -> bytes:
    return orjson.dumps(
        [
            {"t": b.text, "i": b.id, "o": b.opaque and {"o": b.opaque.origin, "k": b.opaque.kind, "v": b.opaque.value}}
            for b in blocks
        ]
    )


def decode(raw: str | bytes) -> list[ReasoningBlock] | None:
    try:
        items = orjson.loads(raw)
        return [
            ReasoningBlock(
                text=str(item["t"]),
                id=item.get("i"),
                opaque=Opaque(item["o"]["o"], item["o"]["k"], item["o"]["v"]) if item.get("o") else None,
            )
            for item in items
        ]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None  # not ours (another version, or damaged): treated as a miss


class RedisReasoningStore:
    """The `ReasoningBackend` in Redis. See the module docstring for keys, limits and failures."""

    def __init__(
        self,
        url: str,
        limits: StoreLimits | None = None,
        *,
        prefix: str = "interlink:rs:",
        timeout: float = 0.5,
        retry_interval: float = 1.0,
    ) -> None:
        self.limits = limits or StoreLimits()
        self._prefix = prefix
        # one quick retry without backoff, as the limiter: a dead Redis must not stall requests
        self._client = aioredis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout, retry=Retry(NoBackoff(), 1)
        )
        self._keep = self._client.register_script(_KEEP)
        self._retry_interval = retry_interval
        self._down_until = 0.0
        self._down_since: float | None = None

    async def recall(self, request: ChatRequest) -> ReasoningStore:
        """The entries this request's assistant turns may need, as a local store to restore from."""
        snapshot = ReasoningStore(self.limits)
        keys = wanted_keys(request.messages, conversation_scope(request))
        if not keys:
            return snapshot
        values = await self._call(cast("Awaitable[list[Any]]", self._client.mget([self._prefix + k for k in keys])))
        for key, raw in zip(keys, values or [], strict=False):
            blocks = decode(raw) if raw is not None else None
            if blocks:
                snapshot.put(key, blocks)
        return snapshot

    async def keep(self, content: list[Block], scope: str) -> None:
        blocks = kept_blocks(content)
        keys = entry_keys(content, scope)
        if not blocks or not keys:
            return
        value = encode(blocks)
        if len(value) > self.limits.max_entry_bytes:
            log.info(
                "reasoning too large to keep",
                extra={"fields": {"bytes": len(value), "max_entry_bytes": self.limits.max_entry_bytes}},
            )
            return
        index = self._prefix + "index"
        args: list[int | bytes] = [
            int(time.time() * 1000),
            int(self.limits.ttl_seconds * 1000),
            self.limits.max_entries,
            value,
        ]
        await self._call(cast("Awaitable[Any]", self._keep(keys=[index, *(self._prefix + k for k in keys)], args=args)))

    def observer(self, request: ChatRequest) -> StreamObserver:
        return StreamObserver(self, conversation_scope(request))

    async def close(self) -> None:
        await self._client.aclose()

    async def _call(self, pending: Awaitable[Any]) -> Any:
        """Redis's answer, or None when Redis is down (fail open; see the module docstring)."""
        now = time.monotonic()
        if now < self._down_until:
            if hasattr(pending, "close"):
                pending.close()  # the coroutine is never awaited: close it quietly
            return None
        try:
            result = await pending
        except (RedisError, OSError) as exc:
            self._down_until = now + self._retry_interval
            if self._down_since is None:
                self._down_since = now
                log.warning(
                    "reasoning store: Redis unavailable, thinking is neither kept nor restored until it is back",
                    extra={"fields": {"error": f"{type(exc).__name__}: {exc}"}},
                )
            return None
        if self._down_since is not None:
            log.info(
                "reasoning store: Redis is back", extra={"fields": {"down_seconds": round(now - self._down_since, 1)}}
            )
            self._down_since = None
        return result
