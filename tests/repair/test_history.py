"""Each history repair, table-driven, judged by Anthropic's rules (`anthropic_rules`)."""

from __future__ import annotations

from collections import Counter

import pytest

from interlink.core import Message, Opaque, ReasoningBlock, TextBlock, ToolCallBlock, ToolResultBlock
from interlink.repair.capabilities import capabilities_for
from interlink.repair.history import INTERRUPTED, repair_history, safe_tool_id
from tests.repair.anthropic_rules import violations

ANTHROPIC = capabilities_for("claude-emu", "anthropic")
SIG = Opaque("anthropic", "signature", "sig")


def user(*blocks) -> Message:  # type: ignore[no-untyped-def]
    return Message("user", [TextBlock(b) if isinstance(b, str) else b for b in blocks])


def assistant(*blocks) -> Message:  # type: ignore[no-untyped-def]
    return Message("assistant", [TextBlock(b) if isinstance(b, str) else b for b in blocks])


def call(id_: str = "toolu_1") -> ToolCallBlock:
    return ToolCallBlock(id=id_, name="bash", arguments='{"command":"ls"}')


def result(id_: str = "toolu_1", text: str = "a.txt") -> ToolResultBlock:
    return ToolResultBlock(id_, [TextBlock(text)])


CASES = [
    pytest.param(
        [user("hi"), assistant("I'll run it", call()), assistant("(interrupted)")],
        {"orphan_tool_call": 1, "merged_turns": 1},
        id="opencode-interrupted-tool-call",
    ),
    pytest.param([user("hi"), assistant("partial answer")], {"trailing_assistant": 1}, id="trailing-assistant"),
    pytest.param([user("hi"), assistant(call())], {"orphan_tool_call": 1}, id="orphan-call-at-end"),
    pytest.param([user("hi"), assistant("ok"), user(result())], {"orphan_tool_result": 1}, id="result-without-call"),
    pytest.param([user("hi", ""), assistant("ok", " "), user("more")], {"empty_text": 2}, id="empty-text"),
    pytest.param([user("a"), user("b")], {"merged_turns": 1}, id="consecutive-users"),
    pytest.param(
        [user("hi"), assistant(call()), user("look:", result())], {"tool_results_reordered": 1}, id="results-first"
    ),
    pytest.param(
        [user("hi"), assistant(call("functions.bash:3")), user(result("functions.bash:3"))],
        {"tool_id_rewritten": 1},
        id="kimi-tool-id",
    ),
    pytest.param(
        [user("hi"), assistant(ReasoningBlock("hmm"), "ok"), user("go on")],
        {"unverifiable_thinking": 1},
        id="unsigned-thinking",
    ),
    pytest.param(
        [user("hi"), Message("system", [TextBlock("be brief")]), user("x")],
        {"system_moved": 1, "merged_turns": 1},
        id="system-inside-messages",
    ),
    pytest.param(
        [user("hi"), assistant(ReasoningBlock("hmm", SIG), call()), user(result())], {}, id="valid-history-untouched"
    ),
]


@pytest.mark.parametrize(("history", "expected"), CASES)
def test_repair(history: list[Message], expected: dict[str, int]) -> None:
    if expected and set(expected) != {"merged_turns"}:
        assert violations(history)  # the case is broken before repair
    repairs: Counter[str] = Counter()
    repaired, _moved = repair_history(history, ANTHROPIC, "anthropic", repairs)
    assert violations(repaired) == []
    assert dict(repairs) == expected


def test_orphaned_call_gets_an_error_result_right_after_it() -> None:
    repaired, _ = repair_history(
        [user("hi"), assistant("run", call()), user("and?")], ANTHROPIC, "anthropic", Counter()
    )
    first = repaired[2].content[0]
    assert isinstance(first, ToolResultBlock) and first.is_error and first.text() == INTERRUPTED
    assert repaired[2].content[1].text == "and?"


def test_tool_id_rewrite_is_deterministic_and_pair_preserving() -> None:
    history = [user("hi"), assistant(call("functions.bash:3")), user(result("functions.bash:3"))]
    once, _ = repair_history(history, ANTHROPIC, "anthropic", Counter())
    twice, _ = repair_history(history, ANTHROPIC, "anthropic", Counter())
    assert once == twice
    assert once[1].content[0].id == once[2].content[0].tool_call_id == safe_tool_id("functions.bash:3")
    assert safe_tool_id("functions.bash:3") != safe_tool_id("functions_bash_3")


def test_client_history_is_not_mutated() -> None:
    history = [user("hi", ""), assistant(call("a.b"))]
    snapshot = repr(history)
    repair_history(history, ANTHROPIC, "anthropic", Counter())
    assert repr(history) == snapshot


def test_chat_upstream_keeps_prefill_and_ids() -> None:
    caps = capabilities_for("gpt-4o", "openai-chat")
    history = [user("hi"), assistant(call("functions.bash:3")), user(result("functions.bash:3")), assistant("Sure")]
    repairs: Counter[str] = Counter()
    repaired, _ = repair_history(history, caps, "openai-chat", repairs)
    assert repaired == history and not repairs


def test_models_known_to_prefill_keep_a_trailing_assistant_turn() -> None:
    caps = capabilities_for("claude-sonnet-4-5", "anthropic")
    repaired, _ = repair_history([user("hi"), assistant("The answer is")], caps, "anthropic", Counter())
    assert repaired[-1].role == "assistant"
