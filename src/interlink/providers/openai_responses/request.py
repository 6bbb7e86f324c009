"""`core.ChatRequest` -> `POST {base_url}/responses`.

Always stateless: `store: false`, and `include: ["reasoning.encrypted_content"]` whenever
reasoning is on, so reasoning can be replayed as items on the next turn. What the Responses API
cannot carry (stop sequences, top_k, seed, penalties, cache markers, other APIs' opaque reasoning
and server tools) is dropped and listed in `UpstreamRequest.dropped`. A request that came from a
Responses client is rebuilt from its raw body (same-API passthrough).
"""

from __future__ import annotations

from typing import Any

import orjson

from interlink.core import (
    ChatRequest,
    ImageBlock,
    Message,
    Opaque,
    RawBlock,
    ReasoningBlock,
    ReasoningConfig,
    TextBlock,
    ToolCallBlock,
    ToolResultBlock,
)
from interlink.providers import ProviderSettings, UpstreamRequest, apply_overrides, apply_policy

API = "openai-responses"
_ENCRYPTED = "reasoning.encrypted_content"


def build_request(
    request: ChatRequest, *, upstream_model: str, settings: ProviderSettings, stream: bool
) -> UpstreamRequest:
    headers = {"content-type": "application/json", **settings.preset.default_headers, **settings.headers}
    if settings.api_key:
        headers["authorization"] = f"Bearer {settings.api_key}"
    if stream:
        headers["accept"] = "text/event-stream"
    dropped: list[str] = []
    passthrough = request.passthrough
    if passthrough is not None and passthrough.api == API:
        body = _passthrough_body(passthrough.body, upstream_model, stream, dropped)
        if passthrough.overrides:
            translated = _translate(request, upstream_model, stream, [])
            apply_overrides(body, translated, passthrough.overrides, OVERRIDE_KEYS)
        headers.update(passthrough.headers)
    else:
        body = _translate(request, upstream_model, stream, dropped)
    apply_policy(body, settings.policy, dropped)
    return UpstreamRequest(
        url=settings.base_url.rstrip("/") + "/responses",
        headers=headers,
        body=orjson.dumps(body),
        stream=stream,
        dropped=list(dict.fromkeys(dropped)),
    )


# Internal request parts → the body keys that carry them, for repaired passthrough requests.
OVERRIDE_KEYS = {
    "messages": ("input", "instructions"),
    "max_tokens": ("max_output_tokens",),
    "reasoning": ("reasoning", "include"),
    "tools": ("tools", "tool_choice", "parallel_tool_calls"),
}


def _passthrough_body(raw: dict[str, Any], upstream_model: str, stream: bool, dropped: list[str]) -> dict[str, Any]:
    body = dict(raw)
    if isinstance(body.get("input"), list):
        kept = [i for i in body["input"] if not _foreign_reasoning(i)]
        if len(kept) != len(body["input"]):
            # Reasoning another upstream produced (packed by the encoder) would be a 400 here.
            dropped.append("reasoning")
            body["input"] = kept
    body["model"] = upstream_model
    body["stream"] = stream
    # Nothing is stored upstream either: the client gets everything it needs for the next turn.
    body["store"] = False
    if isinstance(body.get("reasoning"), dict):
        include = body.get("include")
        include = include if isinstance(include, list) else []
        if _ENCRYPTED not in include:
            body["include"] = [*include, _ENCRYPTED]
    return body


def _foreign_reasoning(item: Any) -> bool:
    if not isinstance(item, dict) or item.get("type") != "reasoning":
        return False
    encrypted = item.get("encrypted_content")
    opaque = Opaque.decode(encrypted) if isinstance(encrypted, str) else None
    return opaque is not None and opaque.origin != API


