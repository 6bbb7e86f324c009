"""`count_tokens` that compaction can trust: the upstream's own count where its API has one.

Claude Code and OpenCode decide when to compact a session from this number, so it should be the
count of the model that will read the prompt, not a guess. For the deployment a call would reach
first (after the same history repair a call gets, so a count never fails where a call works):

- an upstream whose API counts tokens (Anthropic: `/v1/messages/count_tokens`) is asked;
- an OpenAI model (a name tiktoken knows, on an OpenAI-API upstream) is counted with OpenAI's
  tokenizer (`interlink.tokenizer`, offline);
- anything else, or an upstream count that fails, gets the estimate of `core.tokens`
  (4 characters a token, 1,500 per image).

`TokenCount.method` says which ("upstream", "tiktoken:o200k_base", "estimated"); the server puts
it in the `interlink-token-count` header.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from interlink.core import ChatRequest, ErrorKind, GatewayError
from interlink.core.tokens import estimate_input_tokens
from interlink.providers import TokenCounter
from interlink.repair import prepare
from interlink.routing.catalog import Deployment, Route
from interlink.routing.dispatch import Dispatcher, attribute
from interlink.tokenizer import count_request, encoding_name, get_encoding

log = logging.getLogger("interlink.count")

UPSTREAM_COUNT_SECONDS = 15.0
"""The longest a count waits for the upstream before it settles for the estimate."""
OPENAI_KINDS = ("openai-chat", "openai-responses", "azure-openai")


@dataclass(frozen=True, slots=True)
class TokenCount:
    tokens: int
    method: str


async def count_tokens(request: ChatRequest, route: Route, dispatcher: Dispatcher) -> TokenCount:
    _, deployment = dispatcher.plan(route)[0]
    prepared = prepare(
        request,
        upstream_model=deployment.upstream_model,
        upstream_kind=deployment.provider.kind,
        model_overrides=route.overrides,
        store=await dispatcher.store.recall(request),
    ).request
    codec = deployment.codec
    if isinstance(codec, TokenCounter):
        try:
            return TokenCount(await _ask_upstream(codec, prepared, deployment, dispatcher), "upstream")
        except GatewayError as error:
            attribute(error, deployment, dispatcher.catalog.redactor)
            log.warning(
                "count_tokens: the upstream did not count; estimating", extra={"fields": {"error": error.message}}
            )
    name = encoding_name(deployment.upstream_model) if deployment.provider.kind in OPENAI_KINDS else None
    if name is not None:
        # Loading an encoding (once) and tokenizing a long prompt take long enough to stall other
        # requests on the event loop.
        tokens = await asyncio.to_thread(lambda: count_request(prepared, get_encoding(name)))
        return TokenCount(tokens, f"tiktoken:{name}")
    return TokenCount(estimate_input_tokens(prepared), "estimated")


async def _ask_upstream(
    codec: TokenCounter, request: ChatRequest, deployment: Deployment, dispatcher: Dispatcher
) -> int:
    upstream = codec.count_tokens_request(
        request, upstream_model=deployment.upstream_model, settings=deployment.provider
    )
    try:
        async with asyncio.timeout(UPSTREAM_COUNT_SECONDS):
            response = await dispatcher.transport.send(upstream)
            try:
                body = await response.read()
            finally:
                response.close()
    except TimeoutError:
        raise GatewayError(ErrorKind.TIMEOUT, f"no count within {UPSTREAM_COUNT_SECONDS:g} s") from None
    if response.status >= 400:
        scrubbed = dispatcher.catalog.redactor.scrub_bytes(body)  # an upstream may quote the key back
        raise deployment.codec.map_error(response.status, response.headers, scrubbed, settings=deployment.provider)
    try:
        return codec.parse_count_tokens(body)
    except ValueError as exc:
        raise GatewayError(ErrorKind.API_ERROR, f"unreadable count_tokens answer: {exc}") from None
