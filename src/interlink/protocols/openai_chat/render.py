"""`core.ChatResponse` -> Chat Completions `chat.completion` JSON, plus the pieces the stream
encoder shares with it: the client-visible id, finish_reason, usage and reasoning carriers."""

from __future__ import annotations

import time
from typing import Any

from interlink.core import (
    ChatRequest,
    ChatResponse,
    ReasoningBlock,
    StopReason,
    TextBlock,
    ToolCallBlock,
    Usage,
)

_FINISH = {
    StopReason.END_TURN: "stop",
    StopReason.STOP_SEQUENCE: "stop",
    StopReason.PAUSE_TURN: "stop",
    StopReason.MAX_TOKENS: "length",
    StopReason.TOOL_USE: "tool_calls",
    StopReason.REFUSAL: "content_filter",
}


def completion_id(upstream_id: str) -> str:
    return upstream_id if upstream_id.startswith("chatcmpl-") else f"chatcmpl-{upstream_id}"


def finish_reason(stop: StopReason | None, has_tool_calls: bool) -> str:
    reason = _FINISH.get(stop, "stop") if stop is not None else "stop"
    # "tool_calls" with no tool call (e.g. only server tools ran) would send clients looking
    # for calls that are not there.
    if reason == "tool_calls" and not has_tool_calls:
        return "stop"
    return reason


def usage_json(usage: Usage) -> dict[str, Any]:
    prompt_details: dict[str, Any] = {"cached_tokens": usage.cache_read_tokens}
    if usage.cache_write_tokens:
        prompt_details["cache_write_tokens"] = usage.cache_write_tokens
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": prompt_details,
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens or 0},
    }


def thinking_block(block: ReasoningBlock) -> dict[str, Any] | None:
    """LiteLLM-style `thinking_blocks` entry carrying a reasoning block's opaque part, so a Chat
    client that keeps it can send it back; None when there is nothing opaque to carry."""
    opaque = block.opaque
    if opaque is None:
        return None
    if opaque.origin == "anthropic" and opaque.kind == "redacted":
        return {"type": "redacted_thinking", "data": opaque.value}
    signature = opaque.value if opaque.origin == "anthropic" else opaque.encode()
    return {"type": "thinking", "thinking": block.text, "signature": signature}


def tool_call_json(block: ToolCallBlock) -> dict[str, Any]:
    return {
        "id": block.id,
        "type": "function",
        "function": {"name": block.name, "arguments": block.arguments},
    }


def render_response(response: ChatResponse, request: ChatRequest) -> dict[str, Any]:
    texts = [b.text for b in response.content if isinstance(b, TextBlock)]
    reasoning = [b for b in response.content if isinstance(b, ReasoningBlock)]
    calls = [tool_call_json(b) for b in response.content if isinstance(b, ToolCallBlock)]
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts or not calls else None,
        "refusal": None,
    }
    if calls:
        message["tool_calls"] = calls
    reasoning_text = "\n\n".join(b.text for b in reasoning if b.text)
    if reasoning_text:
        message["reasoning_content"] = reasoning_text
    carried = [tb for tb in (thinking_block(b) for b in reasoning) if tb is not None]
    if carried:
        message["thinking_blocks"] = carried
    return {
        "id": completion_id(response.id),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason(response.stop_reason, bool(calls)),
            }
        ],
        "usage": usage_json(response.usage),
    }
