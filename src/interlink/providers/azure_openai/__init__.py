"""Azure OpenAI as an upstream (kind `azure-openai`). `CODEC` satisfies `interlink.providers.ProviderCodec`.

The OpenAI wire codecs do the work (Chat Completions, or Responses with `api: openai-responses`);
this folder adds Azure's URLs, auth and stream quirks:
- a dated `api_version` selects the deployment form, `{base}/openai/deployments/{deployment}/
  chat/completions?api-version=…` (Responses: `{base}/openai/responses?api-version=…`); without
  one, the v1 API, `{base}/openai/v1/chat/completions` and `/openai/v1/responses`. The model id
  of a config entry is the deployment name (it also stays in the body, as the SDK sends it).
- `api_key` goes in the `api-key` header; without one, an Entra ID token (`auth`).
- Chat streams start with a prompt-annotation chunk (`choices: []`, empty id and model) and may
  carry annotation-only chunks of the asynchronous content filter: both are left out before
  anything is decoded or relayed, so clients see OpenAI's stream. `finish_reason:
  content_filter` is OpenAI's own and maps to a refusal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from urllib.parse import quote

import orjson

from interlink.core import ChatRequest, ChatResponse, GatewayError
from interlink.providers import ProviderSettings, StreamDecoder, UpstreamRequest
from interlink.providers.azure_openai.auth import signer
from interlink.providers.openai_chat import CODEC as CHAT_CODEC
from interlink.providers.openai_responses import CODEC as RESPONSES_CODEC
from interlink.sse import ServerSentEvent, SSEDecoder

CHAT = "openai-chat"
RESPONSES = "openai-responses"
_AZURE_ONLY = ('"prompt_filter_results"', '"prompt_annotations"', '"content_filter_offsets"', '"id":""')


def resource(base_url: str) -> str:
    """The resource endpoint, whatever form of it the config gives."""
    base = base_url.rstrip("/")
    for suffix in ("/openai/v1", "/openai"):
        if base.endswith(suffix):
            return base[: -len(suffix)]
    return base


def url_for(settings: ProviderSettings, deployment: str, wire: str) -> str:
    base, version = resource(settings.base_url), settings.api_version
    path = "chat/completions" if wire == CHAT else "responses"
    if version in (None, "v1"):
        return f"{base}/openai/v1/{path}"
    if version == "preview":
        return f"{base}/openai/v1/{path}?api-version=preview"
    if wire == CHAT:
        return f"{base}/openai/deployments/{quote(deployment, safe='')}/{path}?api-version={version}"
    return f"{base}/openai/responses?api-version={version}"


class AzureChatSSE(SSEDecoder):
    """Chat SSE without Azure's annotation-only chunks."""

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        return [e for e in super().feed(chunk) if not _annotation_only(e.data)]

    def flush(self) -> list[ServerSentEvent]:
        return [e for e in super().flush() if not _annotation_only(e.data)]


def _annotation_only(data: str) -> bool:
    if not any(marker in data for marker in _AZURE_ONLY):
        return False
    try:
        chunk = orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(chunk, dict) or chunk.get("usage") or chunk.get("error"):
        return False
    for choice in chunk.get("choices") or []:
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta") or {}
        if choice.get("finish_reason") or any(v not in (None, "", []) for v in delta.values()):
            return False
    return True


class AzureOpenAICodec:
    api = "azure-openai"

    def wire_api(self, upstream_model: str, settings: ProviderSettings) -> str:
        return settings.api or CHAT

    def build_request(
        self,
        request: ChatRequest,
        *,
        upstream_model: str,
        settings: ProviderSettings,
        stream: bool,
    ) -> UpstreamRequest:
        wire = settings.api or CHAT
        codec = CHAT_CODEC if wire == CHAT else RESPONSES_CODEC
        inner = replace(settings, api_key=None)  # Azure's key is no bearer token
        upstream = codec.build_request(request, upstream_model=upstream_model, settings=inner, stream=stream)
        upstream.url = url_for(settings, upstream_model, wire)
        if settings.api_key:
            upstream.headers["api-key"] = settings.api_key
        else:
            upstream.sign = signer(settings.name)
        if stream and wire == CHAT:
            upstream.framing = AzureChatSSE
        return upstream

    def parse_response(self, body: bytes, *, settings: ProviderSettings) -> ChatResponse:
        codec = CHAT_CODEC if (settings.api or CHAT) == CHAT else RESPONSES_CODEC
        return codec.parse_response(body, settings=settings)

    def stream_decoder(self, *, settings: ProviderSettings) -> StreamDecoder:
        codec = CHAT_CODEC if (settings.api or CHAT) == CHAT else RESPONSES_CODEC
        return codec.stream_decoder(settings=settings)

    def map_error(
        self, status: int, headers: Mapping[str, str], body: bytes, *, settings: ProviderSettings
    ) -> GatewayError:
        error = CHAT_CODEC.map_error(status, headers, body, settings=settings)
        if "content_filter" in (error.code or "") or b"ResponsibleAIPolicyViolation" in body:
            error.code = "content_filter"
            error.retryable = False
            if "content filter" not in error.message.lower():
                error.message = f"Azure's content filter blocked the prompt: {error.message}"
        return error


CODEC = AzureOpenAICodec()

__all__ = ["CODEC", "AzureChatSSE", "AzureOpenAICodec"]
