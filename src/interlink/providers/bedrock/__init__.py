"""AWS Bedrock as an upstream (kind `bedrock`). `CODEC` satisfies `interlink.providers.ProviderCodec`.

Claude models go through InvokeModel / InvokeModelWithResponseStream: the body is the Anthropic
Messages body the anthropic codec builds (so same-API passthrough and every translation carry
over), without `model` (it is in the path) or `stream` (the operation says it), with
`anthropic_version: bedrock-2023-05-31` and the supported betas as `anthropic_beta`. The stream
is AWS event-stream framing with the Anthropic events inside (`eventstream.InvokeDeframer`), read
by the anthropic stream decoder. Other models go through Converse / ConverseStream (`converse`).

Auth is SigV4 with botocore's credential chain (`auth`), or `api_key` sent as a Bedrock API key
(`Authorization: Bearer`). The model id is quoted once (`:` kept, `/` of ARNs escaped, as the
Anthropic SDK does), signed as is, and sent as is.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

try:
    import botocore  # noqa: F401  (the `bedrock` extra)
except ImportError:
    from interlink.providers import MissingExtra

    raise MissingExtra("bedrock", "bedrock", "botocore") from None

import orjson

from interlink.core import ChatRequest, ChatResponse, Event, GatewayError
from interlink.providers import ProviderSettings, StreamDecoder, UpstreamRequest
from interlink.providers.anthropic import response as anthropic_response
from interlink.providers.anthropic.platforms import platform_body
from interlink.providers.anthropic.stream import AnthropicStreamDecoder
from interlink.providers.bedrock import converse, errors
from interlink.providers.bedrock.auth import credentials_for, signer
from interlink.providers.bedrock.eventstream import ConverseDeframer, InvokeDeframer
from interlink.sse import ServerSentEvent

INVOKE_VERSION = "bedrock-2023-05-31"
CONVERSE = converse.API
DEFAULT_ENDPOINT = "https://bedrock-runtime.{region}.amazonaws.com"


def uses_invoke(upstream_model: str, settings: ProviderSettings) -> bool:
    """Claude models speak the Messages body through InvokeModel; `api:` in the config decides
    for ids that do not say (application inference profile ARNs)."""
    if settings.api in ("anthropic", CONVERSE):
        return settings.api == "anthropic"
    return "anthropic." in upstream_model or "claude" in upstream_model


def model_url(settings: ProviderSettings, upstream_model: str, operation: str) -> str:
    base = settings.base_url or DEFAULT_ENDPOINT.format(region=settings.region)
    return f"{base.rstrip('/')}/model/{quote(upstream_model, safe=':')}/{operation}"


def _invoke(request: ChatRequest, upstream_model: str, settings: ProviderSettings, stream: bool) -> UpstreamRequest:
    body, betas, dropped = platform_body(
        request, upstream_model=upstream_model, stream=stream, version=INVOKE_VERSION, policy=settings.policy
    )
    body.pop("stream", None)
    if betas:
        body["anthropic_beta"] = betas
    if body.pop("service_tier", None) is not None:
        dropped.append("service_tier")  # Bedrock tiers are its own header, not the Anthropic field
    headers = {"content-type": "application/json"}
    headers["x-amzn-bedrock-accept" if stream else "accept"] = "application/json"
    operation = "invoke-with-response-stream" if stream else "invoke"
    return UpstreamRequest(
        url=model_url(settings, upstream_model, operation),
        headers=headers,
        body=orjson.dumps(body),
        stream=stream,
        dropped=dropped,
        framing=InvokeDeframer if stream else None,
    )


class BedrockStreamDecoder:
    """Anthropic events (InvokeModel) or Converse events, told apart by the first event's name."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self._inner: StreamDecoder | None = None

    def feed(self, event: ServerSentEvent) -> list[Event]:
        if self._inner is None:
            if event.event in converse.STREAM_EVENTS:
                self._inner = converse.ConverseStreamDecoder(self.provider)
            else:
                self._inner = AnthropicStreamDecoder(provider=self.provider)
        return self._inner.feed(event)

    def close(self) -> list[Event]:
        if self._inner is None:
            self._inner = AnthropicStreamDecoder(provider=self.provider)
        return self._inner.close()


class BedrockCodec:
    api = "bedrock"

    def wire_api(self, upstream_model: str, settings: ProviderSettings) -> str:
        return "anthropic" if uses_invoke(upstream_model, settings) else CONVERSE

    def build_request(
        self,
        request: ChatRequest,
        *,
        upstream_model: str,
        settings: ProviderSettings,
        stream: bool,
    ) -> UpstreamRequest:
        if uses_invoke(upstream_model, settings):
            upstream = _invoke(request, upstream_model, settings, stream)
        else:
            body, dropped = converse.build_body(request, upstream_model=upstream_model)
            operation = "converse-stream" if stream else "converse"
            upstream = UpstreamRequest(
                url=model_url(settings, upstream_model, operation),
                headers={"content-type": "application/json"},
                body=orjson.dumps(body),
                stream=stream,
                dropped=dropped,
                framing=ConverseDeframer if stream else None,
            )
        upstream.headers.update(settings.headers)
        if settings.api_key:
            upstream.headers["authorization"] = f"Bearer {settings.api_key}"
        else:
            upstream.sign = signer(credentials_for(settings.name, settings.profile), settings.region or "us-east-1")
        return upstream

    def parse_response(self, body: bytes, *, settings: ProviderSettings) -> ChatResponse:
        if converse.is_converse_response(body):
            return converse.parse_response(body, provider=settings.name)
        return anthropic_response.parse_response(body, provider=settings.name)

    def stream_decoder(self, *, settings: ProviderSettings) -> BedrockStreamDecoder:
        return BedrockStreamDecoder(settings.name)

    def map_error(
        self, status: int, headers: Mapping[str, str], body: bytes, *, settings: ProviderSettings
    ) -> GatewayError:
        return errors.map_error(status, headers, body, provider=settings.name)


CODEC = BedrockCodec()

__all__ = ["CODEC", "BedrockCodec", "BedrockStreamDecoder"]
