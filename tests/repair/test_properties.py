"""Property: whatever history a client sends, what goes to an Anthropic-rules upstream passes
Anthropic's validation."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from interlink.core import Message, Opaque, ReasoningBlock, TextBlock, ToolCallBlock, ToolResultBlock
from interlink.repair.capabilities import capabilities_for
from interlink.repair.history import repair_history
from tests.repair.anthropic_rules import violations

ids = st.sampled_from(["toolu_1", "toolu_2", "call_abc", "functions.bash:3", "fc 9", "x"])
text = st.sampled_from(["", " ", "hello", "ok\n"])
blocks = st.one_of(
    text.map(TextBlock),
    ids.map(lambda i: ToolCallBlock(id=i, name="bash", arguments="{}")),
    ids.map(lambda i: ToolResultBlock(i, [TextBlock("out")])),
    st.sampled_from(
        [None, Opaque("anthropic", "signature", "s"), Opaque("openai-responses", "encrypted_content", "e")]
    ).map(lambda o: ReasoningBlock("thinking", o)),
)
messages = st.lists(
    st.builds(Message, role=st.sampled_from(["user", "assistant", "system"]), content=st.lists(blocks, max_size=4)),
    max_size=8,
)


@settings(max_examples=400, deadline=None)
@given(messages)
def test_any_history_becomes_valid_for_anthropic(history: list[Message]) -> None:
    history = [m for m in history if not (m.role == "system" and any(not isinstance(b, TextBlock) for b in m.content))]
    if not any(
        m.role == "user" and any(isinstance(b, TextBlock) and b.text.strip() for b in m.content) for m in history
    ):
        history = [Message("user", [TextBlock("start")]), *history]
    repaired, _ = repair_history(history, capabilities_for("claude-emu", "anthropic"), "anthropic", Counter())
    assert violations(repaired) == []


@settings(max_examples=200, deadline=None)
@given(messages)
def test_repair_is_idempotent(history: list[Message]) -> None:
    caps = capabilities_for("claude-emu", "anthropic")
    once, _ = repair_history(history, caps, "anthropic", Counter())
    repairs: Counter[str] = Counter()
    twice, _ = repair_history(once, caps, "anthropic", repairs)
    assert twice == once and not repairs
