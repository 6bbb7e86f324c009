"""The reasoning store in a real Redis (`repair/reasoning_redis.py`): what one instance keeps another
restores, scoped by key and conversation; entries expire after their TTL; at most `max_entries`
are kept (oldest out); an entry over `max_entry_bytes` is not kept; a dead Redis fails open."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from interlink.core import ChatRequest, Message, Opaque, ReasoningBlock, TextBlock, ToolCallBlock
from interlink.repair.reasoning_redis import RedisReasoningStore
from interlink.repair.reasoning_store import StoreLimits, conversation_scope
from tests.replicas.test_replicas import REDIS_URL, require_redis


def answer(call_id: str, thinking: str = "plan") -> list:
    return [
        ReasoningBlock(thinking, Opaque("anthropic", "signature", f"sig-{call_id}")),
        ToolCallBlock(call_id, "bash", "{}"),
    ]


def follow_up(call_id: str, owner: str = "key_a", first: str = "fix the tests") -> ChatRequest:
    """The next turn as a Chat client sends it: the call without its thinking."""
    return ChatRequest(
        model="m",
        owner=owner,
        messages=[
            Message("user", [TextBlock(first)]),
            Message("assistant", [ToolCallBlock(call_id, "bash", "{}")]),
            Message("user", [TextBlock("ok")]),
        ],
    )


async def restored(store: RedisReasoningStore, request: ChatRequest) -> list:
    snapshot = await store.recall(request)
    repairs: Counter[str] = Counter()
    messages = snapshot.restore(request.messages, "anthropic", repairs, conversation_scope(request))
    return [b for b in messages[1].content if isinstance(b, ReasoningBlock)]


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    require_redis()
    name = f"interlink:test-{secrets.token_hex(4)}:rs:"
    yield name
    client = aioredis.from_url(REDIS_URL)
    keys = [k async for k in client.scan_iter(f"{name}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def store(prefix: str, **limits: Any) -> RedisReasoningStore:
    return RedisReasoningStore(REDIS_URL, StoreLimits(**limits), prefix=prefix)


async def test_what_one_replica_keeps_another_restores_within_its_scope(prefix: str) -> None:
    one, two = store(prefix), store(prefix)
    await one.keep(answer("toolu_1"), conversation_scope(follow_up("toolu_1")))
    blocks = await restored(two, follow_up("toolu_1"))
    assert [(b.text, b.opaque) for b in blocks] == [("plan", Opaque("anthropic", "signature", "sig-toolu_1"))]
    assert await restored(two, follow_up("toolu_1", owner="key_b")) == []  # another key
    assert await restored(two, follow_up("toolu_1", first="another session")) == []  # another conversation
    client = aioredis.from_url(REDIS_URL)
    keys = [k async for k in client.scan_iter(f"{prefix}key_a|*")]
    assert len(keys) == 1 and 86_000_000 < await client.pttl(keys[0]) <= 86_400_000  # the default TTL
    await client.aclose()
    await one.close()
    await two.close()


async def test_entries_expire_after_their_ttl(prefix: str) -> None:
    brief = store(prefix, ttl_seconds=1.0)
    await brief.keep(answer("toolu_2"), conversation_scope(follow_up("toolu_2")))
    assert await restored(brief, follow_up("toolu_2"))
    await asyncio.sleep(1.3)
    assert await restored(brief, follow_up("toolu_2")) == []
    await brief.close()


async def test_at_most_max_entries_are_kept_oldest_out(prefix: str) -> None:
    capped = store(prefix, max_entries=3)
    for i in range(5):
        await capped.keep(answer(f"toolu_c{i}"), conversation_scope(follow_up(f"toolu_c{i}")))
    kept = [bool(await restored(capped, follow_up(f"toolu_c{i}"))) for i in range(5)]
    assert kept == [False, False, True, True, True]
    client = aioredis.from_url(REDIS_URL)
    assert await client.zcard(f"{prefix}index") == 3
    await client.aclose()
    await capped.close()


async def test_an_entry_over_the_size_cap_is_not_kept(prefix: str) -> None:
    small = store(prefix, max_entry_bytes=1024)
    await small.keep(answer("toolu_big", thinking="x" * 2000), conversation_scope(follow_up("toolu_big")))
    await small.keep(answer("toolu_ok"), conversation_scope(follow_up("toolu_ok")))
    assert await restored(small, follow_up("toolu_big")) == []
    assert await restored(small, follow_up("toolu_ok"))
    await small.close()


async def test_a_dead_redis_fails_open() -> None:
    dead = RedisReasoningStore("redis://127.0.0.1:1/0", timeout=0.2)
    await dead.keep(answer("toolu_x"), "s")  # no exception: the answer still goes to the client
    assert await restored(dead, follow_up("toolu_x")) == []
    await dead.close()
