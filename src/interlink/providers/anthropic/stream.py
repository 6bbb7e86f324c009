"""Anthropic Messages SSE → core events (`AnthropicStreamDecoder`).

Handles what real Anthropic (and Anthropic-compatible) streams do: `ping` anywhere, JSON padded
with spaces, tool_use whose start already carries the input, a tool_use cut by max_tokens that
never gets its `content_block_stop` (closed before `message_delta`), a repeated `message_start`
with the same id (ignored), revised input/cache counts in `message_delta` (the last one wins),
`event: error` mid-stream. Server tool calls (`server_tool_use`, `mcp_tool_use`) stream their
input as JSON deltas the core cannot attach to a raw block, so they are held until their stop and
emitted complete. Citations, which have no core delta event, are appended to the `citations`
list of the text block already started (the assembler and encoders hold that same list).
"""

from __future__ import annotations

import contextlib
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
    Opaque,
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
    Usage,
)
from interlink.providers.anthropic.errors import error_from_payload
from interlink.providers.anthropic.response import merge_usage, stop_reason, thinking_opaque
from interlink.sse import ServerSentEvent


@dataclass(slots=True)
class _Open:
    """The upstream block currently open. `index` is ours (None while a raw block is held)."""

    upstream: Any
    kind: str  # text | reasoning | tool | raw | held
    index: int | None
    text: TextBlock | None = None
    pending_input: Any = None  # tool input given whole in the start event
    held: dict[str, Any] | None = None
    json: list[str] = field(default_factory=list)


