"""The OpenAI Responses API (`POST /responses`) as an upstream, stateless (`store: false`).

`CODEC` is the sans-IO `ProviderCodec`: request building, response and stream decoding, errors.
"""

from __future__ import annotations

from collections.abc import Mapping

from interlink.core import ChatRequest, ChatResponse, GatewayError
from interlink.providers import ProviderSettings, UpstreamRequest
from interlink.providers.openai_responses.errors import map_error
from interlink.providers.openai_responses.request import build_request
from interlink.providers.openai_responses.response import parse_response
from interlink.providers.openai_responses.stream import ResponsesStreamDecoder


class ResponsesCodec:
    api = "openai-responses"

    def wire_api(self, upstream_model: str, settings: ProviderSettings) -> str:
        return self.api

    def build_request(
        self,
        request: ChatRequest,
        *,
        upstream_model: str,
        settings: ProviderSettings,
        stream: bool,
    ) -> UpstreamRequest:
        return build_request(request, upstream_model=upstream_model, settings=settings, stream=stream)

    def parse_response(self, body: bytes, *, settings: ProviderSettings) -> ChatResponse:
        return parse_response(body, settings=settings)

    def stream_decoder(self, *, settings: ProviderSettings) -> ResponsesStreamDecoder:
        return ResponsesStreamDecoder(settings=settings)

    def map_error(
        self, status: int, headers: Mapping[str, str], body: bytes, *, settings: ProviderSettings
    ) -> GatewayError:
        return map_error(status, headers, body, settings=settings)


CODEC = ResponsesCodec()

__all__ = ["CODEC", "ResponsesCodec", "ResponsesStreamDecoder"]
