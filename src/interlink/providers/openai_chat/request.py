"""`core.ChatRequest` -> `POST {base_url}/chat/completions` for OpenAI and compatible servers.

Translated path: system text first, tool results as `tool` messages (Chat has no error flag or
images there), reasoning echoed only where the preset says the server wants it back, and
every feature Chat cannot carry named in `UpstreamRequest.dropped`. Same-API path: the client's
own body with model, stream and the preset's dialect fixed, so unknown fields pass unchanged.
"""

from __future__ import annotations

from typing import Any

import orjson

from interlink.core import (
    Block,
    ChatRequest,
    ImageBlock,
    Message,
    RawBlock,
    ReasoningBlock,
    TextBlock,
    ToolCallBlock,
    ToolResultBlock,
    ToolSpec,
)
from interlink.providers import Preset, ProviderSettings, UpstreamRequest, apply_overrides, apply_policy

API = "openai-chat"


class _Dropped(list[str]):
    def add(self, name: str) -> None:
        if name not in self:
            self.append(name)


def build_request(
    request: ChatRequest, *, upstream_model: str, settings: ProviderSettings, stream: bool
) -> UpstreamRequest:
    preset = settings.preset
    headers = {"Content-Type": "application/json", **preset.default_headers, **settings.headers}
    if settings.api_key:
        headers["Authorization"] = f"Bearer {settings.api_key}"
    if stream:
        headers["Accept"] = "text/event-stream"
    dropped = _Dropped()
    if request.passthrough is not None and request.passthrough.api == API:
        body = _passthrough_body(request.passthrough.body, upstream_model, preset, stream)
        if request.passthrough.overrides:
            translated = _translated_body(request, upstream_model, preset, stream, _Dropped())
            apply_overrides(body, translated, request.passthrough.overrides, OVERRIDE_KEYS)
        headers.update(request.passthrough.headers)
    else:
        body = _translated_body(request, upstream_model, preset, stream, dropped)
    apply_policy(body, settings.policy, dropped)
    return UpstreamRequest(
        url=settings.base_url.rstrip("/") + "/chat/completions",
        headers=headers,
        body=orjson.dumps(body),
        stream=stream,
        dropped=list(dropped),
    )


# Internal request parts → the body keys that carry them, for repaired passthrough requests.
OVERRIDE_KEYS = {
    "messages": ("messages",),
    "max_tokens": ("max_tokens", "max_completion_tokens"),
    "reasoning": ("reasoning_effort",),
    "tools": ("tools", "tool_choice", "parallel_tool_calls"),
}


def _passthrough_body(raw: dict[str, Any], model: str, preset: Preset, stream: bool) -> dict[str, Any]:
    body = dict(raw)
    body["model"] = model
    body["stream"] = stream
    options = body.pop("stream_options", None)
    if stream:
        options = dict(options) if isinstance(options, dict) else {}
        if preset.stream_usage:
            options["include_usage"] = True
        if options:
            body["stream_options"] = options
    # The two max-token spellings are the one dialect difference clients cannot know about.
    other = "max_tokens" if preset.max_tokens_field == "max_completion_tokens" else "max_completion_tokens"
    if other in body and preset.max_tokens_field not in body:
        body[preset.max_tokens_field] = body.pop(other)
    return body


def _translated_body(
    request: ChatRequest, model: str, preset: Preset, stream: bool, dropped: _Dropped
) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": _messages(request, preset, dropped)}
    _tools(request, body, dropped)
    _options(request, body, preset, dropped)
    body["stream"] = stream
    if stream and preset.stream_usage:
        body["stream_options"] = {"include_usage": True}
    return body


# --- messages -------------------------------------------------------------------------------


def _messages(request: ChatRequest, preset: Preset, dropped: _Dropped) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if request.system:
        if any(b.cache is not None for b in request.system):
            dropped.add("cache_control")
        out.append({"role": "system", "content": "\n\n".join(b.text for b in request.system)})
    for message in request.messages:
        if any(getattr(b, "cache", None) is not None for b in message.content):
            dropped.add("cache_control")
        if message.role == "system":
            out.append({"role": "system", "content": _plain_text(message.content, dropped)})
        elif message.role == "user":
            out.extend(_user(message, dropped))
        else:
            out.append(_assistant(message, preset, dropped))
    return out


def _plain_text(blocks: list[Block], dropped: _Dropped) -> str:
    texts = []
    for block in blocks:
        if isinstance(block, TextBlock):
            texts.append(block.text)
        else:
            dropped.add(f"system_{block.type}")
    return "\n\n".join(texts)


def _user(message: Message, dropped: _Dropped) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    rest: list[dict[str, Any]] = []
    for block in message.content:
        match block:
            case ToolResultBlock():
                out.append(_tool_message(block, dropped))
            case TextBlock():
                rest.append({"type": "text", "text": block.text})
            case ImageBlock():
                rest.append(_image_part(block))
            case RawBlock(origin="openai-chat"):
                rest.append(block.data)
            case ReasoningBlock():
                dropped.add("reasoning")
            case _:
                dropped.add("raw_content" if isinstance(block, RawBlock) else block.type)
    if rest:
        # Plain strings are what every compatible server accepts; parts only when needed.
        if all(part.get("type") == "text" for part in rest):
            content: Any = "\n\n".join(part["text"] for part in rest)
        else:
            content = rest
        out.append({"role": "user", "content": content})
    return out


