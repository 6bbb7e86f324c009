"""The Anthropic Messages API as an upstream. `CODEC` satisfies `interlink.providers.ProviderCodec`."""

from __future__ import annotations

from collections.abc import Mapping

from interlink.core import ChatRequest, ChatResponse, GatewayError
from interlink.providers import ProviderSettings, UpstreamRequest
from interlink.providers.anthropic import errors, request, response
from interlink.providers.anthropic.stream import AnthropicStreamDecoder


class AnthropicCodec:
    api = "anthropic"

    def wire_api(self, upstream_model: str, settings: ProviderSettings) -> str:
        return self.api

    def build_request(
        self,
        request_: ChatRequest,
        *,
        upstream_model: str,
        settings: ProviderSettings,
        stream: bool,
    ) -> UpstreamRequest:
        return request.build_request(request_, upstream_model=upstream_model, settings=settings, stream=stream)

    def parse_response(self, body: bytes, *, settings: ProviderSettings) -> ChatResponse:
        return response.parse_response(body, provider=settings.name)

    def stream_decoder(self, *, settings: ProviderSettings) -> AnthropicStreamDecoder:
        return AnthropicStreamDecoder(provider=settings.name)

    def map_error(
        self, status: int, headers: Mapping[str, str], body: bytes, *, settings: ProviderSettings
    ) -> GatewayError:
        return errors.map_error(status, headers, body, provider=settings.name)

    # `interlink.providers.TokenCounter`: the upstream counts its own tokens.
    def count_tokens_request(
        self, request_: ChatRequest, *, upstream_model: str, settings: ProviderSettings
    ) -> UpstreamRequest:
        return request.count_tokens_request(request_, upstream_model=upstream_model, settings=settings)

    def parse_count_tokens(self, body: bytes) -> int:
        return request.parse_count_tokens(body)


CODEC = AnthropicCodec()

__all__ = ["CODEC", "AnthropicCodec", "AnthropicStreamDecoder"]
