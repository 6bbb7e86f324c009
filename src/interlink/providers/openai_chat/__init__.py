"""The OpenAI Chat Completions upstream API as a sans-IO `ProviderCodec` (api "openai-chat").

Serves api.openai.com and every OpenAI-compatible server; the differences between them are
`Preset` data (`settings.preset`, see `presets.py`), never code paths of their own.
"""

from __future__ import annotations

from collections.abc import Mapping

from interlink.core import ChatRequest, ChatResponse, GatewayError
from interlink.providers import ProviderSettings, UpstreamRequest
from interlink.providers.openai_chat import errors, response
from interlink.providers.openai_chat import request as request_builder
from interlink.providers.openai_chat.presets import PRESETS, get_preset
from interlink.providers.openai_chat.stream import ChatStreamDecoder


class OpenAIChatCodec:
    api = "openai-chat"

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
        return request_builder.build_request(request, upstream_model=upstream_model, settings=settings, stream=stream)

    def parse_response(self, body: bytes, *, settings: ProviderSettings) -> ChatResponse:
        return response.parse_response(body, settings=settings)

    def stream_decoder(self, *, settings: ProviderSettings) -> ChatStreamDecoder:
        return ChatStreamDecoder(settings)

    def map_error(
        self, status: int, headers: Mapping[str, str], body: bytes, *, settings: ProviderSettings
    ) -> GatewayError:
        return errors.map_error(status, headers, body, settings=settings)


CODEC = OpenAIChatCodec()

__all__ = ["CODEC", "PRESETS", "ChatStreamDecoder", "OpenAIChatCodec", "get_preset"]
