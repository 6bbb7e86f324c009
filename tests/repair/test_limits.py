"""max_tokens clamping and thinking budget reconciliation, table-driven."""

from __future__ import annotations

from collections import Counter

import pytest

from interlink.core import ChatRequest, GatewayError, Message, Passthrough, ReasoningConfig, TextBlock
from interlink.repair import prepare
from interlink.repair.capabilities import capabilities_for
from interlink.repair.limits import clamp_max_tokens, reconcile_thinking


def req(max_tokens: int | None = None, text: str = "hi", reasoning: ReasoningConfig | None = None) -> ChatRequest:
    return ChatRequest(
        model="m", messages=[Message("user", [TextBlock(text)])], max_tokens=max_tokens, reasoning=reasoning
    )


@pytest.mark.parametrize(
    ("model", "overrides", "asked", "sent", "header"),
    [
        ("claude-3-5-haiku-latest", None, 64000, 8192, "64000->8192"),
        ("claude-sonnet-4-5", None, 64000, 64000, None),
        ("claude-sonnet-4-5", None, None, None, None),
        ("my-model", {"max_output_tokens": 4096}, 32000, 4096, "32000->4096"),
        ("my-model", {"context_window": 1000}, 5000, 999, "5000->999"),  # 1000 − the 1-token estimate of "hi"
        ("my-model", None, 100000, 100000, None),
    ],
)
def test_clamp(model: str, overrides: dict | None, asked: int | None, sent: int | None, header: str | None) -> None:
    caps = capabilities_for(model, "anthropic", overrides)
    out, clamped = clamp_max_tokens(req(asked), caps)
    assert (out.max_tokens, clamped) == (sent, header)


def test_prompt_longer_than_the_context_window_is_a_clear_400() -> None:
    caps = capabilities_for("m", "openai-chat", {"context_window": 10})
    with pytest.raises(GatewayError) as info:
        clamp_max_tokens(req(100, text="x" * 400), caps)
    assert info.value.status == 400 and "context window of 10" in info.value.message


@pytest.mark.parametrize(
    ("max_tokens", "budget", "out_budget", "enabled", "count"),
    [
        (16000, 4096, 4096, True, 0),
        (4096, 8000, 2048, True, 1),  # halved to fit under max_tokens
        (1500, 2000, None, False, 1),  # not even 1024 fits next to an answer: thinking off
    ],
)
def test_thinking_budget_reconciled(
    max_tokens: int, budget: int, out_budget: int | None, enabled: bool, count: int
) -> None:
    repairs: Counter[str] = Counter()
    caps = capabilities_for("claude-sonnet-4-5", "anthropic")
    out = reconcile_thinking(req(max_tokens, reasoning=ReasoningConfig(budget_tokens=budget)), caps, repairs)
    assert out.reasoning is not None
    assert (out.reasoning.budget_tokens, out.reasoning.enabled, repairs["thinking_budget"]) == (
        out_budget,
        enabled,
        count,
    )


def test_thinking_dropped_for_models_without_it() -> None:
    repairs: Counter[str] = Counter()
    out = reconcile_thinking(
        req(1000, reasoning=ReasoningConfig(effort="high")), capabilities_for("gpt-4o", "openai-chat"), repairs
    )
    assert out.reasoning is None and repairs["thinking_unsupported"] == 1


def test_prepare_marks_passthrough_overrides_and_forces_a_thinking_variant() -> None:
    request = req(64000)
    request.passthrough = Passthrough("anthropic", {"model": "m", "max_tokens": 64000}, {})
    prepared = prepare(
        request,
        upstream_model="claude-3-5-haiku-x",
        upstream_kind="anthropic",
        thinking=None,
        model_overrides={"thinking": True},
    )
    assert prepared.clamped == "64000->8192"
    assert prepared.request.passthrough.overrides == frozenset({"max_tokens"})
    forced = prepare(
        req(8000),
        upstream_model="claude-sonnet-4-5",
        upstream_kind="anthropic",
        thinking=ReasoningConfig(budget_tokens=2048),
    )
    assert forced.request.reasoning.budget_tokens == 2048