def _tool_message(block: ToolResultBlock, dropped: _Dropped) -> dict[str, Any]:
    if any(isinstance(part, ImageBlock) for part in block.content):
        dropped.add("tool_result_images")
    text = block.text()
    if block.is_error:
        text = f"Error: {text}" if text else "Error"
    return {"role": "tool", "tool_call_id": block.tool_call_id, "content": text}


def _image_part(block: ImageBlock) -> dict[str, Any]:
    if block.data is not None:
        url = f"data:{block.media_type or 'image/png'};base64,{block.data}"
    else:
        url = block.url or ""
    image: dict[str, Any] = {"url": url}
    if block.detail:
        image["detail"] = block.detail
    return {"type": "image_url", "image_url": image}


def _assistant(message: Message, preset: Preset, dropped: _Dropped) -> dict[str, Any]:
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in message.content:
        match block:
            case TextBlock():
                texts.append(block.text)
            case ReasoningBlock():
                if block.text:
                    reasoning.append(block.text)
            case ToolCallBlock():
                arguments = block.arguments if block.arguments.strip() else "{}"
                function = {"name": block.name, "arguments": arguments}
                calls.append({"id": block.id, "type": "function", "function": function})
            case RawBlock(origin="openai-chat") if block.data.get("type") not in (None, "text"):
                calls.append(block.data)  # a non-function tool call (e.g. custom) of this API
            case _:
                dropped.add("raw_content" if isinstance(block, RawBlock) else block.type)
    empty = None if preset.null_content_with_tool_calls else ""
    out: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else empty}
    if calls:
        out["tool_calls"] = calls
    # DeepSeek-style servers need the reasoning back on tool-call turns ("" when there was none).
    if preset.reasoning_echo and calls:
        out[preset.reasoning_field] = "\n\n".join(reasoning)
    elif reasoning:
        dropped.add("reasoning")
    return out


# --- tools and options ----------------------------------------------------------------------


def _tools(request: ChatRequest, body: dict[str, Any], dropped: _Dropped) -> None:
    tools = [t for t in (_tool(spec, dropped) for spec in request.tools) if t is not None]
    if any(spec.cache is not None for spec in request.tools):
        dropped.add("cache_control")
    if tools:
        body["tools"] = tools
        choice = request.tool_choice
        if choice is not None:
            if choice.mode == "tool":
                body["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
            else:
                body["tool_choice"] = choice.mode
        if request.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = request.parallel_tool_calls
    elif request.tool_choice is not None and request.tool_choice.mode != "none":
        dropped.add("tool_choice")


def _tool(spec: ToolSpec, dropped: _Dropped) -> dict[str, Any] | None:
    if spec.raw is not None:
        if spec.raw_origin == API:
            return spec.raw
        dropped.add("server_tools")
        return None
    function: dict[str, Any] = {"name": spec.name, "parameters": spec.parameters}
    if spec.description is not None:
        function["description"] = spec.description
    if spec.strict is not None:
        function["strict"] = spec.strict
    return {"type": "function", "function": function}


def _options(request: ChatRequest, body: dict[str, Any], preset: Preset, dropped: _Dropped) -> None:
    if request.max_tokens is not None:
        body[preset.max_tokens_field] = request.max_tokens
    for name in ("temperature", "top_p", "seed", "presence_penalty", "frequency_penalty"):
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    if request.stop:
        body["stop"] = list(request.stop)
    if request.user:
        body["user"] = request.user
    _reasoning(request, body, preset, dropped)
    _response_format(request, body)
    for name in ("top_k", "metadata", "service_tier"):
        if getattr(request, name) is not None:
            dropped.add(name)
    if request.cache is not None:
        dropped.add("cache_control")


def _reasoning(request: ChatRequest, body: dict[str, Any], preset: Preset, dropped: _Dropped) -> None:
    config = request.reasoning
    if config is None:
        return
    effort = config.effort or _effort_for(config.budget_tokens, config.enabled, config.adaptive)
    if effort is None:
        return
    if preset.supports_reasoning_effort:
        body["reasoning_effort"] = effort
    else:
        dropped.add("reasoning_effort")


def _effort_for(budget: int | None, enabled: bool, adaptive: bool) -> str | None:
    """Anthropic thinking -> an effort level, inverting LiteLLM's effort->budget table
    (low 1024, medium 2048, high 4096; NOTES §4.1). Thinking switched off sends nothing, so
    the model's default applies."""
    if not enabled:
        return None
    if budget is None:
        return "medium" if adaptive else None
    if budget >= 4096:
        return "high"
    return "medium" if budget >= 2048 else "low"


def _response_format(request: ChatRequest, body: dict[str, Any]) -> None:
    fmt = request.response_format
    if fmt is None:
        return
    if fmt.type != "json_schema":
        body["response_format"] = {"type": fmt.type}
        return
    spec: dict[str, Any] = {"name": fmt.name or "response", "schema": fmt.schema or {"type": "object"}}
    if fmt.strict is not None:
        spec["strict"] = fmt.strict
    if fmt.description is not None:
        spec["description"] = fmt.description
    body["response_format"] = {"type": "json_schema", "json_schema": spec}
