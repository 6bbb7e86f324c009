"""Chat Completions wire request (`POST /v1/chat/completions`) -> `core.ChatRequest`.

Owns the client-side reading of messages, content parts, tools and sampling options, including
the common non-standard extensions (`reasoning_content` / `reasoning`, LiteLLM `thinking_blocks`).
Every rejection is a 400 naming the offending JSON path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import orjson

from interlink.core import (
    Block,
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
from interlink.core.request import FormatType, Passthrough, ToolMode
from interlink.protocols.fields import body_object, check, join, one_of, optional, required

API = "openai-chat"

_SYSTEM_ROLES = ("system", "developer")
_ROLES = ("system", "developer", "user", "assistant", "tool")

# Accepted by OpenAI but with no slot in the core model: reported back via `ignored`.
_UNREPRESENTABLE = (
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "prediction",
    "modalities",
    "audio",
    "web_search_options",
    "store",
    "prompt_cache_key",
    "prompt_cache_retention",
    "verbosity",
)


def parse_request(body: Any, headers: Mapping[str, str]) -> ChatRequest:
    obj = body_object(body)
    n = optional(obj, "n", "", int)
    if n is not None and n != 1:
        raise GatewayError.invalid("n>1 is not supported", "n")
    request = ChatRequest(
        model=required(obj, "model", "", str),
        messages=[],
    )
    raw_messages = required(obj, "messages", "", list)
    if not raw_messages:
        raise GatewayError.invalid("messages: at least one message is required", "messages")
    request.system, request.messages = _parse_messages(raw_messages)
    _parse_tools(obj, request)
    _parse_sampling(obj, request)
    _parse_output(obj, request)
    request.ignored += [key for key in _UNREPRESENTABLE if obj.get(key) not in (None, False)]
    forwarded = {k.lower(): v for k, v in headers.items() if k.lower() == "openai-beta"}
    request.passthrough = Passthrough(api=API, body=obj, headers=forwarded)
    return request


# --- messages -------------------------------------------------------------------------------


def _parse_messages(raw: list[Any]) -> tuple[list[TextBlock], list[Message]]:
    system: list[TextBlock] = []
    messages: list[Message] = []
    leading = True
    pending_results: list[Block] = []
    for i, item in enumerate(raw):
        path = f"messages[{i}]"
        msg = check(item, path, dict)
        role = required(msg, "role", path, str)
        if role not in _ROLES:
            raise GatewayError.invalid(
                f"{path}.role: unsupported role {role!r}; expected one of {', '.join(_ROLES)}",
                f"{path}.role",
            )
        if role == "tool":
            pending_results.append(_tool_result(msg, path))
            leading = False
            continue
        if pending_results:
            messages.append(Message(role="user", content=pending_results))
            pending_results = []
        if role in _SYSTEM_ROLES:
            blocks = _system_content(msg, path)
            if leading:
                system.extend(blocks)
            else:
                messages.append(Message(role="system", content=list(blocks)))
            continue
        leading = False
        if role == "user":
            messages.append(Message(role="user", content=_user_content(msg, path)))
        else:
            messages.append(Message(role="assistant", content=_assistant_content(msg, path)))
    if pending_results:
        messages.append(Message(role="user", content=pending_results))
    return system, messages


def _system_content(msg: dict[str, Any], path: str) -> list[TextBlock]:
    content = required(msg, "content", path, str, list)
    if isinstance(content, str):
        return [TextBlock(text=content)]
    return [_text_part(part, join(join(path, "content"), j)) for j, part in enumerate(content)]


def _text_part(part: Any, path: str) -> TextBlock:
    part = check(part, path, dict)
    one_of(part.get("type"), join(path, "type"), ("text",))
    return TextBlock(text=required(part, "text", path, str))


def _user_content(msg: dict[str, Any], path: str) -> list[Block]:
    content = required(msg, "content", path, str, list)
    if isinstance(content, str):
        return [TextBlock(text=content)]
    blocks: list[Block] = []
    for j, part in enumerate(content):
        part_path = join(join(path, "content"), j)
        part = check(part, part_path, dict)
        kind = required(part, "type", part_path, str)
        if kind == "text":
            blocks.append(TextBlock(text=required(part, "text", part_path, str)))
        elif kind == "image_url":
            blocks.append(_image(part, part_path))
        else:
            # input_audio, file, ...: only a Chat upstream can take them.
            blocks.append(RawBlock(origin=API, data=part))
    return blocks


def _image(part: dict[str, Any], path: str) -> ImageBlock:
    value = required(part, "image_url", path, dict, str)
    if isinstance(value, str):
        url, detail = value, None
    else:
        url = required(value, "url", join(path, "image_url"), str)
        detail = optional(value, "detail", join(path, "image_url"), str)
    if url.startswith("data:"):
        header, sep, data = url[5:].partition(",")
        if sep and header.endswith(";base64"):
            media_type = header[: -len(";base64")] or None
            return ImageBlock(media_type=media_type, data=data, detail=detail)
    return ImageBlock(url=url, detail=detail)


def _assistant_content(msg: dict[str, Any], path: str) -> list[Block]:
    blocks: list[Block] = list(_reasoning(msg, path))
    content = optional(msg, "content", path, str, list)
    if isinstance(content, str):
        if content:
            blocks.append(TextBlock(text=content))
    elif isinstance(content, list):
        for j, part in enumerate(content):
            part_path = join(join(path, "content"), j)
            part = check(part, part_path, dict)
            kind = one_of(part.get("type"), join(part_path, "type"), ("text", "refusal"))
            blocks.append(TextBlock(text=required(part, kind, part_path, str)))
    refusal = optional(msg, "refusal", path, str)
    if refusal:
        blocks.append(TextBlock(text=refusal))
    calls = optional(msg, "tool_calls", path, list, default=[])
    for j, call in enumerate(calls):
        blocks.append(_tool_call(call, join(join(path, "tool_calls"), j)))
    return blocks


def _reasoning(msg: dict[str, Any], path: str) -> list[ReasoningBlock]:
    thinking_blocks = optional(msg, "thinking_blocks", path, list)
    if thinking_blocks:
        return [_thinking_block(tb, join(join(path, "thinking_blocks"), j)) for j, tb in enumerate(thinking_blocks)]
    text = optional(msg, "reasoning_content", path, str)
    if text is None:
        text = optional(msg, "reasoning", path, str)
    return [ReasoningBlock(text=text)] if text else []


def _thinking_block(item: Any, path: str) -> ReasoningBlock:
    """LiteLLM's carrier for Anthropic thinking; a signature we encoded ourselves may hold
    another API's opaque data."""
    item = check(item, path, dict)
    kind = one_of(item.get("type"), join(path, "type"), ("thinking", "redacted_thinking"))
    if kind == "redacted_thinking":
        data = required(item, "data", path, str)
        return ReasoningBlock(opaque=Opaque.decode(data) or Opaque("anthropic", "redacted", data))
    text = optional(item, "thinking", path, str, default="")
    signature = optional(item, "signature", path, str)
    opaque = None
    if signature:
        opaque = Opaque.decode(signature) or Opaque("anthropic", "signature", signature)
    return ReasoningBlock(text=text, opaque=opaque)


