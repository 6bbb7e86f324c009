"""The request side of the internal model: what a client asked for, independent of its API."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from interlink.core.content import Block, CacheControl, TextBlock

Role = Literal["user", "assistant", "system"]
ToolMode = Literal["auto", "required", "none", "tool"]
FormatType = Literal["text", "json_object", "json_schema"]


@dataclass(slots=True)
class Message:
    """One turn. Tool results are `ToolResultBlock`s inside a "user" message (as Anthropic
    does); a "system" message here is one that appeared in the middle of the conversation."""

    role: Role
    content: list[Block]


@dataclass(slots=True)
class ToolSpec:
    """A function tool the model may call. `raw` keeps a non-function tool (server tools,
    hosted tools) of API `raw_origin`, forwarded only to that API."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None
    cache: CacheControl | None = None
    raw: dict[str, Any] | None = None
    raw_origin: str | None = None


@dataclass(slots=True)
class ToolChoice:
    """auto: model decides; required: must call some tool; none: no tool; tool: call `name`."""

    mode: ToolMode
    name: str | None = None


@dataclass(slots=True)
class ReasoningConfig:
    """Thinking/reasoning request. `enabled` False means explicitly off; `budget_tokens` is
    Anthropic's thinking budget; `effort` the OpenAI-style level (minimal..max); `summary` the
    Responses summary mode; `adaptive` Anthropic's adaptive thinking."""

    enabled: bool = True
    budget_tokens: int | None = None
    effort: str | None = None
    summary: str | None = None
    adaptive: bool = False
    display: str | None = None


@dataclass(slots=True)
class ResponseFormat:
    """Structured output: "text", "json_object" or "json_schema" (with `schema`)."""

    type: FormatType
    name: str | None = None
    schema: dict[str, Any] | None = None
    strict: bool | None = None
    description: str | None = None


@dataclass(slots=True)
class Passthrough:
    """The client's request as received, for same-API passthrough of what the model lacks."""

    api: str
    body: dict[str, Any]
    headers: dict[str, str]
    overrides: frozenset[str] = frozenset()
    """Parts the gateway changed ("messages", "max_tokens", "reasoning", "tools"): a provider
    takes these from the internal request and everything else from `body`."""


@dataclass(slots=True)
class ChatRequest:
    model: str
    messages: list[Message]
    system: list[TextBlock] = field(default_factory=list)
    tools: list[ToolSpec] = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: list[str] = field(default_factory=list)
    stream: bool = False
    stream_usage: bool = False
    """Chat clients' `stream_options.include_usage`; providers always ask upstream for usage."""
    reasoning: ReasoningConfig | None = None
    response_format: ResponseFormat | None = None
    user: str | None = None
    metadata: dict[str, Any] | None = None
    cache: CacheControl | None = None
    """Top-level automatic cache breakpoint (Anthropic `cache_control`)."""
    auto_cache: bool = False
    """Set by the gateway, not the client: an upstream whose API caches only at explicit breakpoints
    (Anthropic) gets them placed for it when the request carries none (per model in the config)."""
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    service_tier: str | None = None
    passthrough: Passthrough | None = None
    ignored: list[str] = field(default_factory=list)
    """Client fields parsed but not representable; reported back to the client."""
    owner: str = ""
    """Whose request this is (the gateway's id of the caller's key), set by the server: state
    the gateway keeps between requests (stored reasoning) is never shared between owners."""
