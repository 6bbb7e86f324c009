"""Core events -> Chat Completions SSE (`chat.completion.chunk` frames, `data: [DONE]`).

Shapes every chunk the way openai-python's accumulator and the AI SDK need (NOTES §2.3, §5):
`object` on every chunk, role once, tool-call `index` dense from 0 counted over tool calls only,
`id`/`name` only on a call's first delta, a finish chunk always, the usage chunk after it.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from interlink.core import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ChatRequest,
    Event,
    ReasoningBlock,
    ReasoningDelta,
    ResponseDelta,
    ResponseStart,
    ResponseStop,
    SignatureDelta,
    StopReason,
    StreamError,
    TextDelta,
    ToolArgsDelta,
    ToolCallBlock,
    Usage,
)
from interlink.protocols import ModelRename
from interlink.protocols.openai_chat.errors import error_object
from interlink.protocols.openai_chat.render import (
    completion_id,
    finish_reason,
    thinking_block,
    usage_json,
)
from interlink.sse import ServerSentEvent, encode_comment, encode_event


class ChatStreamEncoder:
    """One instance per response; `encode` is called once per core event."""

    holding = False  # never holds a block back (see protocols.StreamEncoder)

    def __init__(self, request: ChatRequest) -> None:
        self._model = request.model
        self._include_usage = request.stream_usage
        self._rename = ModelRename(request.model)
        self._id = "chatcmpl-interlink"
        self._created = int(time.time())
        self._tool_count = 0
        self._thinking_count = 0
        self._open_tool_index: int | None = None
        # The open reasoning block's text and opaque part, for its `thinking_blocks` entry.
        self._thinking: ReasoningBlock | None = None
        self._reasoning_seen = False
        self._reasoning_pending_sep = False
        self._stop: StopReason | None = None
        self._usage = Usage()
        self._done = False
        self.quiet = False

    def keepalive(self) -> bytes:
        return b"" if self._done else encode_comment("keepalive")

    def passthrough(self, raw: ServerSentEvent) -> bytes:
        """The upstream's chunk as is, except the usage chunk the gateway asked for on the
        client's behalf: a client that did not ask for usage may index `choices[0]`."""
        if not self._include_usage and ('"choices":[]' in raw.data or '"choices": []' in raw.data):
            return b""
        return self._rename.apply(raw)

    def encode(self, event: Event) -> bytes:
        if self._done:
            return b""
        match event:
            case ResponseStart():
                self._rename.upstream(event.model)
                self._id = completion_id(event.id)
                return self._chunk({"role": "assistant", "content": ""})
            case BlockStart(block=block):
                return self._start(block)
            case BlockDelta(delta=delta):
                return self._delta(delta)
            case BlockStop():
                return self._stop_block()
            case ResponseDelta():
                if event.stop_reason is not None:
                    self._stop = event.stop_reason
                if event.usage is not None:
                    self._usage = event.usage
                return b""
            case ResponseStop():
                return self._finish()
            case StreamError(error=error):
                self._done = True
                return encode_event(orjson.dumps({"error": error_object(error)}))
        return b""

    def _start(self, block: Any) -> bytes:
        if isinstance(block, ReasoningBlock):
            self._thinking = ReasoningBlock(opaque=block.opaque)
            # Separate consecutive reasoning blocks the way render joins them.
            self._reasoning_pending_sep = self._reasoning_seen
            return self._reasoning_text(block.text) if block.text else b""
        if isinstance(block, ToolCallBlock):
            index = self._tool_count
            self._tool_count += 1
            self._open_tool_index = index
            first = {
                "index": index,
                "id": block.id,
                "type": "function",
                "function": {"name": block.name, "arguments": ""},
            }
            out = self._chunk({"tool_calls": [first]})
            if block.arguments:
                out += self._args(block.arguments)
            return out
        return b""

    def _delta(self, delta: Any) -> bytes:
        match delta:
            case TextDelta(text=text) if text:
                return self._chunk({"content": text})
            case ReasoningDelta(text=text) if text:
                return self._reasoning_text(text)
            case ToolArgsDelta(json=json) if json and self._open_tool_index is not None:
                return self._args(json)
            case SignatureDelta(opaque=opaque) if self._thinking is not None:
                self._thinking.opaque = opaque
        return b""

    def _reasoning_text(self, text: str) -> bytes:
        if self._thinking is not None:
            self._thinking.text += text
        if self._reasoning_pending_sep:
            text = "\n\n" + text
            self._reasoning_pending_sep = False
        self._reasoning_seen = True
        return self._chunk({"reasoning_content": text})

    def _args(self, json: str) -> bytes:
        entry = {"index": self._open_tool_index, "function": {"arguments": json}}
        return self._chunk({"tool_calls": [entry]})

    def _stop_block(self) -> bytes:
        thinking, self._thinking, self._open_tool_index = self._thinking, None, None
        carried = thinking_block(thinking) if thinking is not None else None
        if carried is None:
            return b""
        # Indexed so openai-python's accumulator merges entries instead of raising.
        carried["index"] = self._thinking_count
        self._thinking_count += 1
        return self._chunk({"thinking_blocks": [carried]})

    def _finish(self) -> bytes:
        self._done = True
        reason = finish_reason(self._stop, self._tool_count > 0)
        out = self._chunk({}, finish=reason)
        if self._include_usage:
            out += self._frame({"choices": [], "usage": usage_json(self._usage)})
        return out + encode_event("[DONE]")

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return self._frame({"choices": [choice]})

    def _frame(self, fields: dict[str, Any]) -> bytes:
        if self.quiet:
            return b""
        chunk = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            **fields,
        }
        return encode_event(orjson.dumps(chunk))
