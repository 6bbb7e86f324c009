"""`core.ChatResponse` -> a Responses `Response` object, and the item/usage builders the stream
encoder shares, so a streamed response ends with exactly the object a non-stream call returns.

Every field openai-python's `Response` model requires is present; the request's settings are
echoed back the way the real API does (tools, tool_choice, temperature, text.format, ...).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from interlink.core import (
    Block,
    ChatRequest,
    ChatResponse,
    Opaque,
    RawBlock,
    ReasoningBlock,
    StopReason,
    TextBlock,
    ToolCallBlock,
    Usage,
)

API = "openai-responses"


def new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex}"


def prefixed(value: str | None, prefix: str) -> str:
    if not value:
        return new_id(prefix)
    return value if value.startswith(prefix) else prefix + value


def encrypted_content(opaque: Opaque | None) -> str | None:
    """Native encrypted reasoning as is; another API's opaque packed so it survives the trip."""
    if opaque is None:
        return None
    if opaque.origin == API and opaque.kind == "encrypted_content":
        return opaque.value
    return opaque.encode()


def reasoning_item(block: ReasoningBlock, item_id: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "reasoning",
        "id": item_id,
        "summary": [{"type": "summary_text", "text": block.text}] if block.text else [],
    }
    encrypted = encrypted_content(block.opaque)
    if encrypted is not None:
        item["encrypted_content"] = encrypted
    return item


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(text: str | None, item_id: str, status: str = "completed") -> dict[str, Any]:
    return {
        "type": "message",
        "id": item_id,
        "role": "assistant",
        "status": status,
        "content": [] if text is None else [text_part(text)],
    }


def function_call_item(block: ToolCallBlock, item_id: str, status: str = "completed") -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": block.id,
        "name": block.name,
        "arguments": block.arguments,
        "status": status,
    }


def output_item(block: Block) -> dict[str, Any] | None:
    """The output item for one complete block; None for blocks a Responses client cannot get."""
    match block:
        case TextBlock():
            return message_item(block.text, new_id("msg_"))
        case ReasoningBlock():
            return reasoning_item(block, prefixed(block.id, "rs_"))
        case ToolCallBlock():
            return function_call_item(block, new_id("fc_"))
        case RawBlock(origin=origin, data=data) if origin == API:
            return data
    return None


def usage_object(usage: Usage) -> dict[str, Any]:
    # Both counts always: the openai SDK's InputTokensDetails declares each of them required.
    details: dict[str, Any] = {"cached_tokens": usage.cache_read_tokens, "cache_write_tokens": usage.cache_write_tokens}
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": details,
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens or 0},
        "total_tokens": usage.total_tokens,
    }


def status_of(stop_reason: StopReason | None) -> tuple[str, dict[str, Any] | None]:
    """Response status and incomplete_details for a stop reason."""
    if stop_reason == StopReason.MAX_TOKENS:
        return "incomplete", {"reason": "max_output_tokens"}
    if stop_reason == StopReason.REFUSAL:
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def _tool_choice(request: ChatRequest) -> Any:
    choice = request.tool_choice
    if choice is None:
        return "auto"
    if choice.mode == "tool":
        raw = next((t.raw for t in request.tools if t.name == choice.name and t.raw is not None), None)
        return {"type": "custom" if raw and raw.get("type") == "custom" else "function", "name": choice.name}
    return choice.mode


def _tools(request: ChatRequest) -> list[dict[str, Any]]:
    tools = []
    for spec in request.tools:
        if spec.raw is not None:
            if spec.raw_origin == API:
                tools.append(spec.raw)
            continue
        tools.append(
            {
                "type": "function",
                "name": spec.name,
                "description": spec.description,
                "parameters": spec.parameters,
                "strict": spec.strict,
            }
        )
    return tools


def _text_config(request: ChatRequest) -> dict[str, Any]:
    fmt = request.response_format
    if fmt is None or fmt.type != "json_schema":
        return {"format": {"type": fmt.type if fmt else "text"}}
    out: dict[str, Any] = {"type": "json_schema", "name": fmt.name or "response", "schema": fmt.schema or {}}
    if fmt.strict is not None:
        out["strict"] = fmt.strict
    if fmt.description is not None:
        out["description"] = fmt.description
    return {"format": out}


def response_object(
    request: ChatRequest,
    *,
    response_id: str,
    created_at: int,
    status: str,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None,
    incomplete_details: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A full Response object; the stream encoder builds its lifecycle events from this too."""
    reasoning = request.reasoning
    instructions = "\n\n".join(b.text for b in request.system) or None
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": False,
        "error": error,
        "incomplete_details": incomplete_details,
        "instructions": instructions,
        "max_output_tokens": request.max_tokens,
        "model": request.model,
        "output": output,
        "parallel_tool_calls": request.parallel_tool_calls if request.parallel_tool_calls is not None else True,
        "previous_response_id": None,
        "reasoning": {"effort": reasoning.effort, "summary": reasoning.summary} if reasoning else None,
        "store": False,
        "temperature": request.temperature,
        "text": _text_config(request),
        "tool_choice": _tool_choice(request),
        "tools": _tools(request),
        "top_p": request.top_p,
        "truncation": "disabled",
        "usage": usage,
        "user": request.user,
        "metadata": request.metadata or {},
    }


def render_response(response: ChatResponse, request: ChatRequest) -> dict[str, Any]:
    output = [item for item in map(output_item, response.content) if item is not None]
    status, incomplete = status_of(response.stop_reason)
    return response_object(
        request,
        response_id=prefixed(response.id, "resp_"),
        created_at=int(time.time()),
        status=status,
        output=output,
        usage=usage_object(response.usage),
        incomplete_details=incomplete,
    )
