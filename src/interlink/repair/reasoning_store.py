"""Thinking a client could not carry, kept by the gateway and put back on the next turn.

An OpenAI Chat client has no field for an Anthropic thinking signature (or redacted thinking),
so it sends the assistant turn back without it, and Anthropic then rejects the tool loop or
drops the thinking. The gateway remembers each answer's reasoning blocks under the ids of the
tool calls that followed them (and under the answer's text), and restores them when the same
assistant turn comes back without usable reasoning.

Entries are scoped by the request's owner (the caller's key) and its conversation (a hash of its
first user turn): another key sending the same answer text never receives them, and neither does
another conversation of the same key.

Two backends behind one interface (`ReasoningBackend`): this module's `ReasoningStore`, in the
process (each replica its own), and `reasoning_redis.RedisReasoningStore`, in Redis, which every
replica shares, chosen by `create_store` when `redis_url` is set. Both expire entries after
`StoreLimits.ttl_seconds`, keep at most `max_entries` (oldest out first) and skip an answer whose
reasoning is over `max_entry_bytes`. The dispatcher asks the backend once per request for what
the request's assistant turns may need (`recall`, async: one Redis round trip), and repair then
restores from that snapshot synchronously, per attempt.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from interlink.core import (
    BlockDelta,
    BlockStart,
    ChatRequest,
    Event,
    Message,
    ReasoningBlock,
    ReasoningDelta,
    SignatureDelta,
    TextBlock,
    TextDelta,
    ToolCallBlock,
)
from interlink.core.content import Block


@dataclass(frozen=True, slots=True)
class StoreLimits:
    ttl_seconds: float = 86_400.0
    max_entries: int = 10_000
    max_entry_bytes: int = 256 * 1024


def _text_key(text: str) -> str:
    return "text:" + hashlib.sha256(text.strip().encode()).hexdigest()[:32]


def entry_keys(content: list[Block], scope: str) -> list[str]:
    """The key an answer (or the same assistant turn sent back) is found under."""
    ids = [b.id for b in content if isinstance(b, ToolCallBlock)]
    if ids:
        return [f"{scope}|call:{ids[0]}"]
    text = "".join(b.text for b in content if isinstance(b, TextBlock))
    return [f"{scope}|{_text_key(text)}"] if text.strip() else []


def kept_blocks(content: list[Block]) -> list[ReasoningBlock]:
    """What is worth keeping of an answer: reasoning with an opaque part only its API can read."""
    return [b for b in content if isinstance(b, ReasoningBlock) and b.opaque is not None]


def wanted_keys(messages: list[Message], scope: str) -> list[str]:
    """Keys of the assistant turns that come back without opaque reasoning (a restore candidate)."""
    return [
        key
        for m in messages
        if m.role == "assistant" and not any(isinstance(b, ReasoningBlock) and b.opaque for b in m.content)
        for key in entry_keys(m.content, scope)
    ]


def conversation_scope(request: ChatRequest) -> str:
    """The owner and the conversation a request belongs to, as the store's key prefix."""
    first = next((m for m in request.messages if m.role == "user"), None)
    text = "".join(b.text for b in first.content if isinstance(b, TextBlock)) if first else ""
    return f"{request.owner}|{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def _size(blocks: list[ReasoningBlock]) -> int:
    return sum(len(b.text) + (len(b.opaque.value) if b.opaque else 0) + len(b.id or "") for b in blocks)


