"""core.ChatRequest → `POST {base_url}/v1/messages` for an Anthropic (or Anthropic-compatible) upstream.

Two paths. Same-API passthrough: an Anthropic client's body is sent as received (model and
`stream` replaced, `anthropic-beta`/`anthropic-version` forwarded), so fields the core does not
model still arrive. Translated: the body is built from the core request following the API's
rules: `max_tokens` always present and above the thinking budget, every system text in the
top-level `system`, tool results first in their user message, no empty text blocks, thinking
blocks replayed only with an Anthropic signature, no temperature/top_k/forced tool choice next
to thinking. What cannot be carried is named in `UpstreamRequest.dropped`. On both paths, a body
that carries no prompt-cache marker gets automatic breakpoints when the request asks for them
(`ChatRequest.auto_cache`; see `cache`).
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
)
from interlink.core.content import CacheControl
from interlink.providers import ClientPolicy, ProviderSettings, UpstreamRequest, apply_overrides, apply_policy
from interlink.providers.anthropic.cache import add_breakpoints

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
MIN_BUDGET = 1024
# effort → thinking budget for requests that name an effort but no budget (LiteLLM's values).
EFFORT_BUDGETS = {"minimal": 1024, "low": 1024, "medium": 2048, "high": 4096, "xhigh": 8192, "max": 16384}
ANTHROPIC_EFFORTS = ("low", "medium", "high", "xhigh", "max")
FORWARDED_HEADERS = ("anthropic-beta", "anthropic-version")
# Internal request parts → the body keys that carry them, for repaired passthrough requests.
OVERRIDE_KEYS = {
    "messages": ("messages", "system"),
    "max_tokens": ("max_tokens",),
    "reasoning": ("thinking", "temperature", "top_k", "top_p", "tool_choice"),
    "tools": ("tools", "tool_choice"),
}
_CITATION_TYPES = {
    "char_location",
    "page_location",
    "content_block_location",
    "web_search_result_location",
    "search_result_location",
}


# What `/v1/messages/count_tokens` accepts of a Messages body (anything else is a 400 there).
COUNT_FIELDS = ("model", "messages", "system", "tools", "tool_choice", "thinking", "cache_control", "output_config")


def messages_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    return f"{base}/messages" if base.endswith("/v1") else f"{base}/v1/messages"


def count_tokens_request(request: ChatRequest, *, upstream_model: str, settings: ProviderSettings) -> UpstreamRequest:
    """`POST /v1/messages/count_tokens` for the body `build_request` would send, minus the fields
    the counting endpoint refuses (max_tokens, stream, sampling, metadata...)."""
    full = build_request(request, upstream_model=upstream_model, settings=settings, stream=False)
    body = orjson.loads(full.body)
    counted = {key: body[key] for key in COUNT_FIELDS if key in body}
    return UpstreamRequest(
        url=messages_url(settings.base_url) + "/count_tokens",
        headers=full.headers,
        body=orjson.dumps(counted),
        stream=False,
        dropped=full.dropped,
    )


def parse_count_tokens(body: bytes) -> int:
    """`{"input_tokens": N}`; ValueError for anything else."""
    value = orjson.loads(body).get("input_tokens")
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"count_tokens answer without a valid input_tokens: {body[:200]!r}")
    return value


def build_body(
    request: ChatRequest, *, upstream_model: str, stream: bool, policy: ClientPolicy
) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """The Messages body (with the operator's client policy applied), the client's `anthropic-*`
    headers to forward (same-API passthrough only) and what was dropped. Cloud codecs (Bedrock,
    Vertex) wrap this same body."""
    dropped: list[str] = []
    forwarded: dict[str, str] = {}
    passthrough = request.passthrough
    if passthrough is not None and passthrough.api == "anthropic":
        body = dict(passthrough.body)
        body["model"] = upstream_model
        body["stream"] = stream
        if passthrough.overrides:
            translated = _Translator(request, []).body(upstream_model, stream)
            apply_overrides(body, translated, passthrough.overrides, OVERRIDE_KEYS)
        lowered = {k.lower(): v for k, v in passthrough.headers.items()}
        forwarded = {k: lowered[k] for k in FORWARDED_HEADERS if k in lowered}
    else:
        body = _Translator(request, dropped).body(upstream_model, stream)
    apply_policy(body, policy, dropped)
    if request.auto_cache:  # after the policy: breakpoints go on what is really sent
        add_breakpoints(body)
    return body, forwarded, dropped


def build_request(
    request: ChatRequest, *, upstream_model: str, settings: ProviderSettings, stream: bool
) -> UpstreamRequest:
    headers = {"anthropic-version": API_VERSION, "content-type": "application/json"}
    if settings.api_key:
        headers["x-api-key"] = settings.api_key
    headers.update(settings.headers)
    body, forwarded, dropped = build_body(request, upstream_model=upstream_model, stream=stream, policy=settings.policy)
    headers.update(forwarded)
    return UpstreamRequest(
        url=messages_url(settings.base_url),
        headers=headers,
        body=orjson.dumps(body),
        stream=stream,
        dropped=dropped,
    )


def _cache(cache: CacheControl | None) -> dict[str, Any] | None:
    if cache is None:
        return None
    out = {"type": cache.type}
    if cache.ttl:
        out["ttl"] = cache.ttl
    return out


def _with_cache(block: dict[str, Any], cache: CacheControl | None) -> dict[str, Any]:
    marker = _cache(cache)
    if marker is not None:
        block["cache_control"] = marker
    return block


class _Translator:
    """One translation; collects what it had to drop."""

    def __init__(self, request: ChatRequest, dropped: list[str]) -> None:
        self.request = request
        self.dropped = dropped

    def drop(self, name: str) -> None:
        if name not in self.dropped:
            self.dropped.append(name)

    def body(self, model: str, stream: bool) -> dict[str, Any]:
        req = self.request
        body: dict[str, Any] = {"model": model, "max_tokens": req.max_tokens or DEFAULT_MAX_TOKENS}
        system = self._system()
        if system:
            body["system"] = system
        body["messages"] = self._messages()
        thinking_on = self._thinking(body)
        self._tools(body, thinking_on)
        self._sampling(body, thinking_on)
        if req.stop:
            body["stop_sequences"] = list(req.stop)
        self._format(body)
        if req.user:
            body["metadata"] = {"user_id": req.user}
        if req.cache is not None:
            body["cache_control"] = _cache(req.cache)
        if req.service_tier in ("auto", "standard_only"):
            body["service_tier"] = req.service_tier
        elif req.service_tier is not None:
            self.drop("service_tier")
        for name in ("seed", "presence_penalty", "frequency_penalty"):
            if getattr(req, name) is not None:
                self.drop(name)
        body["stream"] = stream
        return body

    # -- system and messages -------------------------------------------------------------

    def _system(self) -> list[dict[str, Any]]:
        texts = list(self.request.system)
        for message in self.request.messages:
            if message.role == "system":
                texts += [b for b in message.content if isinstance(b, TextBlock)]
                if any(not isinstance(b, TextBlock) for b in message.content):
                    self.drop("system_content")
        return [_with_cache({"type": "text", "text": t.text}, t.cache) for t in texts if t.text]

    def _messages(self) -> list[dict[str, Any]]:
        turns: list[dict[str, Any]] = []
        for message in self.request.messages:
            if message.role == "system":
                continue
            blocks = self._blocks(message)
            if not blocks:
                continue
            if turns and turns[-1]["role"] == message.role:
                turns[-1]["content"].extend(blocks)  # consecutive same-role turns merge
            else:
                turns.append({"role": message.role, "content": blocks})
        for turn in turns:
            if turn["role"] == "user":
                # Anthropic wants each tool_result right after the tool_use turn: results first.
                content = turn["content"]
                turn["content"] = [b for b in content if b.get("type") == "tool_result"] + [
                    b for b in content if b.get("type") != "tool_result"
                ]
        return turns

    def _blocks(self, message: Message) -> list[dict[str, Any]]:
        out = []
        for block in message.content:
            converted = self._block(block)
            if converted is not None:
                out.append(converted)
        return out

    def _block(self, block: Block) -> dict[str, Any] | None:
        match block:
            case TextBlock():
                return self._text(block)
            case ImageBlock():
                return self._image(block)
            case ToolCallBlock():
                return _with_cache(
                    {"type": "tool_use", "id": block.id, "name": block.name, "input": self._input(block)},
                    block.cache,
                )
            case ToolResultBlock():
                return self._tool_result(block)
            case ReasoningBlock():
                return self._reasoning(block)
            case RawBlock(origin="anthropic"):
                return block.data
            case _:
                self.drop("raw_blocks")
                return None

    def _text(self, block: TextBlock) -> dict[str, Any] | None:
        if not block.text:
            return None  # "text content blocks must be non-empty"
        out: dict[str, Any] = {"type": "text", "text": block.text}
        if block.citations:
            if all(isinstance(c, dict) and c.get("type") in _CITATION_TYPES for c in block.citations):
                out["citations"] = block.citations
            else:
                self.drop("citations")
        return _with_cache(out, block.cache)

    def _image(self, block: ImageBlock) -> dict[str, Any] | None:
        if block.data is not None:
            source = {"type": "base64", "media_type": block.media_type or "image/png", "data": block.data}
        elif block.url and block.url.startswith("data:"):
            header, _, data = block.url.partition(",")
            media_type = header[5:].split(";")[0] or "image/png"
            source = {"type": "base64", "media_type": media_type, "data": data}
        elif block.url:
            source = {"type": "url", "url": block.url}
        else:
            self.drop("image")
            return None
        if block.detail:
            self.drop("image_detail")
        return _with_cache({"type": "image", "source": source}, block.cache)

    def _input(self, block: ToolCallBlock) -> dict[str, Any]:
        text = block.arguments.strip()
        if not text:
            return {}
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            value = None
        if not isinstance(value, dict):
            self.drop("tool_arguments")  # a model's invalid JSON has no Anthropic form
            return {}
        return value

    def _tool_result(self, block: ToolResultBlock) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "tool_result", "tool_use_id": block.tool_call_id}
        parts = [p for p in (self._block(b) for b in block.content) if p is not None]
        if parts and all(p["type"] == "text" and len(p) == 2 for p in parts):
            out["content"] = "".join(p["text"] for p in parts)
        elif parts:
            out["content"] = parts
        if block.is_error:
            out["is_error"] = True
        return _with_cache(out, block.cache)

    def _reasoning(self, block: ReasoningBlock) -> dict[str, Any] | None:
        opaque = block.opaque
        if opaque is not None and opaque.origin == "anthropic":
            if opaque.kind == "redacted":
                return {"type": "redacted_thinking", "data": opaque.value}
            if opaque.kind == "signature":
                return {"type": "thinking", "thinking": block.text, "signature": opaque.value}
        if block.text:
            self.drop("reasoning")  # unsigned or foreign reasoning cannot be replayed
        return None

    # -- options ---------------------------------------------------------------------------

    def _thinking(self, body: dict[str, Any]) -> bool:
        """Sets `thinking` (+ `output_config.effort`); True when thinking is on."""
        config = self.request.reasoning
        if config is None:
            return False
        effort = config.effort
        if not config.enabled or effort == "none":
            body["thinking"] = {"type": "disabled"}
            if effort in ANTHROPIC_EFFORTS:
                body.setdefault("output_config", {})["effort"] = effort
            return False
        if config.adaptive:
            thinking: dict[str, Any] = {"type": "adaptive"}
        else:
            budget = config.budget_tokens or EFFORT_BUDGETS.get(effort or "", EFFORT_BUDGETS["medium"])
            budget = max(budget, MIN_BUDGET)
            if not self._fit_budget(body, budget):
                return False
            thinking = {"type": "enabled", "budget_tokens": min(budget, body["max_tokens"] - 1)}
        if config.display:
            thinking["display"] = config.display
        body["thinking"] = thinking
        # An effort that only asked for reasoning became the budget; an explicit one is kept.
        if effort in ANTHROPIC_EFFORTS and (config.adaptive or config.budget_tokens):
            body.setdefault("output_config", {})["effort"] = effort
        return True

    def _fit_budget(self, body: dict[str, Any], budget: int) -> bool:
        """max_tokens must exceed the budget: raise a default, shrink the budget under a
        client's explicit limit, or give up thinking when the limit is below the minimum."""
        if self.request.max_tokens is None:
            body["max_tokens"] = max(DEFAULT_MAX_TOKENS, budget + DEFAULT_MAX_TOKENS)
            return True
        if body["max_tokens"] > MIN_BUDGET:
            return True
        self.drop("reasoning_config")
        return False

    def _tools(self, body: dict[str, Any], thinking_on: bool) -> None:
        tools = []
        for spec in self.request.tools:
            if spec.raw is not None:
                if spec.raw_origin == "anthropic":
                    tools.append(spec.raw)
                else:
                    self.drop("server_tools")
                continue
            tool: dict[str, Any] = {"name": spec.name, "input_schema": spec.parameters}
            if spec.description is not None:
                tool["description"] = spec.description
            if spec.strict is not None:
                tool["strict"] = spec.strict
            tools.append(_with_cache(tool, spec.cache))
        if tools:
            body["tools"] = tools
        choice = self._tool_choice(thinking_on)
        if choice is not None and (tools or choice["type"] == "none"):
            body["tool_choice"] = choice

    def _tool_choice(self, thinking_on: bool) -> dict[str, Any] | None:
        choice = self.request.tool_choice
        out: dict[str, Any] | None = None
        if choice is not None:
            kinds = {"auto": "auto", "required": "any", "none": "none", "tool": "tool"}
            out = {"type": kinds[choice.mode]}
            if choice.mode == "tool":
                out["name"] = choice.name
        if out is not None and thinking_on and out["type"] in ("any", "tool"):
            self.drop("tool_choice")  # thinking allows only auto/none
            out = {"type": "auto"}
        if self.request.parallel_tool_calls is False and (out is None or out["type"] != "none"):
            out = out or {"type": "auto"}
            out["disable_parallel_tool_use"] = True
        return out

    def _sampling(self, body: dict[str, Any], thinking_on: bool) -> None:
        req = self.request
        if req.temperature is not None:
            if thinking_on:
                self.drop("temperature")
            else:
                body["temperature"] = min(max(req.temperature, 0.0), 1.0)
        if req.top_k is not None:
            if thinking_on:
                self.drop("top_k")
            else:
                body["top_k"] = req.top_k
        if req.top_p is not None:
            if thinking_on and req.top_p < 0.95:
                self.drop("top_p")
            else:
                body["top_p"] = req.top_p

    def _format(self, body: dict[str, Any]) -> None:
        fmt = self.request.response_format
        if fmt is None or fmt.type == "text":
            return
        if fmt.type == "json_schema" and fmt.schema is not None:
            body.setdefault("output_config", {})["format"] = {"type": "json_schema", "schema": fmt.schema}
        else:
            self.drop("response_format")