def _translate(request: ChatRequest, model: str, stream: bool, dropped: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "input": _items(request.messages, dropped), "stream": stream}
    body["store"] = False
    if request.system:
        body["instructions"] = "\n\n".join(b.text for b in request.system)
        if any(b.cache for b in request.system):
            dropped.append("cache_control")
    tools = _tools(request, dropped)
    if tools:
        body["tools"] = tools
    choice = _tool_choice(request)
    if choice is not None:
        body["tool_choice"] = choice
    optional = {
        "parallel_tool_calls": request.parallel_tool_calls,
        "max_output_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "user": request.user,
        "metadata": request.metadata,
        "service_tier": request.service_tier,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    reasoning = _reasoning(request.reasoning)
    if reasoning is not None:
        body["reasoning"] = reasoning
        body["include"] = [_ENCRYPTED]
    if request.response_format is not None:
        body["text"] = {"format": _text_format(request)}
    _report_unsupported(request, dropped)
    return body


def _report_unsupported(request: ChatRequest, dropped: list[str]) -> None:
    checks = {
        "stop": bool(request.stop),
        "top_k": request.top_k is not None,
        "seed": request.seed is not None,
        "presence_penalty": request.presence_penalty is not None,
        "frequency_penalty": request.frequency_penalty is not None,
        "cache_control": request.cache is not None,
    }
    dropped.extend(name for name, hit in checks.items() if hit)


def effort_for_budget(budget: int) -> str:
    if budget <= 1024:
        return "low"
    if budget <= 4096:
        return "medium"
    return "high"


def _reasoning(config: ReasoningConfig | None) -> dict[str, Any] | None:
    # Explicitly off: send nothing (a non-reasoning model rejects any `reasoning` object).
    if config is None or not config.enabled:
        return None
    effort = config.effort
    if effort is None and config.budget_tokens is not None:
        effort = effort_for_budget(config.budget_tokens)
    if effort == "max":
        effort = "xhigh"
    out: dict[str, Any] = {}
    if effort is not None:
        out["effort"] = effort
    # Asking for reasoning means wanting to see it: OpenAI only returns text as summaries.
    out["summary"] = config.summary or "auto"
    return out


def _text_format(request: ChatRequest) -> dict[str, Any]:
    fmt = request.response_format
    assert fmt is not None
    if fmt.type != "json_schema":
        return {"type": fmt.type}
    out: dict[str, Any] = {"type": "json_schema", "name": fmt.name or "response", "schema": fmt.schema or {}}
    if fmt.strict is not None:
        out["strict"] = fmt.strict
    if fmt.description is not None:
        out["description"] = fmt.description
    return out


def _tools(request: ChatRequest, dropped: list[str]) -> list[dict[str, Any]]:
    tools = []
    for spec in request.tools:
        if spec.cache is not None:
            dropped.append("cache_control")
        if spec.raw is not None:
            if spec.raw_origin == API:
                tools.append(spec.raw)
            else:
                dropped.append("server_tools")
            continue
        tool: dict[str, Any] = {"type": "function", "name": spec.name, "parameters": spec.parameters}
        if spec.description is not None:
            tool["description"] = spec.description
        # Responses defaults `strict` to true, which rejects most hand-written schemas.
        tool["strict"] = bool(spec.strict)
        tools.append(tool)
    return tools


def _tool_choice(request: ChatRequest) -> Any:
    choice = request.tool_choice
    if choice is None:
        return None
    if choice.mode != "tool":
        return choice.mode
    raw = next((t.raw for t in request.tools if t.name == choice.name and t.raw_origin == API), None)
    kind = raw.get("type") if raw else "function"
    return {"type": "custom" if kind == "custom" else "function", "name": choice.name}


# --- messages -> input items -------------------------------------------------------------------


def _items(messages: list[Message], dropped: list[str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "assistant":
            items.extend(_assistant_items(message, dropped))
        else:
            items.extend(_input_items(message, dropped))
    return items


def _input_items(message: Message, dropped: list[str]) -> list[dict[str, Any]]:
    """User or mid-conversation system turn: text/image runs become message items, tool results
    become function_call_output items, in their original order."""
    role = "developer" if message.role == "system" else "user"
    items: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []

    def flush() -> None:
        if parts:
            items.append({"type": "message", "role": role, "content": list(parts)})
            parts.clear()

    for block in message.content:
        if getattr(block, "cache", None) is not None:
            dropped.append("cache_control")
        if isinstance(block, (TextBlock, ImageBlock)):
            part = _input_part(block)
            if part is not None:
                parts.append(part)
            continue
        flush()
        if isinstance(block, ToolResultBlock):
            items.append(_tool_output(block, dropped))
        elif isinstance(block, RawBlock) and block.origin == API:
            items.append(block.data)
        elif isinstance(block, RawBlock):
            dropped.append("server_tools")
    flush()
    return items


def _input_part(block: TextBlock | ImageBlock) -> dict[str, Any] | None:
    if isinstance(block, TextBlock):
        return {"type": "input_text", "text": block.text}
    url = block.url
    if url is None and block.data is not None:
        url = f"data:{block.media_type or 'image/png'};base64,{block.data}"
    if url is None:
        return None
    part: dict[str, Any] = {"type": "input_image", "image_url": url}
    part["detail"] = block.detail or "auto"
    return part


def _tool_output(block: ToolResultBlock, dropped: list[str]) -> dict[str, Any]:
    if block.is_error:
        # No error flag in Responses: the model still sees the text of the failure.
        dropped.append("tool_result.is_error")
    if all(isinstance(b, TextBlock) for b in block.content):
        output: Any = block.text()
    else:
        output = [p for p in map(_input_part, block.content) if p is not None]
    return {"type": "function_call_output", "call_id": block.tool_call_id, "output": output}


def _assistant_items(message: Message, dropped: list[str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    texts: list[dict[str, Any]] = []

    def flush() -> None:
        if texts:
            items.append({"type": "message", "role": "assistant", "content": list(texts)})
            texts.clear()

    for block in message.content:
        if getattr(block, "cache", None) is not None:
            dropped.append("cache_control")
        if isinstance(block, TextBlock):
            if block.text:
                texts.append({"type": "output_text", "text": block.text})
            continue
        flush()
        if isinstance(block, ToolCallBlock):
            items.append(
                {"type": "function_call", "call_id": block.id, "name": block.name, "arguments": block.arguments}
            )
        elif isinstance(block, ReasoningBlock):
            item = _reasoning_item(block)
            if item is not None:
                items.append(item)
            elif block.text:
                dropped.append("reasoning")
        elif isinstance(block, RawBlock) and block.origin == API:
            items.append(block.data)
        elif isinstance(block, RawBlock):
            dropped.append("server_tools")
        elif isinstance(block, ImageBlock):
            dropped.append("assistant_image")
    flush()
    return items


def _reasoning_item(block: ReasoningBlock) -> dict[str, Any] | None:
    opaque = block.opaque
    if opaque is None or opaque.origin != API or opaque.kind != "encrypted_content":
        return None
    item: dict[str, Any] = {"type": "reasoning"}
    if block.id:
        item["id"] = block.id
    item["summary"] = [{"type": "summary_text", "text": block.text}] if block.text else []
    item["encrypted_content"] = opaque.value
    return item
