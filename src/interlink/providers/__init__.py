"""Upstream APIs. One subpackage per wire API exports `CODEC`, a sans-IO `ProviderCodec`.

A codec builds the upstream HTTP request from a `core.ChatRequest`, and decodes the upstream's
JSON, SSE events and errors back into `core` types. It does no I/O: `interlink.routing` sends
the request, so every codec is tested with bytes in, events out. OpenAI-compatible servers are
`Preset` data on top of the openai-chat codec, never code of their own.

Cloud upstreams (Bedrock, Vertex, Azure) reuse these wire codecs and add what only they need,
still without I/O in the codec: an async `UpstreamRequest.sign` step the transport runs just
before each send (SigV4, OAuth tokens: credential lookups happen there, off the event loop), and
an `UpstreamRequest.framing` for bodies that are not SSE (AWS event-stream).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from interlink.core import ChatRequest, ChatResponse, Event, GatewayError
from interlink.sse import ServerSentEvent


@dataclass(slots=True)
class Preset:
    """Capability and dialect facts of an upstream server, as data.

    reasoning_field: where a Chat-compatible server puts reasoning text ("reasoning_content",
        "reasoning"); both are always read, this one is written back on assistant turns.
    max_tokens_field: "max_tokens" or "max_completion_tokens".
    stream_usage: whether the server accepts `stream_options.include_usage`.
    completion_excludes_reasoning: usage quirk of xAI (completion_tokens without reasoning).
    reasoning_echo: send reasoning back on assistant turns that made tool calls (DeepSeek needs it).
    """

    name: str = "openai"
    reasoning_field: str = "reasoning_content"
    max_tokens_field: str = "max_completion_tokens"
    stream_usage: bool = True
    completion_excludes_reasoning: bool = False
    reasoning_echo: bool = False
    supports_reasoning_effort: bool = True
    null_content_with_tool_calls: bool = True
    """Send `content: null` on assistant tool-call turns without text (llama.cpp's server wants "")."""
    default_headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ClientPolicy:
    """What a client may turn on at the operator's expense on this upstream; off by default and
    dropped (named in `interlink-dropped`) on every path, same-API passthrough included."""

    hosted_tools: bool = False
    """Tools the upstream runs and bills (web search, code execution, file search, MCP...)."""
    service_tier: bool = False
    """A service tier that may cost more (priority); cheaper or safer tiers always pass."""
    store: bool = False
    """Chat `store: true` (stored completions, kept on the upstream's side)."""


HOSTED_TOOL_TYPES = (
    "web_search", "web_fetch", "file_search", "code_interpreter", "code_execution",
    "computer_use", "image_generation", "mcp",
)  # fmt: skip
"""Type prefixes of tools the upstream executes itself (Responses hosted tools, Anthropic server
tools). Client-executed tools (function, custom, local_shell, bash, text_editor...) always pass."""
SAFE_SERVICE_TIERS = frozenset({"standard_only", "default", "flex"})


def apply_policy(body: dict[str, Any], policy: ClientPolicy, dropped: list[str]) -> None:
    """Remove from an upstream body what `policy` does not let clients turn on."""
    if not policy.service_tier and body.get("service_tier") not in (None, *SAFE_SERVICE_TIERS):
        del body["service_tier"]
        dropped.append("service_tier")
    if not policy.store and body.get("store") is True:
        body["store"] = False
        dropped.append("store")
    if policy.hosted_tools:
        return
    tools = body.get("tools")
    if isinstance(tools, list):
        kept = [t for t in tools if not (isinstance(t, dict) and str(t.get("type", "")).startswith(HOSTED_TOOL_TYPES))]
        if len(kept) != len(tools):
            dropped.append("hosted_tools")
            if kept:
                body["tools"] = kept
            else:
                body.pop("tools", None)
                body.pop("tool_choice", None)
    for field_name in ("mcp_servers", "web_search_options"):
        if body.pop(field_name, None) is not None:
            dropped.append("hosted_tools")


@dataclass(slots=True)
class ProviderSettings:
    """One configured upstream: which API, where, with which key."""

    name: str
    kind: str
    base_url: str
    api_key: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    preset: Preset = field(default_factory=Preset)
    policy: ClientPolicy = field(default_factory=ClientPolicy)
    region: str | None = None
    """Clouds: the AWS region (bedrock)."""
    project: str | None = None
    """Clouds: the Google Cloud project (vertex)."""
    location: str | None = None
    """Clouds: the Vertex AI location (us-east5, europe-west1, global)."""
    api_version: str | None = None
    """Azure OpenAI: the dated api-version (deployment URLs); None for the v1 API."""
    api: str | None = None
    """Azure OpenAI: which OpenAI API the deployments speak (openai-chat or openai-responses)."""
    profile: str | None = None
    """Bedrock: the AWS shared-config profile to take credentials from."""


class Deframer(Protocol):
    """Splits a streamed response body into events; `interlink.sse.SSEDecoder` is the default."""

    def feed(self, chunk: bytes) -> list[ServerSentEvent]: ...

    def flush(self) -> list[ServerSentEvent]: ...


@dataclass(slots=True)
class UpstreamRequest:
    url: str
    headers: dict[str, str]
    body: bytes
    stream: bool
    dropped: list[str] = field(default_factory=list)
    """Request features this upstream API cannot carry, dropped and to be reported."""
    sign: Callable[[UpstreamRequest], Awaitable[dict[str, str]]] | None = None
    """Cloud auth, awaited by the transport before every send (each retry is signed anew): the
    headers to add (SigV4's Authorization and X-Amz-Date, a fresh OAuth bearer). A signed URL
    is sent byte for byte as built, never re-quoted."""
    framing: Callable[[], Deframer] | None = None
    """How a streamed body is split into events, when it is not SSE (AWS event-stream)."""


class StreamDecoder(Protocol):
    def feed(self, event: ServerSentEvent) -> list[Event]:
        """Core events for one upstream SSE event. An in-stream upstream error becomes a
        `StreamError` event (after closing nothing: the encoder closes open blocks)."""
        ...

    def close(self) -> list[Event]:
        """End of the upstream body. If the stream ended without its terminal event,
        returns a `StreamError` (kind connection) so no truncated answer passes as complete."""
        ...


class ProviderCodec(Protocol):
    api: str

    def wire_api(self, upstream_model: str, settings: ProviderSettings) -> str:
        """The wire API requests to this model follow (whose history rules apply, and whether a
        client of that API gets the upstream's events relayed as is): `api` for a plain codec; a
        cloud answers per model (Claude on Bedrock is "anthropic", other Bedrock models not)."""
        ...

    def build_request(
        self,
        request: ChatRequest,
        *,
        upstream_model: str,
        settings: ProviderSettings,
        stream: bool,
    ) -> UpstreamRequest: ...

    def parse_response(self, body: bytes, *, settings: ProviderSettings) -> ChatResponse: ...

    def stream_decoder(self, *, settings: ProviderSettings) -> StreamDecoder: ...

    def map_error(
        self, status: int, headers: Mapping[str, str], body: bytes, *, settings: ProviderSettings
    ) -> GatewayError: ...


@runtime_checkable
class TokenCounter(Protocol):
    """A codec whose upstream API can count a request's input tokens (Anthropic's count_tokens)."""

    def count_tokens_request(
        self, request: ChatRequest, *, upstream_model: str, settings: ProviderSettings
    ) -> UpstreamRequest: ...

    def parse_count_tokens(self, body: bytes) -> int:
        """The count from the upstream's answer; ValueError when it has none."""
        ...


def apply_overrides(
    body: dict[str, Any], translated: dict[str, Any], overrides: frozenset[str], keys: Mapping[str, tuple[str, ...]]
) -> dict[str, Any]:
    """A passthrough body with the parts the gateway changed (`Passthrough.overrides`, e.g. a
    repaired history) taken from the translated body; everything else stays as the client sent."""
    for name in overrides:
        for key in keys.get(name, ()):
            if key in translated:
                body[key] = translated[key]
            else:
                body.pop(key, None)
    return body


class MissingExtra(ImportError):
    """A cloud provider whose optional dependencies are not installed: names the extra to add."""

    def __init__(self, kind: str, extra: str, package: str) -> None:
        super().__init__(f"kind: {kind} needs the optional dependency {package}: pip install 'interlink[{extra}]'")
        self.kind, self.extra, self.package = kind, extra, package
