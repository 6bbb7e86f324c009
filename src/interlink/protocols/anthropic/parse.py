"""Anthropic Messages request body (`POST /v1/messages`, `/v1/messages/count_tokens`) → core.ChatRequest.

Every field of the wire request that has a core home is mapped; blocks the core has no type for
(server tool calls and results, documents, search results, future types) become
`RawBlock(origin="anthropic")` so they survive a same-API round trip. Fields with no core home are
named in `ChatRequest.ignored`, and the whole body rides along as `Passthrough` for an Anthropic
upstream. Every malformed field is a 400 naming its JSON path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import orjson

from interlink.core import (
    Block,
    CacheControl,
    ChatRequest,
    GatewayError,
    ImageBlock,
    Message,
    Opaque,
    RawBlock,
    ReasoningBlock,
    ReasoningConfig,
    ResponseFormat,
    TextBlock,
    ToolCallBlock,
    ToolChoice,
    ToolResultBlock,
    ToolSpec,
)
from interlink.core.request import Passthrough, Role, ToolMode
from interlink.protocols.fields import body_object, check, join, one_of, optional, required

FORWARDED_HEADERS = ("anthropic-beta", "anthropic-version")
EFFORTS = ("low", "medium", "high", "xhigh", "max")
# Top-level fields an Anthropic upstream understands but the core model cannot carry.
_UNMODELLED = ("container", "context_management", "inference_geo", "mcp_servers")


def parse_request(body: Any, headers: Mapping[str, str]) -> ChatRequest:
    """A `/v1/messages` body; `max_tokens` is required as the real API requires it."""
    return _parse(body, headers, need_max_tokens=True)


def parse_count_tokens(body: Any, headers: Mapping[str, str]) -> ChatRequest:
    """A `/v1/messages/count_tokens` body: the same shape without `max_tokens`."""
    return _parse(body, headers, need_max_tokens=False)


def _parse(body: Any, headers: Mapping[str, str], *, need_max_tokens: bool) -> ChatRequest:
    obj = body_object(body)
    model = required(obj, "model", "", str)
    if need_max_tokens:
        max_tokens = required(obj, "max_tokens", "", int)
    else:
        max_tokens = optional(obj, "max_tokens", "", int)
    if max_tokens is not None and max_tokens < 1:
        raise GatewayError.invalid("max_tokens: must be at least 1", "max_tokens")
    raw_messages = required(obj, "messages", "", list)
    if not raw_messages:
        raise GatewayError.invalid("messages: at least one message is required", "messages")
    request = ChatRequest(
        model=model,
        messages=[_message(m, f"messages[{i}]") for i, m in enumerate(raw_messages)],
        system=_system(obj.get("system")),
        max_tokens=max_tokens,
        temperature=optional(obj, "temperature", "", float),
        top_p=optional(obj, "top_p", "", float),
        top_k=optional(obj, "top_k", "", int),
        stop=_strings(obj, "stop_sequences"),
        stream=bool(optional(obj, "stream", "", bool, default=False)),
        service_tier=optional(obj, "service_tier", "", str),
        cache=_cache(obj, ""),
    )
    _tools(obj, request)
    _tool_choice(obj, request)
    _reasoning_and_format(obj, request)
    metadata = optional(obj, "metadata", "", dict)
    if metadata is not None:
        request.user = optional(metadata, "user_id", "metadata", str)
    request.ignored = [name for name in _UNMODELLED if obj.get(name) is not None]
    request.passthrough = Passthrough(api="anthropic", body=obj, headers=_forwarded(headers))
    return request


def _forwarded(headers: Mapping[str, str]) -> dict[str, str]:
    lowered = {k.lower(): v for k, v in headers.items()}
    return {name: lowered[name] for name in FORWARDED_HEADERS if name in lowered}


def _strings(obj: dict[str, Any], key: str) -> list[str]:
    values = optional(obj, key, "", list, default=[])
    return [check(v, f"{key}[{i}]", str) for i, v in enumerate(values)]


def _cache(obj: dict[str, Any], path: str) -> CacheControl | None:
    raw = optional(obj, "cache_control", path, dict)
    if raw is None:
        return None
    where = join(path, "cache_control")
    return CacheControl(
        type=optional(raw, "type", where, str, default="ephemeral"),
        ttl=optional(raw, "ttl", where, str),
    )


def _system(value: Any) -> list[TextBlock]:
    if value is None:
        return []
    check(value, "system", str, list)
    if isinstance(value, str):
        return [TextBlock(text=value)] if value else []
    return [_text_block(check(b, f"system[{i}]", dict), f"system[{i}]") for i, b in enumerate(value)]


def _text_block(block: dict[str, Any], path: str) -> TextBlock:
    kind = block.get("type")
    if kind != "text":
        raise GatewayError.invalid(f"{path}.type: expected 'text', got {kind!r}", join(path, "type"))
    citations = optional(block, "citations", path, list)
    return TextBlock(text=required(block, "text", path, str), cache=_cache(block, path), citations=citations)


def _message(raw: Any, path: str) -> Message:
    obj = check(raw, path, dict)
    role = one_of(obj.get("role"), join(path, "role"), ("user", "assistant", "system"))
    content = required(obj, "content", path, str, list)
    where = join(path, "content")
    if isinstance(content, str):
        blocks: list[Block] = [TextBlock(text=content)]
    else:
        blocks = [_block(check(b, f"{where}[{i}]", dict), f"{where}[{i}]") for i, b in enumerate(content)]
    return Message(role=cast(Role, role), content=blocks)


def _block(block: dict[str, Any], path: str) -> Block:
    kind = required(block, "type", path, str)
    match kind:
        case "text":
            return _text_block(block, path)
        case "image":
            return _image(block, path)
        case "tool_use":
            return _tool_use(block, path)
        case "tool_result":
            return _tool_result(block, path)
        case "thinking":
            signature = optional(block, "signature", path, str, default="")
            return ReasoningBlock(text=required(block, "thinking", path, str), opaque=_signature(signature))
        case "redacted_thinking":
            data = required(block, "data", path, str)
            return ReasoningBlock(opaque=Opaque.decode(data) or Opaque("anthropic", "redacted", data))
        case _:
            # server_tool_use, *_tool_result, document, search_result, container_upload, new types
            return RawBlock(origin="anthropic", data=block)


def _signature(signature: str) -> Opaque | None:
    """A signature we packed for another origin decodes back to it; anything else is native."""
    if not signature:
        return None
    return Opaque.decode(signature) or Opaque("anthropic", "signature", signature)


def _image(block: dict[str, Any], path: str) -> Block:
    source = required(block, "source", path, dict)
    where = join(path, "source")
    kind = required(source, "type", where, str)
    cache = _cache(block, path)
    if kind == "base64":
        return ImageBlock(
            media_type=required(source, "media_type", where, str),
            data=required(source, "data", where, str),
            cache=cache,
        )
    if kind == "url":
        return ImageBlock(url=required(source, "url", where, str), cache=cache)
    return RawBlock(origin="anthropic", data=block)  # file ids etc.: Anthropic-only


def _tool_use(block: dict[str, Any], path: str) -> ToolCallBlock:
    tool_input = required(block, "input", path, dict)
    return ToolCallBlock(
        id=required(block, "id", path, str),
        name=required(block, "name", path, str),
        arguments=orjson.dumps(tool_input).decode(),
        cache=_cache(block, path),
    )


def _tool_result(block: dict[str, Any], path: str) -> ToolResultBlock:
    tool_use_id = required(block, "tool_use_id", path, str)
    content = block.get("content")
    where = join(path, "content")
    parts: list[TextBlock | ImageBlock] = []
    if isinstance(content, str):
        parts.append(TextBlock(text=content))
    elif content is not None:
        for i, item in enumerate(check(content, where, str, list)):
            part = _block(check(item, f"{where}[{i}]", dict), f"{where}[{i}]")
            if isinstance(part, TextBlock | ImageBlock):
                parts.append(part)
            else:
                # documents / search results inside a result have no core home: keep their
                # presence visible as text rather than losing the fact they were there.
                parts.append(TextBlock(text=orjson.dumps(item).decode()))
    return ToolResultBlock(
        tool_call_id=tool_use_id,
        content=parts,
        is_error=bool(optional(block, "is_error", path, bool, default=False)),
        cache=_cache(block, path),
    )


def _tools(obj: dict[str, Any], request: ChatRequest) -> None:
    raw_tools = optional(obj, "tools", "", list, default=[])
    for i, raw in enumerate(raw_tools):
        path = f"tools[{i}]"
        tool = check(raw, path, dict)
        kind = optional(tool, "type", path, str)
        if kind not in (None, "custom"):
            name = optional(tool, "name", path, str, default=kind)
            request.tools.append(ToolSpec(name=name, raw=tool, raw_origin="anthropic"))
            continue
        request.tools.append(
            ToolSpec(
                name=required(tool, "name", path, str),
                description=optional(tool, "description", path, str),
                parameters=required(tool, "input_schema", path, dict),
                strict=optional(tool, "strict", path, bool),
                cache=_cache(tool, path),
            )
        )


def _tool_choice(obj: dict[str, Any], request: ChatRequest) -> None:
    raw = optional(obj, "tool_choice", "", dict)
    if raw is None:
        return
    kind = one_of(raw.get("type"), "tool_choice.type", ("auto", "any", "tool", "none"))
    if kind == "tool":
        request.tool_choice = ToolChoice("tool", required(raw, "name", "tool_choice", str))
    else:
        request.tool_choice = ToolChoice(cast(ToolMode, "required" if kind == "any" else kind))
    disable = optional(raw, "disable_parallel_tool_use", "tool_choice", bool)
    if disable is not None:
        request.parallel_tool_calls = not disable


def _reasoning_and_format(obj: dict[str, Any], request: ChatRequest) -> None:
    thinking = optional(obj, "thinking", "", dict)
    config = optional(obj, "output_config", "", dict) or {}
    effort = config.get("effort")
    if effort is not None:
        effort = one_of(effort, "output_config.effort", EFFORTS)
    if thinking is not None:
        kind = one_of(thinking.get("type"), "thinking.type", ("enabled", "adaptive", "disabled"))
        display = optional(thinking, "display", "thinking", str)
        request.reasoning = ReasoningConfig(
            enabled=kind != "disabled",
            budget_tokens=required(thinking, "budget_tokens", "thinking", int) if kind == "enabled" else None,
            effort=effort,
            adaptive=kind == "adaptive",
            display=display,
        )
    elif effort is not None:
        request.reasoning = ReasoningConfig(effort=effort)
    fmt = optional(config, "format", "output_config", dict)
    if fmt is not None:
        one_of(fmt.get("type"), "output_config.format.type", ("json_schema",))
        request.response_format = ResponseFormat(
            type="json_schema",
            name=optional(fmt, "name", "output_config.format", str),
            schema=required(fmt, "schema", "output_config.format", dict),
        )
