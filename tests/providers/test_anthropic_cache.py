"""Automatic prompt-cache breakpoints on Anthropic upstream requests (`providers/anthropic/cache.py`):
where they go on translated and passthrough bodies, never more than Anthropic's 4, never on
thinking or empty blocks, and a client's own markers left exactly as they were."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from interlink.core import (
    CacheControl,
    ChatRequest,
    ImageBlock,
    Message,
    Opaque,
    ReasoningBlock,
    TextBlock,
    ToolCallBlock,
    ToolResultBlock,
    ToolSpec,
)
from interlink.core.request import Passthrough
from interlink.providers import ProviderSettings
from interlink.providers.anthropic import CODEC
from interlink.providers.anthropic.cache import add_breakpoints, has_breakpoints
from interlink.testing.emulator_cache import segments

SETTINGS = ProviderSettings(name="anth", kind="anthropic", base_url="https://api.anthropic.test", api_key="sk-ant")
MARK = {"type": "ephemeral"}


def build(request: ChatRequest) -> dict[str, Any]:
    upstream = CODEC.build_request(request, upstream_model="claude-up", settings=SETTINGS, stream=False)
    return orjson.loads(upstream.body)


def marked(body: dict[str, Any]) -> list[str]:
    out = [f"tools.{i}" for i, t in enumerate(body.get("tools") or []) if "cache_control" in t]
    out += [f"system.{i}" for i, b in enumerate(body.get("system") or []) if "cache_control" in b]
    for i, m in enumerate(body.get("messages") or []):
        out += [f"messages.{i}.{j}" for j, b in enumerate(m["content"]) if "cache_control" in b]
    return out


def agent_request(**changes: Any) -> ChatRequest:
    """A Chat client's tool loop: system, tools, two user turns, a call and its result."""
    messages = [
        Message("user", [TextBlock("fix the bug")]),
        Message("assistant", [TextBlock("Reading."), ToolCallBlock("call_1", "read", '{"path":"a.py"}')]),
        Message("user", [ToolResultBlock("call_1", [TextBlock("print(1)")])]),
        Message("assistant", [TextBlock("Found it.")]),
        Message("user", [TextBlock("now run the tests"), ImageBlock(media_type="image/png", data="iVBO")]),
    ]
    tools = [ToolSpec("read", "Read a file"), ToolSpec("bash", "Run a command")]
    base = ChatRequest(model="m", messages=messages, system=[TextBlock("You are terse.")], tools=tools, auto_cache=True)
    for name, value in changes.items():
        setattr(base, name, value)
    return base


def test_translated_request_gets_tools_system_and_the_last_two_user_turns() -> None:
    body = build(agent_request())
    assert marked(body) == ["tools.1", "system.0", "messages.2.0", "messages.4.1"]
    assert body["messages"][4]["content"][1]["cache_control"] == MARK  # the image, the turn's last block
    assert len(segments(body)) > 0  # the emulator's copy of Anthropic's rules accepts it


def test_nothing_is_added_unless_the_request_asks() -> None:
    assert marked(build(agent_request(auto_cache=False))) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"tools": []}, ["system.0", "messages.2.0", "messages.4.1"]),
        ({"system": []}, ["tools.1", "messages.2.0", "messages.4.1"]),
        ({"tools": [], "system": [], "messages": [Message("user", [TextBlock("hi")])]}, ["messages.0.0"]),
    ],
    ids=["no tools", "no system", "one turn"],
)
def test_only_what_exists_is_marked(changes: dict[str, Any], expected: list[str]) -> None:
    assert marked(build(agent_request(**changes))) == expected


def test_a_clients_own_marker_anywhere_means_no_automatic_ones() -> None:
    request = agent_request()
    request.messages[0].content[0].cache = CacheControl()
    assert marked(build(request)) == ["messages.0.0"]
    request = agent_request(cache=CacheControl(ttl="1h"))  # Anthropic's top-level automatic caching
    body = build(request)
    assert marked(body) == [] and body["cache_control"] == {"type": "ephemeral", "ttl": "1h"}


def test_thinking_blocks_and_empty_text_are_never_marked() -> None:
    body = {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "q"}, {"type": "text", "text": ""}]},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "s"}]},
            {"role": "user", "content": [{"type": "redacted_thinking", "data": "x"}]},
        ]
    }
    assert add_breakpoints(body) == 1
    assert body["messages"][0]["content"][0]["cache_control"] == MARK
    assert all("cache_control" not in b for b in body["messages"][0]["content"][1:])
    assert all("cache_control" not in b for m in body["messages"][1:] for b in m["content"])


def test_passthrough_body_is_marked_on_copies_and_otherwise_unchanged() -> None:
    client_body = {
        "model": "claude-x",
        "max_tokens": 100,
        "system": "You are terse.",
        "tools": [{"name": "bash", "input_schema": {"type": "object", "properties": {"cache_control": {}}}}],
        "messages": [{"role": "user", "content": "hello"}],
        "container": "kept-as-sent",
    }
    sent = copy.deepcopy(client_body)
    request = ChatRequest(
        model="claude-x",
        messages=[Message("user", [TextBlock("hello")])],
        passthrough=Passthrough("anthropic", client_body, {}),
        auto_cache=True,
    )
    body = build(request)
    assert client_body == sent  # the client's parsed body is never changed in place
    assert body["system"] == [{"type": "text", "text": "You are terse.", "cache_control": MARK}]
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hello", "cache_control": MARK}]}]
    assert body["tools"][0]["cache_control"] == MARK and body["container"] == "kept-as-sent"
    # a tool schema property named cache_control is not a marker
    assert not has_breakpoints({"tools": sent["tools"], "messages": sent["messages"]})


def test_a_marker_inside_a_tool_result_counts_as_the_clients() -> None:
    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t",
                        "content": [{"type": "text", "text": "x", "cache_control": MARK}],
                    }
                ],
            }
        ]
    }
    before = copy.deepcopy(body)
    assert add_breakpoints(body) == 0 and body == before


def test_restored_reasoning_in_history_keeps_its_signature_and_no_marker() -> None:
    thinking = ReasoningBlock("plan", Opaque("anthropic", "signature", "sig"))
    request = agent_request()
    request.messages[1].content.insert(0, thinking)
    body = build(request)
    assert body["messages"][1]["content"][0] == {"type": "thinking", "thinking": "plan", "signature": "sig"}
    assert len(marked(body)) == 4
