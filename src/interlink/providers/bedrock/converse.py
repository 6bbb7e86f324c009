"""Bedrock Converse / ConverseStream (Bedrock's model-neutral dialect) ↔ the core model.

For Bedrock models that are not Claude (Nova, Llama, Mistral, DeepSeek…). camelCase tagged
unions, one key per block: `text`, `image` (base64 `bytes`), `toolUse`, `toolResult`,
`reasoningContent.reasoningText{text, signature}`; tools as `toolSpec` with `inputSchema.json`,
`toolChoice` `auto|any|tool`; sampling in `inferenceConfig`; Anthropic-only options (`top_k`,
`thinking`) in `additionalModelRequestFields`. Reasoning signatures are Bedrock's
(`bedrock-converse` origin) and go back only to Converse. The stream has no start event for text
or reasoning blocks (one is opened on the first delta) and sends `metadata` (usage) after
`messageStop`, so the stop is held until then.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from interlink.core import (
    Block,
    BlockDelta,
    BlockStart,
    BlockStop,
    ChatRequest,
    ChatResponse,
    ErrorKind,
    Event,
    GatewayError,
    ImageBlock,
    Opaque,
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
    ToolResultBlock,
    Usage,
)
from interlink.providers.anthropic.errors import error_from_payload
from interlink.providers.anthropic.request import EFFORT_BUDGETS
from interlink.sse import ServerSentEvent

API = "bedrock-converse"
STREAM_EVENTS = frozenset(
    {"messageStart", "contentBlockStart", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata"}
)
_STOP = {
    "end_turn": StopReason.END_TURN,
    "tool_use": StopReason.TOOL_USE,
    "max_tokens": StopReason.MAX_TOKENS,
    "stop_sequence": StopReason.STOP_SEQUENCE,
    "guardrail_intervened": StopReason.REFUSAL,
    "content_filtered": StopReason.REFUSAL,
    "model_context_window_exceeded": StopReason.MAX_TOKENS,
}
_IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}


# ---------------------------------------------------------------------------------- request


def build_body(request: ChatRequest, *, upstream_model: str) -> tuple[dict[str, Any], list[str]]:
    dropped: list[str] = []

    def drop(name: str) -> None:
        if name not in dropped:
            dropped.append(name)

    system = [{"text": t.text} for t in request.system if t.text]
    messages: list[dict[str, Any]] = []
    for message in request.messages:
        if message.role == "system":
            system += [{"text": b.text} for b in message.content if isinstance(b, TextBlock) and b.text]
            continue
        blocks = [c for c in (_block(b, drop) for b in message.content) if c is not None]
        if not blocks:
            continue
        if messages and messages[-1]["role"] == message.role:
            messages[-1]["content"].extend(blocks)
        else:
            messages.append({"role": message.role, "content": blocks})
    body: dict[str, Any] = {"messages": messages}
    if system:
        body["system"] = system
    config: dict[str, Any] = {}
    if request.max_tokens:
        config["maxTokens"] = request.max_tokens
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.top_p is not None:
        config["topP"] = request.top_p
    if request.stop:
        config["stopSequences"] = list(request.stop)
    if config:
        body["inferenceConfig"] = config
    extra: dict[str, Any] = {}
    if request.top_k is not None:
        extra["top_k"] = request.top_k
    reasoning = request.reasoning
    if reasoning is not None and reasoning.enabled and reasoning.effort != "none":
        # Converse has no neutral field for thinking: Claude's, which Bedrock passes to the model
        budget = max(reasoning.budget_tokens or EFFORT_BUDGETS.get(reasoning.effort or "", 2048), 1024)
        extra["thinking"] = {"type": "enabled", "budget_tokens": budget}
        if config.get("maxTokens", 0) <= budget:
            config["maxTokens"] = budget + 4096
            body["inferenceConfig"] = config
    if extra:
        body["additionalModelRequestFields"] = extra
    _tools(request, body, drop)
    for name in ("seed", "presence_penalty", "frequency_penalty", "response_format", "service_tier"):
        if getattr(request, name) is not None:
            drop(name)
    return body, dropped


def _block(block: Block, drop: Any) -> dict[str, Any] | None:
    match block:
        case TextBlock(text=text):
            return {"text": text} if text else None
        case ImageBlock():
            if block.data is None or block.media_type not in _IMAGE_FORMATS:
                drop("image")  # Converse takes inline bytes only, in four formats
                return None
            return {"image": {"format": _IMAGE_FORMATS[block.media_type], "source": {"bytes": block.data}}}
        case ToolCallBlock():
            return {"toolUse": {"toolUseId": block.id, "name": block.name, "input": block.input()}}
        case ToolResultBlock():
            parts = [p for p in (_block(b, drop) for b in block.content) if p is not None] or [{"text": ""}]
            status = "error" if block.is_error else "success"
            return {"toolResult": {"toolUseId": block.tool_call_id, "content": parts, "status": status}}
        case ReasoningBlock(opaque=Opaque(origin="bedrock-converse", kind="signature", value=signature)):
            return {"reasoningContent": {"reasoningText": {"text": block.text, "signature": signature}}}
        case ReasoningBlock(opaque=Opaque(origin="bedrock-converse", kind="redacted", value=data)):
            return {"reasoningContent": {"redactedContent": data}}
    drop("reasoning" if isinstance(block, ReasoningBlock) else "raw_blocks")
    return None


def _tools(request: ChatRequest, body: dict[str, Any], drop: Any) -> None:
    tools = []
    for spec in request.tools:
        if spec.raw is not None:
            drop("server_tools")
            continue
        tool: dict[str, Any] = {"name": spec.name, "inputSchema": {"json": spec.parameters}}
        if spec.description:
            tool["description"] = spec.description
        tools.append({"toolSpec": tool})
    choice = request.tool_choice
    if not tools or (choice is not None and choice.mode == "none"):
        return  # Converse has no "none": the tools are left out instead
    config: dict[str, Any] = {"tools": tools}
    if choice is not None and choice.mode == "required":
        config["toolChoice"] = {"any": {}}
    elif choice is not None and choice.mode == "tool":
        config["toolChoice"] = {"tool": {"name": choice.name}}
    body["toolConfig"] = config


# --------------------------------------------------------------------------------- response


def is_converse_response(body: bytes) -> bool:
    return body.lstrip()[:1] == b"{" and b'"output"' in body and b'"type":"message"' not in body


def usage_of(data: Any) -> Usage:
    data = data if isinstance(data, dict) else {}
    return Usage(
        input_tokens=int(data.get("inputTokens") or 0),
        output_tokens=int(data.get("outputTokens") or 0),
        cache_read_tokens=int(data.get("cacheReadInputTokens") or 0),
        cache_write_tokens=int(data.get("cacheWriteInputTokens") or 0),
    )


def _content(block: dict[str, Any]) -> Block | None:
    if "text" in block:
        return TextBlock(str(block["text"]))
    if "toolUse" in block:
        use = block["toolUse"]
        return ToolCallBlock(str(use.get("toolUseId")), str(use.get("name")), orjson.dumps(use.get("input")).decode())
    reasoning = block.get("reasoningContent")
    if isinstance(reasoning, dict):
        if "redactedContent" in reasoning:
            return ReasoningBlock(opaque=Opaque(API, "redacted", str(reasoning["redactedContent"])))
        text = reasoning.get("reasoningText") or {}
        signature = text.get("signature")
        return ReasoningBlock(str(text.get("text") or ""), Opaque(API, "signature", signature) if signature else None)
    return None


def parse_response(body: bytes, *, provider: str) -> ChatResponse:
    data = orjson.loads(body)
    message = (data.get("output") or {}).get("message") or {}
    content = [b for b in (_content(x) for x in message.get("content") or [] if isinstance(x, dict)) if b is not None]
    return ChatResponse(
        id=f"msg_bdrk_{uuid.uuid4().hex[:24]}",
        model="",
        content=content,
        stop_reason=_STOP.get(str(data.get("stopReason")), StopReason.END_TURN),
        usage=usage_of(data.get("usage")),
    )


# ----------------------------------------------------------------------------------- stream


class ConverseStreamDecoder:
    def __init__(self, provider: str) -> None:
        self.provider = provider
        self._index = 0
        self._open: tuple[int, str] | None = None  # (upstream contentBlockIndex, kind)
        self._stop: StopReason | None = None
        self._started = self._done = False

    def feed(self, event: ServerSentEvent) -> list[Event]:
        if self._done:
            return []
        try:
            data = orjson.loads(event.data) if event.data else {}
        except orjson.JSONDecodeError:
            return self._fail(f"upstream sent a malformed event: {event.data[:200]}")
        if event.event == "error":
            self._done = True
            return [StreamError(error_from_payload(data, provider=self.provider))]
        events: list[Event] = []
        if not self._started:
            self._started = True
            events.append(ResponseStart(id=f"msg_bdrk_{uuid.uuid4().hex[:24]}", model=""))
        match event.event:
            case "contentBlockStart":
                start = (data.get("start") or {}).get("toolUse")
                if isinstance(start, dict):
                    events += self._close()
                    call = ToolCallBlock(str(start.get("toolUseId")), str(start.get("name")))
                    events += self._begin(data.get("contentBlockIndex"), "tool", call)
            case "contentBlockDelta":
                events += self._delta(data.get("contentBlockIndex"), data.get("delta") or {})
            case "contentBlockStop":
                events += self._close()
            case "messageStop":
                events += self._close()
                self._stop = _STOP.get(str(data.get("stopReason")), StopReason.END_TURN)
            case "metadata":
                self._done = True
                events += [ResponseDelta(stop_reason=self._stop, usage=usage_of(data.get("usage"))), ResponseStop()]
        return events

    def close(self) -> list[Event]:
        if self._done:
            return []
        return self._fail("upstream stream ended before its terminal event", ErrorKind.CONNECTION)

    def _fail(self, message: str, kind: ErrorKind = ErrorKind.API_ERROR) -> list[Event]:
        self._done = True
        return [StreamError(GatewayError(kind, message, provider=self.provider))]

    def _begin(self, upstream: Any, kind: str, block: TextBlock | ReasoningBlock | ToolCallBlock) -> list[Event]:
        self._open = (upstream, kind)
        self._index += 1
        return [BlockStart(self._index - 1, block)]

    def _close(self) -> list[Event]:
        if self._open is None:
            return []
        self._open = None
        return [BlockStop(self._index - 1)]

    def _delta(self, upstream: Any, delta: dict[str, Any]) -> list[Event]:
        events: list[Event] = []
        reasoning = delta.get("reasoningContent")
        kind = "text" if "text" in delta else "tool" if "toolUse" in delta else "reasoning" if reasoning else None
        if kind is None:
            return events
        if self._open is None or self._open != (upstream, kind):
            events += self._close()
            block = TextBlock("") if kind == "text" else ReasoningBlock() if kind == "reasoning" else None
            if block is None:
                return events  # tool input without its start: nothing to attach it to
            events += self._begin(upstream, kind, block)
        index = self._index - 1
        if kind == "text" and delta["text"]:
            events.append(BlockDelta(index, TextDelta(str(delta["text"]))))
        elif kind == "tool":
            events.append(BlockDelta(index, ToolArgsDelta(str((delta["toolUse"] or {}).get("input") or ""))))
        elif isinstance(reasoning, dict):
            if reasoning.get("text"):
                events.append(BlockDelta(index, ReasoningDelta(str(reasoning["text"]))))
            if reasoning.get("signature"):
                events.append(BlockDelta(index, SignatureDelta(Opaque(API, "signature", str(reasoning["signature"])))))
        return events
