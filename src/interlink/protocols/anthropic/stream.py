"""core events → Anthropic Messages SSE (`event:` + `data:` frames), one call per event.

Output follows the real API's grammar, which the official SDKs and the AI SDK depend on:
message_start first (with a usage placeholder), content blocks numbered densely from 0 in the
order they open, tool_use opened with `input:{}` and filled by `input_json_delta`, thinking
opened with `{thinking:"", signature:""}` and signed by `signature_delta` just before its stop,
redacted_thinking complete in its start, message_delta with cumulative usage (output_tokens
always present), message_stop last. Blocks with no Anthropic form (another API's raw blocks) and
text blocks that never receive text are left out, so no index gap and no empty text block (which
Anthropic rejects when the client replays it) reaches the client.
"""

from __future__ import annotations

from typing import Any

import orjson

from interlink.core import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ChatRequest,
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
from interlink.protocols import ModelRename
from interlink.protocols.anthropic.errors import error_body
from interlink.protocols.anthropic.render import (
    message_id,
    render_block,
    render_usage,
    signature_for,
)
from interlink.sse import ServerSentEvent, encode_event


def frame(payload: dict[str, Any]) -> bytes:
    return encode_event(orjson.dumps(payload), payload["type"])


class AnthropicStreamEncoder:
    """Stateful encoder for one response. After an error or message_stop it writes nothing.

    Written so that a stream that breaks stays retryable for Claude Code, which (measured with
    2.1.197) retries a turn when the error event arrives while a block is still open and gives
    up when it arrives after a content_block_stop or with a tool_use shown. So each
    content_block_stop waits until the next block starts or the message ends, a tool_use block
    is held back until it is complete (a tool call the client never saw can simply be made
    again), and an error event is sent as the real API sends it: straight away, no block closed.
    """

    def __init__(self, request: ChatRequest) -> None:
        self.request = request
        self.next_index = 0
        self.open_index: int | None = None  # client index of the open block
        self.open_block: TextBlock | ReasoningBlock | ToolCallBlock | RawBlock | None = None
        self.skipping = False  # the core block currently open has no client form
        self.pending_text_start = False  # text block whose start waits for its first text
        self.pending_signature: Opaque | None = None
        self.cited = 0  # citations already sent for the open text block
        self.started = False
        self.stop_reason: str | None = None
        self.stop_sequence: str | None = None
        self.usage = Usage()
        self.done = False
        self.held: list[bytes] | None = None  # frames of a tool_use block not yet complete
        self.pending_stop = b""  # the last block's content_block_stop, sent with what follows
        self.rename = ModelRename(request.model)
        self.quiet = False

    def _frame(self, payload: dict[str, Any]) -> bytes:
        return b"" if self.quiet else frame(payload)

    @property
    def holding(self) -> bool:
        return self.held is not None

    def keepalive(self) -> bytes:
        return b"" if self.done else frame({"type": "ping"})

    def passthrough(self, raw: ServerSentEvent) -> bytes:
        return self.rename.apply(raw)

    def encode(self, event: Event) -> bytes:
        if self.done:
            return b""
        match event:
            case ResponseStart():
                self.rename.upstream(event.model)
                return self._start(event)
            case BlockStart(block=block):
                out = self._close_block()
                started = self._block_start(block)
                if isinstance(block, ToolCallBlock) and not self.skipping:
                    self.held = [started]
                    return out
                return out + self._flush() + started
            case BlockDelta(delta=delta):
                out = self._delta(delta)
                if self.held is not None:
                    self.held.append(out)
                    return b""
                return out
            case BlockStop():
                return self._close_block()
            case ResponseDelta():
                return self._close_block() + self._flush() + self._message_delta(event)
            case ResponseStop():
                self.done = True
                return self._close_block() + self._flush() + self._frame({"type": "message_stop"})
            case StreamError(error=error):
                return self._error(error)
        return b""

    def _start(self, event: ResponseStart) -> bytes:
        if self.started:
            return b""
        self.started = True
        self.usage = event.usage or Usage()
        message: dict[str, Any] = {
            "id": message_id(event.id),
            "type": "message",
            "role": "assistant",
            "model": self.request.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": render_usage(self.usage),
        }
        return self._frame({"type": "message_start", "message": message})

    def _block_start(self, block: Any) -> bytes:
        self.open_block = block
        self.skipping = False
        self.pending_signature = None
        self.cited = 0
        if isinstance(block, TextBlock):
            self.pending_text_start = True
            return self._text(block.text) if block.text else b""
        if isinstance(block, ReasoningBlock) and not block.redacted:
            self.pending_signature = block.opaque
            start: dict[str, Any] | None = {"type": "thinking", "thinking": "", "signature": ""}
            prefix = block.text
        elif isinstance(block, ToolCallBlock):
            start = {"type": "tool_use", "id": block.id, "name": block.name, "input": {}}
            prefix = block.arguments
        else:
            start, prefix = render_block(block), ""
        if start is None:
            self.skipping = True
            return b""
        out = self._open(start)
        if prefix and isinstance(block, ReasoningBlock):
            out += self._emit_delta({"type": "thinking_delta", "thinking": prefix})
        elif prefix:
            out += self._emit_delta({"type": "input_json_delta", "partial_json": prefix})
        return out

    def _open(self, content_block: dict[str, Any]) -> bytes:
        self.open_index = self.next_index
        self.next_index += 1
        return self._frame({"type": "content_block_start", "index": self.open_index, "content_block": content_block})

    def _emit_delta(self, delta: dict[str, Any]) -> bytes:
        return self._frame({"type": "content_block_delta", "index": self.open_index, "delta": delta})

    def _text(self, text: str) -> bytes:
        out = b""
        if self.pending_text_start:
            self.pending_text_start = False
            out += self._open({"type": "text", "text": ""})
        return out + self._emit_delta({"type": "text_delta", "text": text}) + self._citations()

    def _citations(self) -> bytes:
        """Citations a decoder appended to the open text block's list since the last frame.

        The core has no citation delta event, so decoders that learn citations mid-block add them
        to `TextBlock.citations` of the block they started (the same object reaches us)."""
        block = self.open_block
        if not isinstance(block, TextBlock) or not block.citations or self.open_index is None:
            return b""
        out = b""
        for citation in block.citations[self.cited :]:
            out += self._emit_delta({"type": "citations_delta", "citation": citation})
        self.cited = len(block.citations)
        return out

    def _delta(self, delta: Any) -> bytes:
        if self.skipping or self.open_block is None:
            return b""
        match delta:
            case TextDelta(text=text) if isinstance(self.open_block, TextBlock):
                return self._text(text) if text else self._citations()
            case ReasoningDelta(text=text) if text and self.open_index is not None:
                return self._emit_delta({"type": "thinking_delta", "thinking": text})
            case SignatureDelta(opaque=opaque) if isinstance(self.open_block, ReasoningBlock):
                self.pending_signature = opaque
            case ToolArgsDelta(json=json) if json and isinstance(self.open_block, ToolCallBlock):
                return self._emit_delta({"type": "input_json_delta", "partial_json": json})
        return b""

    def _flush(self) -> bytes:
        out, self.pending_stop = self.pending_stop, b""
        return out

    def _close_block(self) -> bytes:
        """What ends the open block now; its content_block_stop itself waits in `pending_stop`.
        A held tool_use goes out whole here, after the previous block's stop."""
        if self.open_block is None:
            return b""
        out = b""
        if self.held is not None:
            out, self.held = self._flush() + b"".join(self.held), None
        if self.pending_text_start and isinstance(self.open_block, TextBlock) and self.open_block.citations:
            out += self._text("")
        if self.open_index is not None:
            out += self._citations()
            if self.pending_signature is not None:
                signature = signature_for(self.pending_signature)
                out += self._emit_delta({"type": "signature_delta", "signature": signature})
            self.pending_stop = self._frame({"type": "content_block_stop", "index": self.open_index})
        self.open_block, self.open_index = None, None
        self.pending_text_start, self.pending_signature, self.skipping = False, None, False
        return out

    def _message_delta(self, event: ResponseDelta) -> bytes:
        # Later message_deltas overwrite stop_reason in the SDK accumulators: repeat the last one.
        if event.stop_reason is not None:
            self.stop_reason = event.stop_reason.value
            self.stop_sequence = event.stop_sequence
        if event.usage is not None:
            self.usage = event.usage
        return self._frame(
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": self.stop_reason or "end_turn",
                    "stop_sequence": self.stop_sequence,
                },
                "usage": render_usage(self.usage),
            }
        )

    def _error(self, error: GatewayError) -> bytes:
        if self.held is not None:  # the client never saw this tool call: it vanishes whole
            self.next_index -= 1
        # No content_block_stop first: the block the client sees open is what makes it retry.
        self.held, self.pending_stop, self.done = None, b"", True
        return frame(error_body(error))
