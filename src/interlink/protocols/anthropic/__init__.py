"""The Anthropic Messages API as a client-facing protocol (`POST /v1/messages`, count_tokens).

`PROTOCOL` satisfies `interlink.protocols.ClientProtocol` and adds `parse_count_tokens` /
`render_count_tokens` for `/v1/messages/count_tokens`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from interlink.core import ChatRequest, ChatResponse, GatewayError
from interlink.protocols.anthropic import errors, parse, render
from interlink.protocols.anthropic.stream import AnthropicStreamEncoder


class AnthropicProtocol:
    name = "anthropic"

    def parse_request(self, body: Any, headers: Mapping[str, str]) -> ChatRequest:
        return parse.parse_request(body, headers)

    def parse_count_tokens(self, body: Any, headers: Mapping[str, str]) -> ChatRequest:
        return parse.parse_count_tokens(body, headers)

    def render_response(self, response: ChatResponse, request: ChatRequest) -> dict[str, Any]:
        return render.render_response(response, request)

    def render_count_tokens(self, input_tokens: int) -> dict[str, Any]:
        return render.render_count_tokens(input_tokens)

    def stream_encoder(self, request: ChatRequest) -> AnthropicStreamEncoder:
        return AnthropicStreamEncoder(request)

    def render_error(self, error: GatewayError) -> tuple[int, dict[str, Any]]:
        return errors.render_error(error)


PROTOCOL = AnthropicProtocol()

__all__ = ["PROTOCOL", "AnthropicProtocol", "AnthropicStreamEncoder"]
