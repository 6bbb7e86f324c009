"""Thinking a client could not carry, kept by the gateway and put back on the next turn.

An OpenAI Chat client has no field for an Anthropic thinking signature (or redacted thinking),
so it sends the assistant turn back without it, and Anthropic then rejects the tool loop or
drops the thinking. The gateway remembers each answer's reasoning blocks under the ids of the
tool calls that followed them (and under the answer's text), and restores them when the same
assistant turn comes back without usable reasoning.

Entries are scoped by the request's owner (the caller's key) and its conversation (a hash of its
first user turn): another key sending the same answer text never receives them, and neither does
another conversation of the same key.

In memory, bounded (least recently used out first): several replicas each keep their own, so a
follow-up that lands on another replica loses the thinking, as it would without the store.
"""

from __future__ import annotations

import hashlib
from collections import Counter, OrderedDict
from dataclasses import replace

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


def _text_key(text: str) -> str:
    return "text:" + hashlib.sha256(text.strip().encode()).hexdigest()[:32]


def _keys(content: list[Block], scope: str) -> list[str]:
    ids = [b.id for b in content if isinstance(b, ToolCallBlock)]
    if ids:
        return [f"{scope}|call:{ids[0]}"]
    text = "".join(b.text for b in content if isinstance(b, TextBlock))
    return [f"{scope}|{_text_key(text)}"] if text.strip() else []


def conversation_scope(request: ChatRequest) -> str:
    """The owner and the conversation a request belongs to, as the store's key prefix."""
    first = next((m for m in request.messages if m.role == "user"), None)
    text = "".join(b.text for b in first.content if isinstance(b, TextBlock)) if first else ""
    return f"{request.owner}|{hashlib.sha256(text.encode()).hexdigest()[:16]}"


class ReasoningStore:
    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, list[ReasoningBlock]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def remember(self, content: list[Block], scope: str) -> None:
        blocks = [b for b in content if isinstance(b, ReasoningBlock) and b.opaque is not None]
        if not blocks:
            return
        for key in _keys(content, scope):
            self._items[key] = blocks
            self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def restore(
        self, messages: list[Message], upstream_origin: str, repairs: Counter[str], scope: str
    ) -> list[Message]:
        """Assistant turns without reasoning this upstream can verify get the stored blocks back."""
        if not self._items:
            return messages
        out = []
        for m in messages:
            if m.role == "assistant" and not _has_usable(m.content, upstream_origin):
                stored = next((self._items[k] for k in _keys(m.content, scope) if k in self._items), None)
                if stored and all(b.opaque and b.opaque.origin == upstream_origin for b in stored):
                    others = [b for b in m.content if not isinstance(b, ReasoningBlock)]
                    m = replace(m, content=[*stored, *others])
                    repairs["reasoning_restored"] += 1
            out.append(m)
        return out

    def observer(self, request: ChatRequest) -> StreamObserver:
        return StreamObserver(self, conversation_scope(request))


def _has_usable(content: list[Block], origin: str) -> bool:
    return any(isinstance(b, ReasoningBlock) and b.opaque is not None and b.opaque.origin == origin for b in content)


class StreamObserver:
    """Collects a streamed answer's reasoning blocks and what identifies its turn."""

    def __init__(self, store: ReasoningStore, scope: str) -> None:
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

    def commit(self) -> None:
        if self.active:
            self.store.remember(self.blocks, self.scope)