class AnthropicStreamDecoder:
    def __init__(self, provider: str | None = None) -> None:
        self.provider = provider
        self.message_id: str | None = None
        self.usage = Usage()
        self.next_index = 0
        self.open: _Open | None = None
        self.saw_delta = False
        self.done = False

    def feed(self, event: ServerSentEvent) -> list[Event]:
        if self.done:
            return []
        data = event.data.strip()
        if not data or data == "[DONE]":
            return []
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            # The official SDKs would raise on this event: end the stream with an error rather
            # than relay or skip what the client cannot parse.
            self.done = True
            error = GatewayError(
                ErrorKind.API_ERROR, f"upstream sent a malformed event: {data[:200]}", provider=self.provider
            )
            return [StreamError(error)]
        if not isinstance(payload, dict):
            return []
        kind = payload.get("type") or event.event
        if kind == "error":
            self.done = True
            return [StreamError(error_from_payload(payload, provider=self.provider))]
        if kind == "message_start":
            return self._message_start(payload)
        if kind not in (
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ):
            return []  # ping and event types added after this code was written
        if self.message_id is None:
            return self._fail(ErrorKind.API_ERROR, f"upstream sent {kind} before message_start")
        match kind:
            case "content_block_start":
                return self._block_start(payload)
            case "content_block_delta":
                return self._block_delta(payload)
            case "content_block_stop":
                return self._block_stop(payload.get("index"))
            case "message_delta":
                return self._message_delta(payload)
        return self._message_stop()

    def close(self) -> list[Event]:
        if self.done:
            return []
        return self._fail(ErrorKind.CONNECTION, "upstream stream ended before its terminal event")

    def _fail(self, kind: ErrorKind, message: str) -> list[Event]:
        self.done = True
        return [StreamError(GatewayError(kind, message, provider=self.provider))]

    def _message_start(self, payload: dict[str, Any]) -> list[Event]:
        message = payload.get("message")
        message = message if isinstance(message, dict) else {}
        message_id = str(message.get("id") or "")
        if self.message_id is not None:
            if message_id == self.message_id:
                return []  # a replayed start of the same message
            return self._fail(
                ErrorKind.API_ERROR,
                f"upstream started message {message_id!r} inside message {self.message_id!r}",
            )
        self.message_id = message_id
        self.usage = merge_usage(Usage(), message.get("usage"))
        return [ResponseStart(id=message_id, model=str(message.get("model") or ""), usage=self.usage)]

    def _new_index(self) -> int:
        self.next_index += 1
        return self.next_index - 1

    def _block_start(self, payload: dict[str, Any]) -> list[Event]:
        events = self._close_open()
        block = payload.get("content_block")
        block = block if isinstance(block, dict) else {}
        upstream = payload.get("index")
        match block.get("type"):
            case "text":
                citations = block.get("citations")
                text = TextBlock(text="", citations=[] if isinstance(citations, list) else None)
                index = self._new_index()
                self.open = _Open(upstream, "text", index, text=text)
                events.append(BlockStart(index, text))
                if isinstance(citations, list) and citations:
                    text.citations = list(citations)
                events += self._delta(TextDelta(_str(block.get("text"))))
            case "thinking":
                index = self._new_index()
                self.open = _Open(upstream, "reasoning", index)
                events.append(BlockStart(index, ReasoningBlock()))
                events += self._delta(ReasoningDelta(_str(block.get("thinking"))))
                opaque = thinking_opaque(block.get("signature"))
                events += self._delta(SignatureDelta(opaque)) if opaque else []
            case "redacted_thinking":
                index = self._new_index()
                self.open = _Open(upstream, "reasoning", index)
                redacted = ReasoningBlock(opaque=Opaque("anthropic", "redacted", _str(block.get("data"))))
                events.append(BlockStart(index, redacted))
            case "tool_use":
                index = self._new_index()
                self.open = _Open(upstream, "tool", index, pending_input=block.get("input") or None)
                call = ToolCallBlock(id=_str(block.get("id")), name=_str(block.get("name")))
                events.append(BlockStart(index, call))
            case _ if "input" in block:
                self.open = _Open(upstream, "held", None, held=block)
            case _:
                index = self._new_index()
                self.open = _Open(upstream, "raw", index)
                events.append(BlockStart(index, RawBlock("anthropic", block)))
        return events

    def _delta(self, delta: Any) -> list[Event]:
        if self.open is None or self.open.index is None:
            return []
        if isinstance(delta, TextDelta | ReasoningDelta) and not delta.text:
            return []
        if isinstance(delta, ToolArgsDelta) and not delta.json:
            return []
        return [BlockDelta(self.open.index, delta)]

    def _block_delta(self, payload: dict[str, Any]) -> list[Event]:
        current = self.open
        delta = payload.get("delta")
        if current is None or payload.get("index") != current.upstream or not isinstance(delta, dict):
            return []
        match delta.get("type"), current.kind:
            case "text_delta", "text":
                return self._delta(TextDelta(_str(delta.get("text"))))
            case "citations_delta", "text" if isinstance(delta.get("citation"), dict):
                assert current.text is not None
                if current.text.citations is None:
                    current.text.citations = []
                current.text.citations.append(delta["citation"])
            case "thinking_delta", "reasoning":
                return self._delta(ReasoningDelta(_str(delta.get("thinking"))))
            case "signature_delta", "reasoning" if _str(delta.get("signature")):
                return self._delta(SignatureDelta(Opaque("anthropic", "signature", delta["signature"])))
            case "input_json_delta", "tool":
                partial = _str(delta.get("partial_json"))
                if partial:
                    current.pending_input = None  # the deltas carry the whole input
                return self._delta(ToolArgsDelta(partial))
            case "input_json_delta", "held":
                current.json.append(_str(delta.get("partial_json")))
        return []

    def _block_stop(self, upstream: Any) -> list[Event]:
        if self.open is None or upstream != self.open.upstream:
            return []
        return self._close_open()

    def _close_open(self) -> list[Event]:
        current, self.open = self.open, None
        if current is None:
            return []
        if current.kind == "held":
            return self._release_held(current)
        events: list[Event] = []
        index = current.index
        if index is None:  # only a held block has no index, and it was released above
            return events
        if current.kind == "tool" and current.pending_input is not None:
            events.append(BlockDelta(index, ToolArgsDelta(orjson.dumps(current.pending_input).decode())))
        events.append(BlockStop(index))
        return events

    def _release_held(self, current: _Open) -> list[Event]:
        data = dict(current.held or {})
        text = "".join(current.json).strip()
        if text:
            with contextlib.suppress(orjson.JSONDecodeError):  # cut mid-JSON: keep the input the start gave
                data["input"] = orjson.loads(text)
        index = self._new_index()
        return [BlockStart(index, RawBlock("anthropic", data)), BlockStop(index)]

    def _message_delta(self, payload: dict[str, Any]) -> list[Event]:
        events = self._close_open()
        delta = payload.get("delta")
        delta = delta if isinstance(delta, dict) else {}
        self.usage = merge_usage(self.usage, payload.get("usage"))
        sequence = delta.get("stop_sequence")
        self.saw_delta = True
        events.append(
            ResponseDelta(
                stop_reason=stop_reason(delta.get("stop_reason")),
                stop_sequence=sequence if isinstance(sequence, str) else None,
                usage=self.usage,
            )
        )
        return events

    def _message_stop(self) -> list[Event]:
        events = self._close_open()
        if not self.saw_delta:
            events.append(ResponseDelta(usage=self.usage))
        self.done = True
        events.append(ResponseStop())
        return events


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""
