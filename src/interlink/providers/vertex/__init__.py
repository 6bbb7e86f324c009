"""Google Vertex AI as an upstream (kind `vertex`). `CODEC` satisfies `interlink.providers.ProviderCodec`.

Claude on Vertex: `POST {base}/v1/projects/{project}/locations/{location}/publishers/anthropic/
models/{model}:rawPredict` (`:streamRawPredict` for streams). The body is the Anthropic Messages
body the anthropic codec builds, without `model`, with `anthropic_version: vertex-2023-10-16`;
`stream` stays in it. Supported betas go as the usual `anthropic-beta` header, the others are
dropped and named. The stream is plain Anthropic SSE, read by the anthropic decoder; Vertex's own
`vertex_event` events are left out before anything is decoded or relayed. Auth: a Google OAuth
token from Application Default Credentials (`auth`).
"""

from __future__ import annotations

from collections.abc import Mapping

try:
    import google.auth  # noqa: F401  (the `vertex` extra)
except ImportError:
    from interlink.providers import MissingExtra

    raise MissingExtra("vertex", "vertex", "google-auth") from None

import orjson

from interlink.core import ChatRequest, ChatResponse, GatewayError
from interlink.providers import ProviderSettings, UpstreamRequest
from interlink.providers.anthropic import response as anthropic_response
from interlink.providers.anthropic.platforms import platform_body
from interlink.providers.anthropic.stream import AnthropicStreamDecoder
from interlink.providers.vertex import errors
from interlink.providers.vertex.auth import credentials_for, signer
from interlink.sse import ServerSentEvent, SSEDecoder

VERSION = "vertex-2023-10-16"


class VertexSSE(SSEDecoder):
    """SSE without Vertex's `vertex_event` extras, which strict Anthropic clients reject."""

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        return [e for e in super().feed(chunk) if e.event != "vertex_event"]

    def flush(self) -> list[ServerSentEvent]:
        return [e for e in super().flush() if e.event != "vertex_event"]


def model_url(settings: ProviderSettings, upstream_model: str, verb: str) -> str:
    base = settings.base_url.rstrip("/")
    if not base.endswith("/v1"):
        base += "/v1"
    return (
        f"{base}/projects/{settings.project}/locations/{settings.location}"
        f"/publishers/anthropic/models/{upstream_model}:{verb}"
    )


class VertexCodec:
    api = "vertex"

    def wire_api(self, upstream_model: str, settings: ProviderSettings) -> str:
        return "anthropic"

    def build_request(
        self,
        request: ChatRequest,
        *,
        upstream_model: str,
        settings: ProviderSettings,
        stream: bool,
    ) -> UpstreamRequest:
        body, betas, dropped = platform_body(
            request, upstream_model=upstream_model, stream=stream, version=VERSION, policy=settings.policy
        )
        if body.pop("service_tier", None) is not None:
            dropped.append("service_tier")
        headers = {"content-type": "application/json", **settings.headers}
        if betas:
            headers["anthropic-beta"] = ",".join(betas)
        return UpstreamRequest(
            url=model_url(settings, upstream_model, "streamRawPredict" if stream else "rawPredict"),
            headers=headers,
            body=orjson.dumps(body),
            stream=stream,
            dropped=dropped,
            sign=signer(credentials_for(settings.name)),
            framing=VertexSSE if stream else None,
        )

    def parse_response(self, body: bytes, *, settings: ProviderSettings) -> ChatResponse:
        return anthropic_response.parse_response(body, provider=settings.name)

    def stream_decoder(self, *, settings: ProviderSettings) -> AnthropicStreamDecoder:
        return AnthropicStreamDecoder(provider=settings.name)

    def map_error(
        self, status: int, headers: Mapping[str, str], body: bytes, *, settings: ProviderSettings
    ) -> GatewayError:
        return errors.map_error(status, headers, body, provider=settings.name)


CODEC = VertexCodec()

__all__ = ["CODEC", "VertexCodec", "VertexSSE"]
