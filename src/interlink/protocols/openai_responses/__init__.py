"""The OpenAI Responses API (`POST /v1/responses`) as a client-facing protocol, stateless.

`PROTOCOL` ties together parse (wire -> core), render (core -> Response object), the SSE stream
encoder and the error shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from interlink.core import ChatRequest, ChatResponse, GatewayError
from interlink.protocols.openai_responses.errors import render_error
from interlink.protocols.openai_responses.parse import parse_request
from interlink.protocols.openai_responses.render import render_response
from interlink.protocols.openai_responses.stream import ResponsesStreamEncoder


class ResponsesProtocol:
    name = "openai-responses"

    def parse_request(self, body: Any, headers: Mapping[str, str]) -> ChatRequest:
        return parse_request(body, headers)

    def render_response(self, response: ChatResponse, request: ChatRequest) -> dict[str, Any]:
        return render_response(response, request)

    def stream_encoder(self, request: ChatRequest) -> ResponsesStreamEncoder:
        return ResponsesStreamEncoder(request)

    def render_error(self, error: GatewayError) -> tuple[int, dict[str, Any]]:
        return render_error(error)


PROTOCOL = ResponsesProtocol()

__all__ = ["PROTOCOL", "ResponsesProtocol", "ResponsesStreamEncoder"]
