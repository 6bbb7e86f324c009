"""max_tokens and thinking budgets that fit the model.

max_tokens is clamped to min(model max output, context window − estimated input) and the
response says so (`interlink-max-tokens-clamped: 64000->8192`). A thinking budget must be at
least 1024 and below max_tokens (Anthropic's rule); one that does not fit is shrunk, or
thinking is turned off when even 1024 does not fit.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from interlink.core import ChatRequest, ErrorKind, GatewayError
from interlink.core.tokens import estimate_input_tokens
from interlink.repair.capabilities import Capabilities

MIN_THINKING_BUDGET = 1024


def output_limit(request: ChatRequest, caps: Capabilities) -> int | None:
    limit = caps.max_output_tokens
    if caps.context_window is not None:
        estimate = estimate_input_tokens(request)
        room = caps.context_window - estimate
        if room <= 0:
            raise GatewayError(
                ErrorKind.INVALID_REQUEST,
                f"the prompt is about {estimate} tokens, more than this model's context window of "
                f"{caps.context_window}; shorten the conversation",
                param="messages",
                code="context_length_exceeded",
            )
        limit = room if limit is None else min(limit, room)
    return limit


def clamp_max_tokens(request: ChatRequest, caps: Capabilities) -> tuple[ChatRequest, str | None]:
    limit = output_limit(request, caps)
    if limit is None or request.max_tokens is None or request.max_tokens <= limit:
        return request, None
    return replace(request, max_tokens=limit), f"{request.max_tokens}->{limit}"


def reconcile_thinking(request: ChatRequest, caps: Capabilities, repairs: Counter[str]) -> ChatRequest:
    reasoning = request.reasoning
    if reasoning is None or not reasoning.enabled:
        return request
    if not caps.thinking:
        repairs["thinking_unsupported"] += 1
        return replace(request, reasoning=None)
    budget, max_tokens = reasoning.budget_tokens, request.max_tokens
    if budget is None or max_tokens is None or budget < max_tokens:
        return request
    repairs["thinking_budget"] += 1
    if max_tokens // 2 >= MIN_THINKING_BUDGET:
        return replace(request, reasoning=replace(reasoning, budget_tokens=max_tokens // 2))
    return replace(request, reasoning=replace(reasoning, enabled=False, budget_tokens=None))
