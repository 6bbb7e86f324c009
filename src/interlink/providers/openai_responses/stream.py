"""Upstream Responses SSE -> core events (`ResponsesStreamDecoder`).

State is keyed by `output_index`, never by `item_id` (GitHub Copilot rotates item ids on every
event). Each output item becomes one or more core blocks; items are emitted in the order they
first appeared, and events of a later item that arrive while an earlier one is still open are
buffered, so blocks always come out sequential and densely indexed. Tolerated variants: summary
or raw `reasoning_text` deltas (LM Studio, DeepSeek), arguments only on `.done` (LM Studio),
no `sequence_number` (older API), nested or flat `error` events, `[DONE]`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from interlink.core import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ErrorKind,
    Event,
    GatewayError,
    RawBlock,
    ReasoningBlock,
    ReasoningDelta,
    ResponseDelta,
    ResponseStart,
    ResponseStop,
    SignatureDelta,
    StreamError,
    TextBlock,
    TextDelta,
    ToolArgsDelta,
    ToolCallBlock,
)
from interlink.providers import ProviderSettings
from interlink.providers.openai_responses.errors import error_from_object
from interlink.providers.openai_responses.response import (
    TOOL_ITEMS,
    item_blocks,
    reasoning_opaque,
    reasoning_text,
    stop_reason_from,
    usage_from,
)
from interlink.sse import ServerSentEvent

# An op is ("start", block) | ("delta", delta) | ("stop", None), numbered when emitted.
Op = tuple[str, Any]


@dataclass(slots=True)
class _Slot:
    kind: str | None = None
    ops: list[Op] = field(default_factory=list)
    open: bool = False
    started_any: bool = False
    done: bool = False
    core_index: int = -1
    content_index: int | None = None
    text_parts: set[Any] = field(default_factory=set)
    """Part keys (summary/content index) that got deltas, so `.done` texts are not repeated."""
    item_id: str | None = None
    reasoning_len: int = 0
    last_part: Any = None
    arguments: str = ""


class ResponsesStreamDecoder:
    def __init__(self, *, settings: ProviderSettings | None = None) -> None:
        self._provider = settings.name if settings else None
        self._slots: dict[int, _Slot] = {}
        self._queue: list[int] = []
        self._out: list[Event] = []
        self._next_block = 0
        self._started = False
        self._finished = False
        self._last_index = 0
        self._had_tool = False
        self._had_refusal = False

    # --- public --------------------------------------------------------------------------------

    def feed(self, event: ServerSentEvent) -> list[Event]:
        if self._finished or not event.data or event.data.startswith("[DONE]"):
            return []
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            # The official SDK would raise on this event: end the stream with an error rather
            # than relay or skip what the client cannot parse.
            self._finished = True
            message = f"upstream sent a malformed event: {event.data[:200]}"
            return [StreamError(GatewayError(ErrorKind.API_ERROR, message, provider=self._provider))]
        if not isinstance(data, dict):
            return []
        kind = data.get("type") or event.event or ""
        self._out = []
        self._dispatch(str(kind), data)
        return self._out

    def close(self) -> list[Event]:
        if self._finished:
            return []
        self._finished = True
        message = "upstream stream ended before its terminal event"
        return [StreamError(GatewayError(ErrorKind.CONNECTION, message, provider=self._provider))]

    # --- dispatch ------------------------------------------------------------------------------

    def _dispatch(self, kind: str, data: dict[str, Any]) -> None:
        if kind in ("response.created", "response.in_progress", "response.queued"):
            self._start(data.get("response"))
        elif kind == "response.output_item.added":
            self._item_added(self._index(data), data.get("item") or {})
        elif kind == "response.output_item.done":
            self._item_done(self._index(data), data.get("item") or {})
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            key = (kind.split(".")[1], data.get("summary_index", data.get("content_index", 0)))
            self._reasoning(self._index(data), key, data.get("delta"), from_done=False)
        elif kind in ("response.reasoning_summary_text.done", "response.reasoning_text.done"):
            key = (kind.split(".")[1], data.get("summary_index", data.get("content_index", 0)))
            self._reasoning(self._index(data), key, data.get("text"), from_done=True)
        elif kind == "response.content_part.added":
            part = data.get("part") or {}
            if part.get("type") in ("output_text", "refusal"):
                self._text_part(self._index(data), data.get("content_index", 0))
        elif kind in ("response.output_text.delta", "response.refusal.delta"):
            self._text(self._index(data), data.get("content_index", 0), data.get("delta"), kind, False)
        elif kind in ("response.output_text.done", "response.refusal.done"):
            text = data.get("text") if kind == "response.output_text.done" else data.get("refusal")
            self._text(self._index(data), data.get("content_index", 0), text, kind, True)
        elif kind == "response.function_call_arguments.delta":
            self._arguments(self._index(data), data.get("delta"), from_done=False)
        elif kind == "response.function_call_arguments.done":
            self._arguments(self._index(data), data.get("arguments"), from_done=True)
        elif kind in ("response.completed", "response.incomplete"):
            self._terminal(data.get("response") or {})
        elif kind == "response.failed":
            error = (data.get("response") or {}).get("error")
            self._fail(error if isinstance(error, dict) else {"message": "upstream response failed"})
        elif kind == "error":
            nested = data.get("error")
            self._fail(nested if isinstance(nested, dict) else data)

    def _index(self, data: dict[str, Any]) -> int:
        index = data.get("output_index")
        if isinstance(index, int) and not isinstance(index, bool):
            self._last_index = index
        return self._last_index

    # --- emission ------------------------------------------------------------------------------

    def _start(self, response: Any) -> None:
        if self._started:
            return
        self._started = True
        response = response if isinstance(response, dict) else {}
        self._out.append(ResponseStart(id=str(response.get("id") or ""), model=str(response.get("model") or "")))

    def _slot(self, index: int, kind: str | None = None) -> _Slot:
        slot = self._slots.get(index)
        if slot is None:
            slot = self._slots[index] = _Slot(kind=kind)
            self._queue.append(index)
        elif slot.kind is None:
            slot.kind = kind
        return slot

    def _op(self, index: int, op: str, value: Any = None) -> None:
        slot = self._slots[index]
        if op == "start":
            if slot.open:
                self._op(index, "stop")
            slot.open = slot.started_any = True
        elif op == "stop":
            if not slot.open:
                return
            slot.open = False
        slot.ops.append((op, value))
        self._flush()

    def _flush(self) -> None:
        """Emit the ops of the head item, moving on while the head is complete."""
        while self._queue:
            slot = self._slots[self._queue[0]]
            if slot.ops:
                self._start(None)
            for op, value in slot.ops:
                if op == "start":
                    slot.core_index = self._next_block
                    self._next_block += 1
                    self._out.append(BlockStart(slot.core_index, value))
                elif op == "delta":
                    self._out.append(BlockDelta(slot.core_index, value))
                else:
                    self._out.append(BlockStop(slot.core_index))
            slot.ops.clear()
            if not slot.done:
                return
            self._queue.pop(0)

    # --- items ---------------------------------------------------------------------------------

    def _item_added(self, index: int, item: dict[str, Any]) -> None:
        kind = item.get("type")
        slot = self._slot(index, kind)
        if kind == "reasoning":
            # Opened on its first text or at done: an empty reasoning item makes no block.
            slot.item_id = item.get("id")
        elif kind == "function_call" and not slot.started_any:
            block = ToolCallBlock(id=str(item.get("call_id") or item.get("id") or ""), name=str(item.get("name") or ""))
            self._op(index, "start", block)
            if item.get("arguments"):
                self._arguments(index, item["arguments"], from_done=False)

    def _item_done(self, index: int, item: dict[str, Any]) -> None:
        kind = item.get("type")
        slot = self._slot(index, kind)
        if kind in TOOL_ITEMS:
            self._had_tool = True
        if kind == "message" and any(
            isinstance(p, dict) and p.get("type") == "refusal" for p in item.get("content") or []
        ):
            self._had_refusal = True
        if kind == "reasoning":
            self._reasoning_done(index, slot, item)
        elif kind == "function_call":
            if not slot.started_any:
                self._item_added(index, item)
            if not slot.arguments and item.get("arguments"):
                self._arguments(index, item["arguments"], from_done=True)
        elif kind == "message":
            if not slot.started_any:
                for block in item_blocks(item):
                    self._whole_block(index, block)
        elif not slot.started_any:
            self._op(index, "start", RawBlock(origin="openai-responses", data=item))
        self._op(index, "stop")
        slot.done = True
        self._flush()

    def _whole_block(self, index: int, block: Any) -> None:
        text = block.text
        block.text = ""
        self._op(index, "start", block)
        if text:
            self._op(index, "delta", TextDelta(text))
        self._op(index, "stop")

    def _reasoning_done(self, index: int, slot: _Slot, item: dict[str, Any]) -> None:
        text = reasoning_text(item) if slot.reasoning_len == 0 else ""
        opaque = reasoning_opaque(item)
        if not slot.started_any and (text or opaque):
            self._op(index, "start", ReasoningBlock(id=item.get("id") or slot.item_id))
        if text:
            self._op(index, "delta", ReasoningDelta(text))
        if opaque is not None:
            self._op(index, "delta", SignatureDelta(opaque))

    def _reasoning(self, index: int, key: Any, text: Any, *, from_done: bool) -> None:
        if not isinstance(text, str) or not text:
            return
        slot = self._slot(index, "reasoning")
        if from_done and key in slot.text_parts:
            return
        if not slot.started_any:
            self._op(index, "start", ReasoningBlock(id=slot.item_id))
        if slot.reasoning_len and key != slot.last_part:
            self._op(index, "delta", ReasoningDelta("\n\n"))
            slot.reasoning_len += 2
        slot.last_part = key
        slot.text_parts.add(key)
        slot.reasoning_len += len(text)
        self._op(index, "delta", ReasoningDelta(text))

    def _text_part(self, index: int, content_index: Any) -> None:
        slot = self._slot(index, "message")
        if slot.content_index != content_index or not slot.open:
            slot.content_index = content_index
            self._op(index, "start", TextBlock(text=""))

    def _text(self, index: int, content_index: Any, text: Any, kind: str, from_done: bool) -> None:
        if not isinstance(text, str):
            return
        if "refusal" in kind:
            self._had_refusal = True
        slot = self._slot(index, "message")
        if from_done and content_index in slot.text_parts:
            return
        if slot.content_index != content_index or not slot.open:
            self._text_part(index, content_index)
        slot.text_parts.add(content_index)
        if text:
            self._op(index, "delta", TextDelta(text))

    def _arguments(self, index: int, text: Any, *, from_done: bool) -> None:
        if not isinstance(text, str) or not text:
            return
        slot = self._slot(index, "function_call")
        if from_done and slot.arguments:
            return
        if not slot.started_any:
            # Arguments without their output_item.added: keep them, the id comes from nowhere.
            self._op(index, "start", ToolCallBlock(id="", name=""))
        slot.arguments += text
        self._op(index, "delta", ToolArgsDelta(text))

    # --- ends ----------------------------------------------------------------------------------

    def _terminal(self, response: dict[str, Any]) -> None:
        self._start(response)
        if not self._slots:
            for i, item in enumerate(response.get("output") or []):
                if isinstance(item, dict):
                    self._item_done(i, item)
        for index in list(self._queue):
            slot = self._slots[index]
            self._op(index, "stop")
            slot.done = True
        self._flush()
        output = [i for i in response.get("output") or [] if isinstance(i, dict)]
        had_tool = self._had_tool or any(i.get("type") in TOOL_ITEMS for i in output)
        reason = stop_reason_from(response, had_tool, self._had_refusal)
        self._out.append(ResponseDelta(stop_reason=reason, usage=usage_from(response.get("usage"))))
        self._out.append(ResponseStop())
        self._finished = True

    def _fail(self, error: dict[str, Any]) -> None:
        self._finished = True
        self._out.append(StreamError(error_from_object(error, default=ErrorKind.API_ERROR, provider=self._provider)))
