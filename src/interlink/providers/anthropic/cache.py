"""Automatic prompt-cache breakpoints for Anthropic requests that carry none.

Anthropic bills a repeated prompt prefix at a tenth of the input price, but only up to a block
marked `cache_control`; a request without markers is never cached. Clients on an OpenAI-format
API (Aider, Cursor, Cline, Codex) have no way to send markers, so every turn of their sessions
pays full price. When the gateway asks for it (`ChatRequest.auto_cache`, per model in the
config), a body that carries no marker at all gets up to four, Anthropic's limit:

1. the last tool definition (tools are the start of the cached prefix),
2. the last system block,
3. the last cacheable block of the last user turn (this request's whole history), and
4. the same in the user turn before it: where the previous request of the session put its
   breakpoint 3, so that prefix is read back even when the newest turn added more than the
   ~20 blocks Anthropic looks back from a breakpoint.

A body with any `cache_control` (top level, a tool, a system block, a message block or a block
inside a tool result) is the client's own caching plan and goes out untouched. Thinking blocks
never carry a marker (Anthropic rejects it). Works on the wire body, so same-API passthrough
bodies are handled like translated ones; the parts it marks are copied, never the client's
objects changed in place.
"""

from __future__ import annotations

from typing import Any

MAX_BREAKPOINTS = 4
LAST_TURNS = 2
EPHEMERAL = {"type": "ephemeral"}
# Block types that may carry cache_control (thinking and redacted_thinking may not).
_MARKABLE = frozenset({"text", "image", "document", "tool_use", "tool_result", "search_result"})


def has_breakpoints(body: dict[str, Any]) -> bool:
    """Whether the client put a `cache_control` anywhere Anthropic reads one."""
    if "cache_control" in body:
        return True
    if any(isinstance(t, dict) and "cache_control" in t for t in _list(body.get("tools"))):
        return True
    if _marked(_list(body.get("system"))):
        return True
    for message in _list(body.get("messages")):
        content = message.get("content") if isinstance(message, dict) else None
        blocks = _list(content)
        if _marked(blocks):
            return True
        for block in blocks:
            if isinstance(block, dict) and block.get("type") == "tool_result" and _marked(_list(block.get("content"))):
                return True
    return False


def add_breakpoints(body: dict[str, Any]) -> int:
    """Mark `body` (in place; the marked parts are fresh copies) as the module docstring says.
    Returns how many breakpoints were placed; 0 when the client placed its own."""
    if has_breakpoints(body):
        return 0
    placed = 0
    tools = _list(body.get("tools"))
    if tools and isinstance(tools[-1], dict):
        body["tools"] = [*tools[:-1], {**tools[-1], "cache_control": dict(EPHEMERAL)}]
        placed += 1
    system = _blocks(body.get("system"))
    if system is not None:
        marked = _mark_last(system)
        if marked is not None:
            body["system"] = marked
            placed += 1
    messages = _list(body.get("messages"))
    if messages:
        messages = list(messages)
        users = [i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "user"]
        for index in reversed(users[len(users) - min(LAST_TURNS, MAX_BREAKPOINTS - placed) :]):
            content = _blocks(messages[index].get("content"))
            marked = _mark_last(content) if content is not None else None
            if marked is not None:
                messages[index] = {**messages[index], "content": marked}
                placed += 1
        body["messages"] = messages
    return placed


def _mark_last(blocks: list[Any]) -> list[Any] | None:
    """A copy of `blocks` with its last markable block marked; None when none can be."""
    for i in range(len(blocks) - 1, -1, -1):
        block = blocks[i]
        if isinstance(block, dict) and block.get("type") in _MARKABLE and _non_empty(block):
            return [*blocks[:i], {**block, "cache_control": dict(EPHEMERAL)}, *blocks[i + 1 :]]
    return None


def _non_empty(block: dict[str, Any]) -> bool:
    # Anthropic refuses cache_control on an empty text block ("cannot be set for empty text blocks").
    return block.get("type") != "text" or bool(block.get("text"))


def _blocks(content: Any) -> list[Any] | None:
    """Content as a list of blocks: a plain string becomes one text block."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else None
    return content if isinstance(content, list) and content else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _marked(blocks: list[Any]) -> bool:
    return any(isinstance(b, dict) and "cache_control" in b for b in blocks)
