"""Upstream Response JSON -> `core.ChatResponse`.

Also owns the item-level rules the stream decoder reuses: which item becomes which block, how
status + incomplete_details become a stop reason, and how usage is read (Responses
`input_tokens` include cached tokens; core's exclude them).
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
from interlink.providers import ProviderSettings
from interlink.providers.openai_responses.errors import error_from_object

API = "openai-responses"
TOOL_ITEMS = ("function_call", "custom_tool_call")


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def usage_from(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    input_details = raw.get("input_tokens_details") or {}
    output_details = raw.get("output_tokens_details") or {}
    reasoning = output_details.get("reasoning_tokens") if isinstance(output_details, dict) else None
    return Usage.from_openai(
        _int(raw.get("input_tokens")),
        _int(raw.get("output_tokens")),
        cached=_int(input_details.get("cached_tokens")) if isinstance(input_details, dict) else 0,
        cache_write=_int(input_details.get("cache_write_tokens")) if isinstance(input_details, dict) else 0,
        reasoning=reasoning if isinstance(reasoning, int) else None,
    )


def stop_reason_from(response: dict[str, Any], had_tool_call: bool, had_refusal: bool = False) -> StopReason:
    status = response.get("status")
    details = response.get("incomplete_details")
    reason = details.get("reason") if isinstance(details, dict) else None
    if status == "incomplete" or reason:
        if reason == "content_filter":
            return StopReason.REFUSAL
        return StopReason.MAX_TOKENS
    if had_refusal:
        return StopReason.REFUSAL
    return StopReason.TOOL_USE if had_tool_call else StopReason.END_TURN


def reasoning_text(item: dict[str, Any]) -> str:
    """Summary texts joined by a blank line; raw reasoning_text content when there is no summary."""
    summary = item.get("summary") or []
    texts = [p.get("text", "") for p in summary if isinstance(p, dict)]
    if not texts:
        content = item.get("content") or []
        texts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "reasoning_text"]
    return "\n\n".join(t for t in texts if isinstance(t, str))


def reasoning_opaque(item: dict[str, Any]) -> Opaque | None:
    encrypted = item.get("encrypted_content")
    if isinstance(encrypted, str) and encrypted:
        return Opaque(API, "encrypted_content", encrypted)
    return None


def item_blocks(item: dict[str, Any]) -> list[Block]:
    """Blocks of one complete output item (a message may hold several text parts)."""
    kind = item.get("type")
    if kind == "reasoning":
        text, opaque = reasoning_text(item), reasoning_opaque(item)
        # An empty reasoning item (no summary, no encrypted content) carries nothing replayable.
        return [ReasoningBlock(text=text, opaque=opaque, id=item.get("id"))] if text or opaque else []
    if kind == "message":
        blocks: list[Block] = []
        for part in item.get("content") or []:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "output_text":
                blocks.append(TextBlock(text=part.get("text") or ""))
            elif part.get("type") == "refusal":
                blocks.append(TextBlock(text=part.get("refusal") or ""))
        return blocks
    if kind == "function_call":
        return [
            ToolCallBlock(
                id=str(item.get("call_id") or item.get("id") or ""),
                name=str(item.get("name") or ""),
                arguments=item.get("arguments") or "",
            )
        ]
    return [RawBlock(origin=API, data=item)]


def has_refusal(item: dict[str, Any]) -> bool:
    return item.get("type") == "message" and any(
        isinstance(p, dict) and p.get("type") == "refusal" for p in item.get("content") or []
    )


def parse_response(body: bytes, *, settings: ProviderSettings) -> ChatResponse:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise GatewayError(
            ErrorKind.CONNECTION, f"upstream returned invalid JSON: {exc}", provider=settings.name
        ) from None
    if not isinstance(data, dict):
        raise GatewayError(ErrorKind.CONNECTION, "upstream returned a non-object response", provider=settings.name)
    if data.get("status") == "failed" or isinstance(data.get("error"), dict):
        error = data.get("error")
        error = error if isinstance(error, dict) else {}
        raise error_from_object(error, default=ErrorKind.API_ERROR, provider=settings.name)
    output = [item for item in data.get("output") or [] if isinstance(item, dict)]
    blocks = [block for item in output for block in item_blocks(item)]
    had_tool = any(item.get("type") in TOOL_ITEMS for item in output)
    return ChatResponse(
        id=str(data.get("id") or ""),
        model=str(data.get("model") or ""),
        content=blocks,
        stop_reason=stop_reason_from(data, had_tool, any(map(has_refusal, output))),
        usage=usage_from(data.get("usage")) or Usage(),
    )