class ReasoningStore:
    """The in-process backend (bounded, least recently written out first), and the snapshot a
    request restores from whichever backend it came from."""

    def __init__(self, limits: StoreLimits | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or StoreLimits()
        self.clock = clock
        self._items: OrderedDict[str, tuple[float, list[ReasoningBlock]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, key: str, blocks: list[ReasoningBlock]) -> None:
        self._items[key] = (self.clock() + self.limits.ttl_seconds, blocks)
        self._items.move_to_end(key)
        while len(self._items) > self.limits.max_entries:
            self._items.popitem(last=False)

    def get(self, key: str) -> list[ReasoningBlock] | None:
        found = self._items.get(key)
        if found is None:
            return None
        if found[0] <= self.clock():
            del self._items[key]
            return None
        return found[1]

    def remember(self, content: list[Block], scope: str) -> None:
        blocks = kept_blocks(content)
        if not blocks or _size(blocks) > self.limits.max_entry_bytes:
            return
        for key in entry_keys(content, scope):
            self.put(key, blocks)

    def restore(
        self, messages: list[Message], upstream_origin: str, repairs: Counter[str], scope: str
    ) -> list[Message]:
        """Assistant turns without reasoning this upstream can verify get the stored blocks back."""
        if not self._items:
            return messages
        out = []
        for m in messages:
            if m.role == "assistant" and not _has_usable(m.content, upstream_origin):
                stored = next((s for s in map(self.get, entry_keys(m.content, scope)) if s is not None), None)
                if stored and all(b.opaque and b.opaque.origin == upstream_origin for b in stored):
                    others = [b for b in m.content if not isinstance(b, ReasoningBlock)]
                    m = replace(m, content=[*stored, *others])
                    repairs["reasoning_restored"] += 1
            out.append(m)
        return out

    # -- ReasoningBackend --------------------------------------------------------------------

    async def recall(self, request: ChatRequest) -> ReasoningStore:
        return self  # already local: the snapshot is the store itself

    async def keep(self, content: list[Block], scope: str) -> None:
        self.remember(content, scope)

    def observer(self, request: ChatRequest) -> StreamObserver:
        return StreamObserver(self, conversation_scope(request))

    async def close(self) -> None:
        return None


class ReasoningBackend(Protocol):
    """Where kept reasoning lives: this process (`ReasoningStore`) or Redis (`reasoning_redis`)."""

    limits: StoreLimits

    async def recall(self, request: ChatRequest) -> ReasoningStore:
        """What `request`'s assistant turns may need, to restore from (`ReasoningStore.restore`)."""
        ...

    async def keep(self, content: list[Block], scope: str) -> None:
        """Keep an answer's opaque reasoning under the keys its turn will come back with."""
        ...

    def observer(self, request: ChatRequest) -> StreamObserver: ...

    async def close(self) -> None: ...


def create_store(redis_url: str | None, limits: StoreLimits | None = None) -> ReasoningBackend:
    """Redis-backed when `redis_url` is set (every replica finds what another kept), else in-process."""
    if redis_url:
        # Imported here so a deployment without Redis never imports the redis client for this.
        from interlink.repair.reasoning_redis import RedisReasoningStore

        return RedisReasoningStore(redis_url, limits)
    return ReasoningStore(limits)


def _has_usable(content: list[Block], origin: str) -> bool:
    return any(isinstance(b, ReasoningBlock) and b.opaque is not None and b.opaque.origin == origin for b in content)


class StreamObserver:
    """Collects a streamed answer's reasoning blocks and what identifies its turn."""

    def __init__(self, store: ReasoningBackend, scope: str) -> None:
        self.store = store
        self.scope = scope
        self.blocks: list[Block] = []
        self.active = False
        """Only answers with reasoning are worth keeping; until one shows up, do no work."""

    def feed(self, event: Event) -> None:
        if not self.active:
            if not (isinstance(event, BlockStart) and isinstance(event.block, ReasoningBlock)):
                return
            self.active = True
        if isinstance(event, BlockStart):
            block = event.block
            if isinstance(block, ReasoningBlock):
                self.blocks.append(ReasoningBlock(text=block.text, opaque=block.opaque, id=block.id))
            elif isinstance(block, ToolCallBlock):
                self.blocks.append(ToolCallBlock(id=block.id, name=block.name))
            elif isinstance(block, TextBlock):
                self.blocks.append(TextBlock(""))
        elif isinstance(event, BlockDelta) and self.blocks:
            last, delta = self.blocks[-1], event.delta
            if isinstance(last, ReasoningBlock) and isinstance(delta, ReasoningDelta):
                last.text += delta.text
            elif isinstance(last, ReasoningBlock) and isinstance(delta, SignatureDelta):
                last.opaque = delta.opaque
            elif isinstance(last, TextBlock) and isinstance(delta, TextDelta):
                last.text += delta.text

    async def commit(self) -> None:
        if self.active:
            await self.store.keep(self.blocks, self.scope)
