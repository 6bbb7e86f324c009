"""Chat Completions `chat.completion` JSON -> `core.ChatResponse`, and the readings the stream
decoder shares with it: usage in every dialect and finish_reason -> `StopReason`."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from interlink.core import (
    Block,
    ChatResponse,
    ErrorKind,
    GatewayError,
    ReasoningBlock,
    StopReason,
    TextBlock,
    ToolCallBlock,
    Usage,
)
from interlink.providers import Preset, ProviderSettings
from interlink.providers.openai_chat.errors import error_from_payload

_FINISH = {
    "stop": StopReason.END_TURN,
    "length": StopReason.MAX_TOKENS,
    "tool_calls": StopReason.TOOL_USE,
    "function_call": StopReason.TOOL_USE,
    "content_filter": StopReason.REFUSAL,
}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _details(usage: dict[str, Any], key: str) -> dict[str, Any]:
    value = usage.get(key)
    return value if isinstance(value, dict) else {}


def usage_from(usage: Any, preset: Preset) -> Usage | None:
    """Core usage from an OpenAI-style usage object; None when there is none."""
    if not isinstance(usage, dict):
        return None
    prompt = _int(usage.get("prompt_tokens"))
    completion = _int(usage.get("completion_tokens"))
    prompt_details = _details(usage, "prompt_tokens_details")
    # DeepSeek reports cache hits at top level instead of in prompt_tokens_details.
    cached = _int(prompt_details.get("cached_tokens")) or _int(usage.get("prompt_cache_hit_tokens"))
    cache_write = _int(prompt_details.get("cache_write_tokens"))
    reasoning_value = _details(usage, "completion_tokens_details").get("reasoning_tokens")
    reasoning = _int(reasoning_value) if reasoning_value is not None else None
    if reasoning and _completion_excludes_reasoning(usage, prompt, completion, reasoning, preset):
        completion += reasoning
    return Usage.from_openai(prompt, completion, cached, cache_write, reasoning)


def _completion_excludes_reasoning(
    usage: dict[str, Any], prompt: int, completion: int, reasoning: int, preset: Preset
) -> bool:
    """xAI counts reasoning outside completion_tokens; its total_tokens gives it away, so the
    total decides when present (a server that fixed the quirk is then read correctly)."""
    total = usage.get("total_tokens")
    if isinstance(total, int) and total:
        if total == prompt + completion + reasoning and total != prompt + completion:
            return True
        if total == prompt + completion:
            return False
    return preset.completion_excludes_reasoning


def stop_reason(finish: Any, has_tool_calls: bool) -> StopReason:
    """A `refusal` message with finish "stop" stays end_turn: only content_filter means the
    response was cut off the way Anthropic's refusal stop reason does (NOTES §4.3)."""
    reason = _FINISH.get(finish, StopReason.END_TURN) if isinstance(finish, str) else StopReason.END_TURN
    # Some servers (Ollama, older vLLM) report "stop" after tool calls.
    if reason == StopReason.END_TURN and has_tool_calls:
        return StopReason.TOOL_USE
    return reason


def stop_sequence(choice: dict[str, Any]) -> str | None:
    """vLLM names the matched stop string in `stop_reason` (an int there is a stop token id)."""
    value = choice.get("stop_reason")
    return value if isinstance(value, str) and value else None


def reasoning_text(message: dict[str, Any]) -> str | None:
    value = message.get("reasoning_content")
    if value is None:
        value = message.get("reasoning")
    return value if isinstance(value, str) else None


def new_call_id() -> str:
    """For servers that omit a tool call's id; unique so later turns cannot collide."""
    return f"call_{uuid.uuid4().hex[:24]}"


def arguments_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return orjson.dumps(value).decode()


def parse_response(body: bytes, *, settings: ProviderSettings) -> ChatResponse:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise GatewayError(ErrorKind.CONNECTION, f"upstream sent invalid JSON: {exc}", provider=settings.name) from None
    if not isinstance(data, dict):
        raise GatewayError(ErrorKind.CONNECTION, "upstream response is not a JSON object", provider=settings.name)
    if data.get("error"):
        raise error_from_payload(data, settings)
    choices = data.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
    message = choice.get("message")
    message = message if isinstance(message, dict) else {}
    content = _message_blocks(message)
    has_calls = any(isinstance(b, ToolCallBlock) for b in content)
    reason = stop_reason(choice.get("finish_reason"), has_calls)
    sequence = stop_sequence(choice)
    if sequence and reason == StopReason.END_TURN:
        reason = StopReason.STOP_SEQUENCE
    return ChatResponse(
        id=str(data.get("id") or ""),
        model=str(data.get("model") or ""),
        content=content,
        stop_reason=reason,
        stop_sequence=sequence if reason == StopReason.STOP_SEQUENCE else None,
        usage=usage_from(data.get("usage"), settings.preset) or Usage(),
    )


def _message_blocks(message: dict[str, Any]) -> list[Block]:
    blocks: list[Block] = []
    reasoning = reasoning_text(message)
    if reasoning:
        blocks.append(ReasoningBlock(text=reasoning))
    content = message.get("content")
    if isinstance(content, list):
        # Some servers return content parts instead of a string.
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if isinstance(content, str) and content:
        blocks.append(TextBlock(text=content))
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal:
        blocks.append(TextBlock(text=refusal))
    for call in message.get("tool_calls") or []:
        if not isinstance(call, dict):
            continue
        function = call.get("function")
        function = function if isinstance(function, dict) else {}
        blocks.append(
            ToolCallBlock(
                id=str(call.get("id") or new_call_id()),
                name=str(function.get("name") or ""),
                arguments=arguments_text(function.get("arguments")),
            )
        )
    return blocks
