"""Anthropic Message JSON → core.ChatResponse, plus the usage and stop-reason readers the
stream decoder shares.

Block types the core has no class for (server tool calls and results, container uploads, new
types) become `RawBlock(origin="anthropic")`, to be returned verbatim to Anthropic and reported
as dropped anywhere else.
"""

from __future__ import annotations

from typing import Any

import orjson

from interlink.core import (
    Block,
    ChatResponse,
    ErrorKind,
    GatewayError,
    Opaque,
    RawBlock,
    ReasoningBlock,
    StopReason,
    TextBlock,
    ToolCallBlock,
    Usage,
)
from interlink.providers.anthropic.errors import error_from_payload

_STOP = {reason.value: reason for reason in StopReason}
_STOP["model_context_window_exceeded"] = StopReason.MAX_TOKENS


def stop_reason(value: Any) -> StopReason | None:
    if value is None:
        return None
    return _STOP.get(value, StopReason.END_TURN)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def merge_usage(base: Usage, raw: Any) -> Usage:
    """`base` with every count present in the wire `usage` object overwritten (counts are
    cumulative: a later value replaces, never adds)."""
    usage = Usage(
        input_tokens=base.input_tokens,
        output_tokens=base.output_tokens,
        cache_read_tokens=base.cache_read_tokens,
        cache_write_tokens=base.cache_write_tokens,
        reasoning_tokens=base.reasoning_tokens,
    )
    if not isinstance(raw, dict):
        return usage
    fields = (
        ("input_tokens", "input_tokens"),
        ("output_tokens", "output_tokens"),
        ("cache_read_input_tokens", "cache_read_tokens"),
        ("cache_creation_input_tokens", "cache_write_tokens"),
    )
    for wire, attr in fields:
        value = _int(raw.get(wire))
        if value is not None:
            setattr(usage, attr, value)
    details = raw.get("output_tokens_details")
    if isinstance(details, dict) and _int(details.get("thinking_tokens")) is not None:
        usage.reasoning_tokens = details["thinking_tokens"]
    return usage


def thinking_opaque(signature: Any) -> Opaque | None:
    return Opaque("anthropic", "signature", signature) if isinstance(signature, str) and signature else None


def decode_block(block: dict[str, Any]) -> Block:
    match block.get("type"):
        case "text" if isinstance(block.get("text"), str):
            citations = block.get("citations")
            return TextBlock(text=block["text"], citations=citations if isinstance(citations, list) else None)
        case "thinking":
            text = block.get("thinking")
            return ReasoningBlock(
                text=text if isinstance(text, str) else "", opaque=thinking_opaque(block.get("signature"))
            )
        case "redacted_thinking" if isinstance(block.get("data"), str):
            return ReasoningBlock(opaque=Opaque("anthropic", "redacted", block["data"]))
        case "tool_use" if isinstance(block.get("id"), str) and isinstance(block.get("name"), str):
            tool_input = block.get("input")
            return ToolCallBlock(
                id=block["id"],
                name=block["name"],
                arguments=orjson.dumps(tool_input if tool_input is not None else {}).decode(),
            )
        case _:
            return RawBlock(origin="anthropic", data=block)


def parse_response(body: bytes, *, provider: str | None) -> ChatResponse:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise GatewayError(ErrorKind.CONNECTION, f"upstream returned invalid JSON: {exc}", provider=provider) from None
    if not isinstance(payload, dict):
        raise GatewayError(ErrorKind.CONNECTION, "upstream returned a non-object body", provider=provider)
    if payload.get("type") == "error":
        raise error_from_payload(payload, provider=provider)
    content = payload.get("content")
    blocks = [decode_block(b) for b in content if isinstance(b, dict)] if isinstance(content, list) else []
    stop_sequence = payload.get("stop_sequence")
    return ChatResponse(
        id=str(payload.get("id") or ""),
        model=str(payload.get("model") or ""),
        content=blocks,
        stop_reason=stop_reason(payload.get("stop_reason")) or StopReason.END_TURN,
        stop_sequence=stop_sequence if isinstance(stop_sequence, str) else None,
        usage=merge_usage(Usage(), payload.get("usage")),
    )
