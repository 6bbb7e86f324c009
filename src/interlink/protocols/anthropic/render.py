"""core.ChatResponse → Anthropic Message JSON, and the count_tokens answer.

Block rendering is shared with the stream encoder so a streamed and a non-streamed answer carry
the same blocks. Opaque data of another origin rides in `thinking.signature` via `Opaque.encode()`.
"""

from __future__ import annotations

from typing import Any

import orjson

from interlink.core import (
    Block,
    ChatRequest,
    ChatResponse,
    Opaque,
    RawBlock,
    ReasoningBlock,
    TextBlock,
    ToolCallBlock,
    Usage,
)


def message_id(upstream_id: str) -> str:
    return upstream_id if upstream_id.startswith("msg_") else f"msg_{upstream_id}"


def signature_for(opaque: Opaque | None) -> str:
    """What goes in `thinking.signature`: native signatures verbatim, foreign data packed."""
    if opaque is None:
        return ""
    if opaque.origin == "anthropic" and opaque.kind == "signature":
        return opaque.value
    return opaque.encode()


def tool_input(block: ToolCallBlock) -> dict[str, Any]:
    """Arguments as an object. Invalid JSON from a model cannot be an Anthropic `input`; it is
    kept under one key so the client still sees what the model produced."""
    text = block.arguments.strip()
    if not text:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {"_raw_arguments": block.arguments}
    return value if isinstance(value, dict) else {"_raw_arguments": block.arguments}


def render_block(block: Block) -> dict[str, Any] | None:
    """One output block, or None when it has no Anthropic form (foreign raw, empty text)."""
    match block:
        case TextBlock():
            if not block.text and not block.citations:
                return None
            out: dict[str, Any] = {"type": "text", "text": block.text}
            if block.citations:
                out["citations"] = block.citations
            return out
        case ReasoningBlock():
            opaque = block.opaque
            if opaque is not None and opaque.origin == "anthropic" and opaque.kind == "redacted":
                return {"type": "redacted_thinking", "data": opaque.value}
            return {"type": "thinking", "thinking": block.text, "signature": signature_for(opaque)}
        case ToolCallBlock():
            return {"type": "tool_use", "id": block.id, "name": block.name, "input": tool_input(block)}
        case RawBlock(origin="anthropic"):
            return block.data
        case _:
            return None


def render_usage(usage: Usage) -> dict[str, Any]:
    out: dict[str, Any] = {
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "output_tokens": usage.output_tokens,
    }
    if usage.reasoning_tokens is not None:
        out["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    return out


def render_response(response: ChatResponse, request: ChatRequest) -> dict[str, Any]:
    content = [b for b in (render_block(block) for block in response.content) if b is not None]
    return {
        "id": message_id(response.id),
        "type": "message",
        "role": "assistant",
        "model": request.model,
        "content": content,
        "stop_reason": response.stop_reason.value if response.stop_reason else "end_turn",
        "stop_sequence": response.stop_sequence,
        "usage": render_usage(response.usage),
    }


def render_count_tokens(input_tokens: int) -> dict[str, Any]:
    return {"input_tokens": input_tokens}