def _tool_call(call: Any, path: str) -> Block:
    call = check(call, path, dict)
    kind = optional(call, "type", path, str, default="function")
    if kind != "function":
        return RawBlock(origin=API, data=call)
    function = required(call, "function", path, dict)
    fpath = join(path, "function")
    arguments = optional(function, "arguments", fpath, str, dict, default="")
    if isinstance(arguments, dict):
        arguments = orjson.dumps(arguments).decode()
    return ToolCallBlock(
        id=required(call, "id", path, str),
        name=required(function, "name", fpath, str),
        arguments=arguments,
    )


def _tool_result(msg: dict[str, Any], path: str) -> ToolResultBlock:
    call_id = required(msg, "tool_call_id", path, str)
    content = optional(msg, "content", path, str, list, default="")
    if isinstance(content, str):
        return ToolResultBlock(tool_call_id=call_id, content=[TextBlock(text=content)])
    parts: list[TextBlock | ImageBlock] = []
    for j, part in enumerate(content):
        part_path = join(join(path, "content"), j)
        part = check(part, part_path, dict)
        kind = one_of(part.get("type"), join(part_path, "type"), ("text", "image_url"))
        if kind == "text":
            parts.append(TextBlock(text=required(part, "text", part_path, str)))
        else:
            parts.append(_image(part, part_path))
    return ToolResultBlock(tool_call_id=call_id, content=parts)


# --- tools and options ----------------------------------------------------------------------


