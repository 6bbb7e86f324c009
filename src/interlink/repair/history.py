"""Conversation repairs: whatever a client stored, send the upstream a history it accepts.

Each repair counts what it did in a `Counter` under a short name (`orphan_tool_call`,
`trailing_assistant`, ...) that ends up in the `interlink-repairs` header and the log. Repairs
build new lists and blocks; the client's request is never mutated, because a failover may send
the same request to an upstream with other rules.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import replace

from interlink.core import Block, ImageBlock, Message, ReasoningBlock, TextBlock, ToolCallBlock, ToolResultBlock
from interlink.repair.capabilities import Capabilities

INTERRUPTED = "interrupted: no result was recorded"


def repair_history(
    messages: list[Message], caps: Capabilities, kind: str, repairs: Counter[str], *, system_in_messages: bool = False
) -> tuple[list[Message], list[TextBlock]]:
    """The repaired messages, and system text moved out of them (for Anthropic upstreams,
    unless the client uses Anthropic's mid-conversation system beta: `system_in_messages`)."""
    moved: list[TextBlock] = []
    messages = _misplaced_blocks(messages, repairs)
    if kind == "anthropic":
        if not system_in_messages:
            messages, moved = _hoist_system(messages, repairs)
        messages = _drop_unverifiable_thinking(messages, repairs)
    if not caps.images:
        messages = _map_blocks(messages, _without_image, repairs, "image_removed")
    messages = _strip_empty(messages, repairs)
    messages = _merge_same_role(messages, repairs)
    messages = _pair_tool_calls(messages, repairs)
    if not caps.prefill:
        messages = _drop_trailing_assistant(messages, repairs)
    if caps.tool_id_pattern is not None:
        messages = _rewrite_tool_ids(messages, caps.tool_id_pattern, repairs)
    return messages, moved


def _hoist_system(messages: list[Message], repairs: Counter[str]) -> tuple[list[Message], list[TextBlock]]:
    if not any(m.role == "system" for m in messages):
        return messages, []
    moved = [b for m in messages if m.role == "system" for b in m.content if isinstance(b, TextBlock)]
    repairs["system_moved"] += sum(1 for m in messages if m.role == "system")
    return [m for m in messages if m.role != "system"], moved


def _drop_unverifiable_thinking(messages: list[Message], repairs: Counter[str]) -> list[Message]:
    """Anthropic verifies every thinking signature it is sent; one it did not issue (or none at
    all) fails the request with "Invalid signature", so such blocks stay behind."""

    def keep(block: Block) -> bool:
        if not isinstance(block, ReasoningBlock):
            return True
        if block.opaque is not None and block.opaque.origin == "anthropic":
            return True
        repairs["unverifiable_thinking"] += 1
        return False

    return [replace(m, content=[b for b in m.content if keep(b)]) if m.role == "assistant" else m for m in messages]


def _without_image(block: Block) -> Block | None:
    if isinstance(block, ImageBlock):
        return TextBlock("[image omitted: this model does not accept images]")
    return None


def _map_blocks(
    messages: list[Message], fn: Callable[[Block], Block | None], repairs: Counter[str], name: str
) -> list[Message]:
    out = []
    for m in messages:
        content = []
        for block in m.content:
            new = fn(block)
            if new is not None:
                repairs[name] += 1
            content.append(new if new is not None else block)
        out.append(replace(m, content=content))
    return out


def _misplaced_blocks(messages: list[Message], repairs: Counter[str]) -> list[Message]:
    """Tool calls and reasoning belong to assistant turns, tool results to user turns; anything
    else a client put elsewhere becomes text (or goes, for reasoning nobody can verify there)."""
    out = []
    for m in messages:
        content: list[Block] = []
        for b in m.content:
            if m.role != "assistant" and isinstance(b, ToolCallBlock):
                content.append(TextBlock(f"[tool call {b.name}({b.arguments})]"))
            elif m.role != "user" and isinstance(b, ToolResultBlock):
                content.append(TextBlock(f"[result of tool call {b.tool_call_id}]\n{b.text() or '(empty)'}"))
            elif m.role != "assistant" and isinstance(b, ReasoningBlock):
                continue
            else:
                content.append(b)
                continue
            repairs["misplaced_block"] += 1
        out.append(replace(m, content=content) if content != m.content else m)
    return out


def _strip_empty(messages: list[Message], repairs: Counter[str]) -> list[Message]:
    out = []
    for m in messages:
        content = [b for b in m.content if not (isinstance(b, TextBlock) and not b.text.strip())]
        if len(content) != len(m.content):
            repairs["empty_text"] += len(m.content) - len(content)
        if content:
            out.append(replace(m, content=content) if len(content) != len(m.content) else m)
        else:
            repairs["empty_message"] += 1
    return out


def _merge_same_role(messages: list[Message], repairs: Counter[str]) -> list[Message]:
    out: list[Message] = []
    for m in messages:
        if out and out[-1].role == m.role and m.role != "system":
            out[-1] = replace(out[-1], content=[*out[-1].content, *m.content])
            repairs["merged_turns"] += 1
        else:
            out.append(m)
    return out


def _pair_tool_calls(messages: list[Message], repairs: Counter[str]) -> list[Message]:
    """Every tool call gets its result first in the very next user turn; results without a call
    in the turn just before become plain text."""
    out: list[Message] = []
    i = 0
    while i < len(messages):
        m = messages[i]
        calls = [b.id for b in m.content if isinstance(b, ToolCallBlock)] if m.role == "assistant" else []
        if m.role == "user":
            m = _orphan_results_to_text(m, repairs)
        out.append(m)
        if not calls:
            i += 1
            continue
        following = messages[i + 1] if i + 1 < len(messages) and messages[i + 1].role == "user" else None
        out.append(_answer_calls(calls, following, repairs))
        i += 2 if following is not None else 1
    return out


def _answer_calls(calls: list[str], following: Message | None, repairs: Counter[str]) -> Message:
    content = following.content if following is not None else []
    results = {b.tool_call_id: b for b in content if isinstance(b, ToolResultBlock) and b.tool_call_id in calls}
    ordered: list[Block] = []
    for call_id in calls:
        if call_id in results:
            ordered.append(results[call_id])
        else:
            repairs["orphan_tool_call"] += 1
            ordered.append(ToolResultBlock(call_id, [TextBlock(INTERRUPTED)], is_error=True))
    rest = [b for b in content if not (isinstance(b, ToolResultBlock) and b.tool_call_id in results)]
    first_other = next((i for i, b in enumerate(content) if not isinstance(b, ToolResultBlock)), len(content))
    if any(isinstance(b, ToolResultBlock) for b in content[first_other:]):
        repairs["tool_results_reordered"] += 1
    rest_message = _orphan_results_to_text(Message("user", rest), repairs)
    return Message("user", [*ordered, *rest_message.content])


def _orphan_results_to_text(m: Message, repairs: Counter[str]) -> Message:
    """Tool results in `m` that answer no call just before it, as plain text."""
    if not any(isinstance(b, ToolResultBlock) for b in m.content):
        return m
    content: list[Block] = []
    for b in m.content:
        if isinstance(b, ToolResultBlock):
            repairs["orphan_tool_result"] += 1
            label = "error result" if b.is_error else "result"
            content.append(TextBlock(f"[{label} of tool call {b.tool_call_id}]\n{b.text() or '(empty)'}"))
        else:
            content.append(b)
    return replace(m, content=content)


def _drop_trailing_assistant(messages: list[Message], repairs: Counter[str]) -> list[Message]:
    if not messages or messages[-1].role != "assistant":
        return messages
    repairs["trailing_assistant"] += 1
    if len(messages) > 1:
        return messages[:-1]
    text = "\n".join(b.text for b in messages[0].content if isinstance(b, TextBlock))
    return [Message("user", [TextBlock(f"[earlier assistant reply]\n{text or '(empty)'}")])]


def _rewrite_tool_ids(messages: list[Message], pattern: re.Pattern[str], repairs: Counter[str]) -> list[Message]:
    """Ids the upstream rejects get a deterministic substitute, the same for a call and its
    result, so pairs stay pairs on every turn."""

    def fix(block: Block) -> Block:
        if isinstance(block, ToolCallBlock) and not pattern.match(block.id):
            repairs["tool_id_rewritten"] += 1
            return replace(block, id=safe_tool_id(block.id))
        if isinstance(block, ToolResultBlock) and not pattern.match(block.tool_call_id):
            return replace(block, tool_call_id=safe_tool_id(block.tool_call_id))
        return block

    return [replace(m, content=[fix(b) for b in m.content]) for m in messages]


def safe_tool_id(original: str) -> str:
    clean = re.sub(r"[^a-zA-Z0-9_-]", "_", original)[:48] or "call"
    return f"{clean}_{hashlib.sha256(original.encode()).hexdigest()[:8]}"
