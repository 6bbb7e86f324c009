"""The OpenAI Chat Completions client API (`POST /v1/chat/completions`) as a `ClientProtocol`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from interlink.core import ChatRequest, ChatResponse, GatewayError
from interlink.protocols.openai_chat import errors, parse, render
from interlink.protocols.openai_chat.stream import ChatStreamEncoder


class OpenAIChatProtocol:
    name = "openai-chat"

    def parse_request(self, body: Any, headers: Mapping[str, str]) -> ChatRequest:
        return parse.parse_request(body, headers)

    def render_response(self, response: ChatResponse, request: ChatRequest) -> dict[str, Any]:
        return render.render_response(response, request)

    def stream_encoder(self, request: ChatRequest) -> ChatStreamEncoder:
        return ChatStreamEncoder(request)

    def render_error(self, error: GatewayError) -> tuple[int, dict[str, Any]]:
        return errors.render_error(error)


PROTOCOL = OpenAIChatProtocol()

__all__ = ["PROTOCOL", "ChatStreamEncoder", "OpenAIChatProtocol"]
