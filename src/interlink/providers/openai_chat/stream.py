"""Chat Completions SSE (OpenAI and compatible servers) -> core events.

Reads `delta.reasoning_content ?? delta.reasoning`, `content`, `refusal` and `tool_calls` of
choice 0, and turns them into sequential, densely indexed blocks. Tool-call deltas are keyed by
`index`, else by `id`, else by position (Gemini omits `index`). A call is streamed live while
it is the newest one; a call that starts while the live one's arguments are still incomplete
JSON is buffered and emitted whole at the end, so an upstream that interleaves parallel calls
still yields a valid block sequence. Usage is taken from any chunk (finish chunk, a separate
`choices:[]` chunk, Groq's `x_groq.usage`); the response ends at `[DONE]`, or at the end of the
body once a finish_reason was seen.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from interlink.core import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ErrorKind,
    Event,
    GatewayError,
    ReasoningBlock,
    ReasoningDelta,
    ResponseDelta,
    ResponseStart,
    ResponseStop,
    StopReason,
    StreamError,
    TextBlock,
    TextDelta,
    ToolArgsDelta,
    ToolCallBlock,
    Usage,
)
from interlink.providers import ProviderSettings
from interlink.providers.openai_chat.errors import error_from_payload
from interlink.providers.openai_chat.response import (
    arguments_text,
    new_call_id,
    reasoning_text,
    stop_reason,
    stop_sequence,
    usage_from,
)
from interlink.sse import ServerSentEvent


@dataclass(slots=True)
class _Call:
    id: str | None = None
    name: str | None = None
    args: str = ""
    state: str = "new"
    """new (no block yet) -> live (block open) -> closed; or new -> pending (emitted at the end)."""


def _complete_json(text: str) -> bool:
    if not text.strip():
        return False
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


class ChatStreamDecoder:
    def __init__(self, settings: ProviderSettings) -> None:
        self._settings = settings
        self._started = False
        self._done = False
        self._next_index = 0
        self._live: str | None = None
        """"reasoning", "text" or "tool"; the kind of the open block."""
        self._live_call: _Call | None = None
        self._calls: dict[tuple[str, Any], _Call] = {}
        self._by_id: dict[str, tuple[str, Any]] = {}
        self._last_key: tuple[str, Any] | None = None
        self._finish: str | None = None
        self._stop_sequence: str | None = None
        self._usage: Usage | None = None

    # --- public interface -------------------------------------------------------------------

    def feed(self, event: ServerSentEvent) -> list[Event]:
        if self._done:
            return []
        data = event.data.strip()
        if not data:
            return []
        if data == "[DONE]":
            return self._end()
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            message = f"upstream sent a malformed chunk: {data[:200]}"
            return self._fail(GatewayError(ErrorKind.CONNECTION, message))
        if not isinstance(chunk, dict):
            return []
        if chunk.get("error") or event.event == "error":
            return self._fail(error_from_payload(chunk, self._settings))
        events: list[Event] = []
        if not self._started:
            self._started = True
            chunk_id = chunk.get("id")
            events.append(
                ResponseStart(
                    id=chunk_id if isinstance(chunk_id, str) and chunk_id else f"chatcmpl-{uuid.uuid4().hex}",
                    model=str(chunk.get("model") or ""),
                )
            )
        self._read_usage(chunk)
        for choice in chunk.get("choices") or []:
            if isinstance(choice, dict) and choice.get("index", 0) in (0, None):
                events.extend(self._choice(choice))
        return events

    def close(self) -> list[Event]:
        if self._done:
            return []
        if self._finish is not None:
            return self._end()
        return self._fail(GatewayError(ErrorKind.CONNECTION, "upstream stream ended before its terminal event"))

    # --- chunk reading ----------------------------------------------------------------------

    def _read_usage(self, chunk: dict[str, Any]) -> None:
        candidates = [chunk.get("usage")]
        x_groq = chunk.get("x_groq")
        if isinstance(x_groq, dict):
            candidates.append(x_groq.get("usage"))
        for choice in chunk.get("choices") or []:
            if isinstance(choice, dict):
                candidates.append(choice.get("usage"))  # Moonshot puts it on the choice
        for candidate in candidates:
            usage = usage_from(candidate, self._settings.preset)
            if usage is not None:
                self._usage = usage
                return

    def _choice(self, choice: dict[str, Any]) -> list[Event]:
        events: list[Event] = []
        delta = choice.get("delta")
        if isinstance(delta, dict):
            reasoning = reasoning_text(delta)
            if reasoning:
                events += self._piece("reasoning", reasoning)
            content = delta.get("content")
            if isinstance(content, str) and content:
                events += self._piece("text", content)
            refusal = delta.get("refusal")
            if isinstance(refusal, str) and refusal:
                events += self._piece("text", refusal)
            calls = delta.get("tool_calls")
            if isinstance(calls, list):
                for position, call in enumerate(calls):
                    if isinstance(call, dict):
                        events += self._tool_delta(call, position)
        finish = choice.get("finish_reason")
        if isinstance(finish, str) and finish:
            self._finish = finish
            self._stop_sequence = stop_sequence(choice) or self._stop_sequence
        return events

    def _piece(self, kind: str, text: str) -> list[Event]:
        delta = ReasoningDelta(text=text) if kind == "reasoning" else TextDelta(text=text)
        if self._live == kind:
            return [BlockDelta(index=self._next_index - 1, delta=delta)]
        events = self._close_live()
        block = ReasoningBlock() if kind == "reasoning" else TextBlock(text="")
        events += self._open(kind, block)
        events.append(BlockDelta(index=self._next_index - 1, delta=delta))
        return events

    def _open(self, kind: str, block: TextBlock | ReasoningBlock | ToolCallBlock) -> list[Event]:
        self._live = kind
        index = self._next_index
        self._next_index += 1
        return [BlockStart(index=index, block=block)]

    def _close_live(self) -> list[Event]:
        if self._live is None:
            return []
        if self._live_call is not None:
            self._live_call.state = "closed"
            self._live_call = None
        self._live = None
        return [BlockStop(index=self._next_index - 1)]

    # --- tool calls -------------------------------------------------------------------------

    def _tool_key(self, delta: dict[str, Any], position: int) -> tuple[str, Any]:
        call_id = delta.get("id") if isinstance(delta.get("id"), str) and delta.get("id") else None
        if call_id is not None and call_id in self._by_id:
            return self._by_id[call_id]
        index = delta.get("index")
        if isinstance(index, int) and not isinstance(index, bool):
            existing = self._calls.get(("index", index))
            # A server that reuses one index for different calls: tell them apart by id.
            if existing is not None and call_id and existing.id and existing.id != call_id:
                return ("id", call_id)
            return ("index", index)
        if call_id is not None:
            return ("id", call_id)
        return self._last_key or ("position", position)

    def _tool_delta(self, delta: dict[str, Any], position: int) -> list[Event]:
        key = self._tool_key(delta, position)
        self._last_key = key
        call = self._calls.setdefault(key, _Call())
        call_id = delta.get("id")
        if isinstance(call_id, str) and call_id and call.id is None:
            call.id = call_id
            self._by_id[call_id] = key
        function = delta.get("function")
        function = function if isinstance(function, dict) else {}
        name = function.get("name")
        if isinstance(name, str) and name and not call.name:
            call.name = name
        args = arguments_text(function.get("arguments"))
        if call.state == "live":
            return [BlockDelta(index=self._next_index - 1, delta=ToolArgsDelta(json=args))] if args else []
        if call.state == "closed":
            return []  # a fragment after the call was judged complete; nothing can carry it
        call.args += args
        if call.state == "new" and call.name:
            return self._go_live(call)
        return []

    def _go_live(self, call: _Call) -> list[Event]:
        live = self._live_call
        if live is not None and not _complete_json(live.args):
            call.state = "pending"
            return []
        events = self._close_live()
        events += self._open("tool", ToolCallBlock(id=call.id or new_call_id(), name=call.name or ""))
        call.state = "live"
        self._live_call = call
        if call.args:
            events.append(BlockDelta(index=self._next_index - 1, delta=ToolArgsDelta(json=call.args)))
        return events

    def _flush_pending(self) -> list[Event]:
        events: list[Event] = []
        for call in self._calls.values():
            if call.state not in ("new", "pending") or not (call.name or call.args):
                continue
            index = self._next_index
            self._next_index += 1
            block = ToolCallBlock(id=call.id or new_call_id(), name=call.name or "")
            events.append(BlockStart(index=index, block=block))
            if call.args:
                events.append(BlockDelta(index=index, delta=ToolArgsDelta(json=call.args)))
            events.append(BlockStop(index=index))
            call.state = "closed"
        return events

    # --- endings ----------------------------------------------------------------------------

    def _end(self) -> list[Event]:
        if self._finish is None:
            return self._fail(GatewayError(ErrorKind.CONNECTION, "upstream stream ended without a finish_reason"))
        self._done = True
        events = self._close_live() + self._flush_pending()
        has_calls = any(call.state == "closed" for call in self._calls.values())
        reason = stop_reason(self._finish, has_calls)
        sequence = self._stop_sequence
        if sequence and reason == StopReason.END_TURN:
            reason = StopReason.STOP_SEQUENCE
        events.append(
            ResponseDelta(
                stop_reason=reason,
                stop_sequence=sequence if reason == StopReason.STOP_SEQUENCE else None,
                usage=self._usage or Usage(),
            )
        )
        events.append(ResponseStop())
        return events

    def _fail(self, error: GatewayError) -> list[Event]:
        self._done = True
        if error.provider is None:
            error.provider = self._settings.name
        return [StreamError(error=error)]
