"""Client `POST /v1/responses` body -> `core.ChatRequest`.

Owns the Responses input-item grammar: message items (string or typed parts), function calls and
their outputs, reasoning items, hosted-tool items, and the request options. The gateway is
stateless, so anything that points at server-side state (`previous_response_id`, `conversation`,
`item_reference`, `background`) is a 400 that says what to send instead; `store: true` is
accepted (the AI SDK defaults to it) and reported as ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from interlink.core import (
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
from interlink.core.request import FormatType, Passthrough, Role, ToolMode
from interlink.protocols.fields import body_object, check, join, one_of, optional, required

API = "openai-responses"
_FORWARDED_HEADERS = ("openai-beta",)
_STATELESS = (
    "this gateway is stateless: send `store: false` and the full conversation as input items "
    '(with `include: ["reasoning.encrypted_content"]` to replay reasoning)'
)


def parse_request(body: Any, headers: Mapping[str, str]) -> ChatRequest:
    obj = body_object(body)
    _reject_state(obj)
    model = required(obj, "model", "", str)
    request = ChatRequest(model=model, messages=[])
    instructions = optional(obj, "instructions", "", str)
    if instructions:
        request.system.append(TextBlock(text=instructions))
    raw_input = obj.get("input")
    if not raw_input:
        # Stateless: without previous_response_id there is nothing else to answer.
        raise GatewayError.invalid("input: required, and must not be empty", "input")
    if isinstance(raw_input, str):
        request.messages.append(Message(role="user", content=[TextBlock(text=raw_input)]))
    else:
        _parse_items(check(raw_input, "input", list), request)
    _parse_tools(obj, request)
    _parse_options(obj, request)
    lowered = {k.lower(): v for k, v in headers.items()}
    forwarded = {k: lowered[k] for k in _FORWARDED_HEADERS if k in lowered}
    request.passthrough = Passthrough(api=API, body=obj, headers=forwarded)
    return request


def _reject_state(obj: dict[str, Any]) -> None:
    for key in ("previous_response_id", "conversation"):
        if obj.get(key) is not None:
            raise GatewayError.invalid(f"{key} is not supported: {_STATELESS}", key)
    if obj.get("background") is True:
        raise GatewayError.invalid(
            "background is not supported: responses are not stored, so they cannot be polled",
            "background",
        )


# --- input items -------------------------------------------------------------------------------


def _parse_items(items: list[Any], request: ChatRequest) -> None:
    leading = True
    for i, raw in enumerate(items):
        path = f"input[{i}]"
        item = check(raw, path, dict)
        kind = item.get("type")
        if kind is None and "role" in item:
            kind = "message"
        kind = check(kind, join(path, "type"), str)
        if kind == "message":
            role = one_of(item.get("role"), join(path, "role"), ("user", "system", "developer", "assistant"))
            if role in ("system", "developer"):
                blocks = _system_content(item, path)
                if leading:
                    request.system.extend(blocks)
                else:
                    request.messages.append(Message(role="system", content=list(blocks)))
                continue
            leading = False
            if role == "user":
                _append(request, "user", _user_content(item, path), merge=False)
            else:
                _append(request, "assistant", _assistant_content(item, path), merge=True)
            continue
        leading = False
        _parse_other_item(item, kind, path, request)


def _parse_other_item(item: dict[str, Any], kind: str, path: str, request: ChatRequest) -> None:
    if kind == "function_call":
        block = ToolCallBlock(
            id=required(item, "call_id", path, str),
            name=required(item, "name", path, str),
            arguments=optional(item, "arguments", path, str, default=""),
        )
        _append(request, "assistant", [block], merge=True)
    elif kind == "function_call_output":
        call_id = required(item, "call_id", path, str)
        content = _tool_output(item.get("output"), join(path, "output"))
        _append_tool_result(request, ToolResultBlock(tool_call_id=call_id, content=content))
    elif kind == "reasoning":
        _append(request, "assistant", [_reasoning(item, path)], merge=True)
    elif kind == "item_reference":
        raise GatewayError.invalid(f"item_reference is not supported: {_STATELESS}", path)
    elif kind.endswith("_output"):
        _append(request, "user", [RawBlock(origin=API, data=item)], merge=True)
    else:
        # Hosted-tool calls, custom tool calls, compaction items...: only a Responses upstream
        # understands them, so they travel verbatim.
        _append(request, "assistant", [RawBlock(origin=API, data=item)], merge=True)


def _append(request: ChatRequest, role: str, blocks: list[Any], *, merge: bool) -> None:
    if not blocks:
        return  # an item with empty content adds nothing (and empty turns upset some upstreams)
    last = request.messages[-1] if request.messages else None
    if merge and last is not None and last.role == role:
        last.content.extend(blocks)
    else:
        request.messages.append(Message(role=cast(Role, role), content=list(blocks)))


def _append_tool_result(request: ChatRequest, block: ToolResultBlock) -> None:
    last = request.messages[-1] if request.messages else None
    if (
        last is not None
        and last.role == "user"
        and all(isinstance(b, (ToolResultBlock, RawBlock)) for b in last.content)
    ):
        last.content.append(block)
    else:
        request.messages.append(Message(role="user", content=[block]))


def _parts(item: dict[str, Any], path: str) -> list[tuple[dict[str, Any], str]] | str:
    content = item.get("content")
    cpath = join(path, "content")
    if isinstance(content, str):
        return content
    parts = check(content, cpath, str, list)
    return [(check(p, f"{cpath}[{j}]", dict), f"{cpath}[{j}]") for j, p in enumerate(parts)]


def _system_content(item: dict[str, Any], path: str) -> list[TextBlock]:
    parts = _parts(item, path)
    if isinstance(parts, str):
        return [TextBlock(text=parts)]
    blocks = []
    for part, ppath in parts:
        one_of(part.get("type"), join(ppath, "type"), ("input_text", "output_text", "text"))
        blocks.append(TextBlock(text=required(part, "text", ppath, str)))
    return blocks


def _user_content(item: dict[str, Any], path: str) -> list[TextBlock | ImageBlock]:
    parts = _parts(item, path)
    if isinstance(parts, str):
        return [TextBlock(text=parts)]
    return [_input_part(part, ppath) for part, ppath in parts]


def _input_part(part: dict[str, Any], path: str) -> TextBlock | ImageBlock:
    kind = check(part.get("type"), join(path, "type"), str)
    if kind in ("input_text", "output_text", "text"):
        return TextBlock(text=required(part, "text", path, str))
    if kind == "input_image":
        return _image(part, path)
    if kind == "input_file":
        raise GatewayError.invalid(f"{path}: input_file parts are not supported by this gateway", path)
    raise GatewayError.invalid(f"{path}.type: unsupported content part type {kind!r}", join(path, "type"))


def _image(part: dict[str, Any], path: str) -> ImageBlock:
    detail = optional(part, "detail", path, str)
    if part.get("file_id") is not None:
        raise GatewayError.invalid(
            f"{path}.file_id: file ids are not supported (the gateway has no file store); "
            "send image_url with a data: URI or an https URL",
            join(path, "file_id"),
        )
    url = required(part, "image_url", path, str)
    if url.startswith("data:"):
        header, sep, data = url[5:].partition(",")
        if not sep or not header.endswith(";base64"):
            raise GatewayError.invalid(f"{path}.image_url: expected a base64 data URI", join(path, "image_url"))
        return ImageBlock(media_type=header[: -len(";base64")] or None, data=data, detail=detail)
    return ImageBlock(url=url, detail=detail)


def _assistant_content(item: dict[str, Any], path: str) -> list[TextBlock]:
    parts = _parts(item, path)
    if isinstance(parts, str):
        return [TextBlock(text=parts)] if parts else []
    blocks = []
    for part, ppath in parts:
        kind = one_of(part.get("type"), join(ppath, "type"), ("output_text", "refusal", "input_text", "text"))
        text = required(part, "refusal" if kind == "refusal" else "text", ppath, str)
        if text:
            blocks.append(TextBlock(text=text))
    return blocks


def _tool_output(output: Any, path: str) -> list[TextBlock | ImageBlock]:
    if output is None:
        return []
    if isinstance(output, str):
        return [TextBlock(text=output)] if output else []
    parts = check(output, path, str, list)
    return [_input_part(check(p, f"{path}[{j}]", dict), f"{path}[{j}]") for j, p in enumerate(parts)]


def _reasoning(item: dict[str, Any], path: str) -> ReasoningBlock:
    texts = []
    summary = optional(item, "summary", path, list, default=[])
    for j, part in enumerate(summary):
        part = check(part, f"{path}.summary[{j}]", dict)
        texts.append(required(part, "text", f"{path}.summary[{j}]", str))
    if not texts:
        for j, part in enumerate(optional(item, "content", path, list, default=[])):
            part = check(part, f"{path}.content[{j}]", dict)
            texts.append(optional(part, "text", f"{path}.content[{j}]", str, default=""))
    encrypted = optional(item, "encrypted_content", path, str)
    opaque = None
    if encrypted:
        opaque = Opaque.decode(encrypted) or Opaque(API, "encrypted_content", encrypted)
    return ReasoningBlock(text="\n\n".join(texts), opaque=opaque, id=optional(item, "id", path, str))


# --- tools and options -------------------------------------------------------------------------


def _parse_tools(obj: dict[str, Any], request: ChatRequest) -> None:
    for i, raw in enumerate(optional(obj, "tools", "", list, default=[])):
        path = f"tools[{i}]"
        tool = check(raw, path, dict)
        kind = check(tool.get("type"), join(path, "type"), str)
        if kind == "function":
            params = optional(tool, "parameters", path, dict)
            spec = ToolSpec(
                name=required(tool, "name", path, str),
                description=optional(tool, "description", path, str),
                strict=optional(tool, "strict", path, bool),
            )
            if params is not None:
                spec.parameters = params
            request.tools.append(spec)
        else:
            name = tool.get("name") if isinstance(tool.get("name"), str) else kind
            request.tools.append(ToolSpec(name=name, raw=tool, raw_origin=API))
    request.tool_choice = _tool_choice(obj.get("tool_choice"), request)


def _tool_choice(value: Any, request: ChatRequest) -> ToolChoice | None:
    if value is None:
        return None
    if isinstance(value, str):
        return ToolChoice(mode=cast(ToolMode, one_of(value, "tool_choice", ("none", "auto", "required"))))
    choice = check(value, "tool_choice", str, dict)
    kind = check(choice.get("type"), "tool_choice.type", str)
    if kind in ("function", "custom"):
        return ToolChoice(mode="tool", name=required(choice, "name", "tool_choice", str))
    if kind == "allowed_tools":
        mode = one_of(choice.get("mode", "auto"), "tool_choice.mode", ("auto", "required"))
        request.ignored.append("tool_choice.allowed_tools")
        return ToolChoice(mode=cast(ToolMode, mode))
    # A hosted tool forced by type (web_search, file_search, ...): closest is "required".
    request.ignored.append("tool_choice")
    return ToolChoice(mode="required")


def _parse_options(obj: dict[str, Any], request: ChatRequest) -> None:
    request.parallel_tool_calls = optional(obj, "parallel_tool_calls", "", bool)
    request.max_tokens = optional(obj, "max_output_tokens", "", int)
    if request.max_tokens is not None and request.max_tokens < 1:
        raise GatewayError.invalid("max_output_tokens: must be at least 1", "max_output_tokens")
    request.temperature = optional(obj, "temperature", "", float)
    request.top_p = optional(obj, "top_p", "", float)
    request.stream = optional(obj, "stream", "", bool, default=False)
    request.user = optional(obj, "user", "", str) or optional(obj, "safety_identifier", "", str)
    request.metadata = optional(obj, "metadata", "", dict)
    request.service_tier = optional(obj, "service_tier", "", str)
    if obj.get("store") is True:
        request.ignored.append("store")
    for key in ("max_tool_calls", "top_logprobs", "truncation", "prompt_cache_retention"):
        if obj.get(key) is not None:
            request.ignored.append(key)
    reasoning = optional(obj, "reasoning", "", dict)
    if reasoning is not None:
        effort = optional(reasoning, "effort", "reasoning", str)
        request.reasoning = ReasoningConfig(
            enabled=effort != "none",
            effort=effort,
            summary=optional(reasoning, "summary", "reasoning", str),
        )
    text = optional(obj, "text", "", dict)
    if text is not None:
        fmt = optional(text, "format", "text", dict)
        if fmt is not None:
            request.response_format = _response_format(fmt)
        if text.get("verbosity") is not None:
            request.ignored.append("text.verbosity")


def _response_format(fmt: dict[str, Any]) -> ResponseFormat:
    path = "text.format"
    kind = one_of(fmt.get("type"), join(path, "type"), ("text", "json_object", "json_schema"))
    if kind != "json_schema":
        return ResponseFormat(type=cast(FormatType, kind))
    return ResponseFormat(
        type="json_schema",
        name=optional(fmt, "name", path, str),
        schema=required(fmt, "schema", path, dict),
        strict=optional(fmt, "strict", path, bool),
        description=optional(fmt, "description", path, str),
    )
