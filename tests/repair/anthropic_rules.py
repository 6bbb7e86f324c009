"""Anthropic's validation rules for a conversation, written from its documented errors, as a
judge for what the gateway sends (independent of the repair code it judges)."""

from __future__ import annotations

import re

from interlink.core import Message, ReasoningBlock, TextBlock, ToolCallBlock, ToolResultBlock

ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def violations(messages: list[Message]) -> list[str]:
    found: list[str] = []
    if not messages:
        return ["at least one message is required"]
    if messages[-1].role != "user":
        found.append("does not support assistant message prefill")
    for i, m in enumerate(messages):
        if m.role not in ("user", "assistant"):
            found.append(f"messages.{i}: role {m.role}")
        if not m.content:
            found.append(f"messages.{i}: empty content")
        for b in m.content:
            if isinstance(b, TextBlock) and not b.text.strip():
                found.append(f"messages.{i}: text content blocks must be non-empty")
            if isinstance(b, ToolCallBlock) and not ID.match(b.id):
                found.append(f"messages.{i}: tool_use.id pattern")
            if isinstance(b, ToolResultBlock) and not ID.match(b.tool_call_id):
                found.append(f"messages.{i}: tool_result.tool_use_id pattern")
            if isinstance(b, ReasoningBlock) and (b.opaque is None or b.opaque.origin != "anthropic"):
                found.append(f"messages.{i}: Invalid signature in thinking block")
        calls = [b.id for b in m.content if isinstance(b, ToolCallBlock)]
        results = [b.tool_call_id for b in m.content if isinstance(b, ToolResultBlock)]
        previous_calls = (
            [b.id for b in messages[i - 1].content if isinstance(b, ToolCallBlock)]
            if i > 0 and messages[i - 1].role == "assistant"
            else []
        )
        if results and (m.role != "user" or any(r not in previous_calls for r in results)):
            found.append(f"messages.{i}: unexpected tool_use_id found in tool_result blocks")
        if m.role == "user" and results:
            leading = 0
            while leading < len(m.content) and isinstance(m.content[leading], ToolResultBlock):
                leading += 1
            if leading != len(results):
                found.append(f"messages.{i}: tool_result blocks must come first")
        if calls:
            following = messages[i + 1] if i + 1 < len(messages) else None
            answered = (
                [b.tool_call_id for b in following.content if isinstance(b, ToolResultBlock)]
                if following and following.role == "user"
                else []
            )
            if set(calls) - set(answered):
                found.append(f"messages.{i}: tool_use ids were found without tool_result blocks immediately after")
    return found