def _parse_tools(obj: dict[str, Any], request: ChatRequest) -> None:
    for i, tool in enumerate(optional(obj, "tools", "", list, default=[])):
        request.tools.append(_tool_spec(tool, f"tools[{i}]"))
    choice = obj.get("tool_choice")
    if choice is not None:
        request.tool_choice = _tool_choice(choice, request)
    request.parallel_tool_calls = optional(obj, "parallel_tool_calls", "", bool)


def _tool_spec(tool: Any, path: str) -> ToolSpec:
    tool = check(tool, path, dict)
    kind = required(tool, "type", path, str)
    if kind != "function":
        name = tool.get("name") if isinstance(tool.get("name"), str) else kind
        return ToolSpec(name=name, raw=tool, raw_origin=API)
    function = required(tool, "function", path, dict)
    fpath = join(path, "function")
    spec = ToolSpec(
        name=required(function, "name", fpath, str),
        description=optional(function, "description", fpath, str),
        strict=optional(function, "strict", fpath, bool),
    )
    parameters = optional(function, "parameters", fpath, dict)
    if parameters is not None:
        spec.parameters = parameters
    return spec


def _tool_choice(choice: Any, request: ChatRequest) -> ToolChoice:
    if isinstance(choice, str):
        mode = one_of(choice, "tool_choice", ("none", "auto", "required"))
        return ToolChoice(mode=cast(ToolMode, mode))
    choice = check(choice, "tool_choice", dict)
    kind = one_of(choice.get("type"), "tool_choice.type", ("function", "allowed_tools"))
    if kind == "allowed_tools":
        allowed = required(choice, "allowed_tools", "tool_choice", dict)
        mode = one_of(allowed.get("mode", "auto"), "tool_choice.allowed_tools.mode", ("auto", "required"))
        request.ignored.append("tool_choice.allowed_tools.tools")
        return ToolChoice(mode=cast(ToolMode, mode))
    function = required(choice, "function", "tool_choice", dict)
    return ToolChoice(mode="tool", name=required(function, "name", "tool_choice.function", str))


def _parse_sampling(obj: dict[str, Any], request: ChatRequest) -> None:
    field = "max_completion_tokens"
    max_tokens = optional(obj, field, "", int)
    if max_tokens is None:
        field, max_tokens = "max_tokens", optional(obj, "max_tokens", "", int)
    if max_tokens is not None and max_tokens < 1:
        raise GatewayError.invalid(f"{field}: must be at least 1", field)
    request.max_tokens = max_tokens
    stop = optional(obj, "stop", "", str, list)
    if isinstance(stop, str):
        request.stop = [stop]
    elif stop is not None:
        request.stop = [check(s, f"stop[{i}]", str) for i, s in enumerate(stop)]
    request.temperature = optional(obj, "temperature", "", float)
    request.top_p = optional(obj, "top_p", "", float)
    request.top_k = optional(obj, "top_k", "", int)
    request.seed = optional(obj, "seed", "", int)
    request.presence_penalty = optional(obj, "presence_penalty", "", float)
    request.frequency_penalty = optional(obj, "frequency_penalty", "", float)
    effort = optional(obj, "reasoning_effort", "", str)
    if effort is not None:
        request.reasoning = ReasoningConfig(enabled=effort != "none", effort=effort)


def _parse_output(obj: dict[str, Any], request: ChatRequest) -> None:
    request.response_format = _response_format(obj)
    request.user = optional(obj, "user", "", str) or optional(obj, "safety_identifier", "", str)
    request.metadata = optional(obj, "metadata", "", dict)
    request.service_tier = optional(obj, "service_tier", "", str)
    request.stream = optional(obj, "stream", "", bool, default=False)
    options = optional(obj, "stream_options", "", dict, default={})
    request.stream_usage = bool(
        request.stream and optional(options, "include_usage", "stream_options", bool, default=False)
    )


def _response_format(obj: dict[str, Any]) -> ResponseFormat | None:
    value = optional(obj, "response_format", "", dict)
    if value is None:
        return None
    kind = one_of(value.get("type"), "response_format.type", ("text", "json_object", "json_schema"))
    if kind != "json_schema":
        return ResponseFormat(type=cast(FormatType, kind))
    spec = required(value, "json_schema", "response_format", dict)
    path = "response_format.json_schema"
    return ResponseFormat(
        type="json_schema",
        name=optional(spec, "name", path, str),
        schema=optional(spec, "schema", path, dict),
        strict=optional(spec, "strict", path, bool),
        description=optional(spec, "description", path, str),
    )
