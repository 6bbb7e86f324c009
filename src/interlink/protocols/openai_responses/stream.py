"""Core events -> Responses SSE (`event: <type>` + `data: {...}`), one call per event.

Grammar written: `response.created`, `response.in_progress`, then one output item per core block
(dense `output_index`, blocks of other APIs' raw types skipped), then `response.completed` or
`response.incomplete` carrying the full response (output and usage). Every event has a
`sequence_number` counting from 0. A `StreamError` writes an `error` event whose `error` object
is nested (as the real API does, which makes openai-python raise) and also flat (the documented
shape), then `response.failed`. An item left open by an error is not closed: clients such as
Codex treat `output_item.done` as final, and a half item must not look complete.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from interlink.core import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ChatRequest,
    Event,
    RawBlock,
    ReasoningBlock,
    ReasoningDelta,
    ResponseDelta,
    ResponseStart,
    ResponseStop,
    SignatureDelta,
    StopReason,
    StreamError,
    TextBlock,
    TextDelta,
    ToolArgsDelta,
    ToolCallBlock,
    Usage,
)
from interlink.protocols import ModelRename
from interlink.protocols.openai_responses.errors import error_object, response_error
from interlink.protocols.openai_responses.render import (
    API,
    function_call_item,
    message_item,
    new_id,
    prefixed,
    reasoning_item,
    response_object,
    status_of,
    text_part,
    usage_object,
)
from interlink.sse import ServerSentEvent, encode_comment, encode_event


@dataclass(slots=True)
class _Item:
    """The output item of the open core block."""

    kind: str  # "text" | "reasoning" | "tool" | "raw" | "skip"
    output_index: int
    item_id: str
    text: str = ""
    part_open: bool = False
    reasoning: ReasoningBlock | None = None
    tool: ToolCallBlock | None = None
    raw: dict[str, Any] = field(default_factory=dict)


class ResponsesStreamEncoder:
    """One instance per response; `encode` is called once per core event."""

    holding = False  # never holds a block back (see protocols.StreamEncoder)

    def __init__(self, request: ChatRequest) -> None:
        self._rename = ModelRename(request.model)
        self._request = request
        self._seq = 0
        self.quiet = False
        self._response_id = ""
        self._created_at = int(time.time())
        self._started = False
        self._finished = False
        self._output: list[dict[str, Any]] = []
        self._next_index = 0
        self._open: _Item | None = None
        self._stop_reason: StopReason | None = None
        self._usage = Usage()

    def keepalive(self) -> bytes:
        return encode_comment("keepalive")

    def passthrough(self, raw: ServerSentEvent) -> bytes:
        return self._rename.apply(raw)

    def encode(self, event: Event) -> bytes:
        if self._finished:
            return b""
        match event:
            case ResponseStart():
                self._rename.upstream(event.model)
                return self._start(event.id)
            case BlockStart(block=block):
                return self._ensure_started() + self._block_start(block)
            case BlockDelta(delta=delta):
                return self._delta(delta)
            case BlockStop():
                return self._block_stop()
            case ResponseDelta():
                if event.stop_reason is not None:
                    self._stop_reason = event.stop_reason
                if event.usage is not None:
                    self._usage = event.usage
                return b""
            case ResponseStop():
                return self._ensure_started() + self._terminal()
            case StreamError(error=error):
                return self._error(error)
        return b""

    # --- framing -------------------------------------------------------------------------------

    def _event(self, kind: str, **fields: Any) -> bytes:
        seq, self._seq = self._seq, self._seq + 1
        if self.quiet:
            return b""
        payload = {"type": kind, **fields, "sequence_number": seq}
        return encode_event(orjson.dumps(payload), kind)

    def _response(self, status: str, **extra: Any) -> dict[str, Any]:
        return response_object(
            self._request,
            response_id=self._response_id,
            created_at=self._created_at,
            status=status,
            output=list(self._output),
            usage=extra.pop("usage", None),
            **extra,
        )

    def _start(self, upstream_id: str | None) -> bytes:
        if self._started:
            return b""
        self._started = True
        self._response_id = prefixed(upstream_id, "resp_")
        return self._event("response.created", response=self._response("in_progress")) + self._event(
            "response.in_progress", response=self._response("in_progress")
        )

    def _ensure_started(self) -> bytes:
        return b"" if self._started else self._start(None)

    # --- blocks --------------------------------------------------------------------------------

    def _block_start(self, block: Any) -> bytes:
        if isinstance(block, RawBlock) and block.origin != API:
            self._open = _Item(kind="skip", output_index=-1, item_id="")
            return b""
        index = self._next_index
        self._next_index += 1
        match block:
            case TextBlock():
                item = _Item(kind="text", output_index=index, item_id=new_id("msg_"))
                self._open = item
                out = self._added(message_item(None, item.item_id, "in_progress"))
                out += self._event(
                    "response.content_part.added",
                    item_id=item.item_id,
                    output_index=index,
                    content_index=0,
                    part=text_part(""),
                )
                return out + (self._delta(TextDelta(block.text)) if block.text else b"")
            case ReasoningBlock():
                copy = ReasoningBlock(text="", opaque=block.opaque, id=block.id)
                item = _Item("reasoning", index, prefixed(block.id, "rs_"), reasoning=copy)
                self._open = item
                out = self._added({"type": "reasoning", "id": item.item_id, "summary": []})
                return out + (self._delta(ReasoningDelta(block.text)) if block.text else b"")
            case ToolCallBlock():
                tool = ToolCallBlock(id=block.id, name=block.name)
                item = _Item("tool", index, new_id("fc_"), tool=tool)
                self._open = item
                out = self._added(function_call_item(tool, item.item_id, "in_progress"))
                return out + (self._delta(ToolArgsDelta(block.arguments)) if block.arguments else b"")
            case RawBlock():
                self._open = _Item("raw", index, str(block.data.get("id", "")), raw=block.data)
                return self._added(block.data)
        self._open = _Item(kind="skip", output_index=-1, item_id="")
        self._next_index -= 1
        return b""

    def _added(self, item: dict[str, Any]) -> bytes:
        assert self._open is not None
        return self._event("response.output_item.added", output_index=self._open.output_index, item=item)

    def _delta(self, delta: Any) -> bytes:
        item = self._open
        if item is None:
            return b""
        ids = {"item_id": item.item_id, "output_index": item.output_index}
        match delta:
            case TextDelta(text=text) if item.kind == "text":
                item.text += text
                return self._event("response.output_text.delta", **ids, content_index=0, delta=text, logprobs=[])
            case ReasoningDelta(text=text) if item.kind == "reasoning" and text:
                out = b""
                if not item.part_open:
                    item.part_open = True
                    part = {"type": "summary_text", "text": ""}
                    out = self._event("response.reasoning_summary_part.added", **ids, summary_index=0, part=part)
                item.text += text
                return out + self._event("response.reasoning_summary_text.delta", **ids, summary_index=0, delta=text)
            case SignatureDelta(opaque=opaque) if item.reasoning is not None:
                item.reasoning.opaque = opaque
            case ToolArgsDelta(json=json) if item.tool is not None:
                item.tool.arguments += json
                return self._event("response.function_call_arguments.delta", **ids, delta=json)
        return b""

    def _block_stop(self) -> bytes:
        item, self._open = self._open, None
        if item is None or item.kind == "skip":
            return b""
        ids = {"item_id": item.item_id, "output_index": item.output_index}
        out = b""
        if item.kind == "text":
            out += self._event("response.output_text.done", **ids, content_index=0, text=item.text, logprobs=[])
            out += self._event("response.content_part.done", **ids, content_index=0, part=text_part(item.text))
            done = message_item(item.text, item.item_id)
        elif item.kind == "reasoning":
            assert item.reasoning is not None
            if item.part_open:
                out += self._event("response.reasoning_summary_text.done", **ids, summary_index=0, text=item.text)
                part = {"type": "summary_text", "text": item.text}
                out += self._event("response.reasoning_summary_part.done", **ids, summary_index=0, part=part)
            item.reasoning.text = item.text
            done = reasoning_item(item.reasoning, item.item_id)
        elif item.kind == "tool":
            assert item.tool is not None
            out += self._event(
                "response.function_call_arguments.done", **ids, name=item.tool.name, arguments=item.tool.arguments
            )
            done = function_call_item(item.tool, item.item_id)
        else:
            done = item.raw
        self._output.append(done)
        return out + self._event("response.output_item.done", output_index=item.output_index, item=done)

    # --- ends ----------------------------------------------------------------------------------

    def _terminal(self) -> bytes:
        out = self._block_stop() if self._open is not None else b""
        self._finished = True
        status, incomplete = status_of(self._stop_reason)
        response = self._response(status, usage=usage_object(self._usage), incomplete_details=incomplete)
        kind = "response.completed" if status == "completed" else "response.incomplete"
        return out + self._event(kind, response=response)

    def _error(self, error: Any) -> bytes:
        self._finished = True
        if not self._response_id:
            self._response_id = new_id("resp_")
        body = error_object(error)
        out = self._event("error", error=body, code=body["code"], message=body["message"], param=body["param"])
        failed = self._response("failed", error=response_error(error))
        return out + self._event("response.failed", response=failed)
