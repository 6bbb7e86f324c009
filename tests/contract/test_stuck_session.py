"""The stuck session: after an interrupted tool call, OpenCode's history holds an orphaned
tool call (its id from a Kimi-style model), an empty text block and a trailing assistant turn.
An upstream with Anthropic's rules rejects that on every retry; through Interlink it succeeds
and the response says what was repaired. Also: a Chat client's thinking tool loop to an
Anthropic upstream that verifies signatures keeps working turn after turn.
"""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest

from tests.contract.conftest import Stack
from tests.contract.drivers import BASH_SCHEMA

TOOL_ID = "functions.bash:3"

HISTORIES = {
    "anthropic": (
        "/v1/messages",
        {
            "max_tokens": 200,
            "messages": [
                {"role": "user", "content": "list the files"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "I'll list them."},
                        {"type": "tool_use", "id": TOOL_ID, "name": "bash", "input": {"command": "ls"}},
                    ],
                },
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": ""},
                        {"type": "text", "text": "Tool execution was interrupted"},
                    ],
                },
            ],
            "tools": [{"name": "bash", "input_schema": BASH_SCHEMA}],
        },
    ),
    "openai-chat": (
        "/v1/chat/completions",
        {
            "messages": [
                {"role": "user", "content": "list the files"},
                {
                    "role": "assistant",
                    "content": "I'll list them.",
                    "tool_calls": [
                        {
                            "id": TOOL_ID,
                            "type": "function",
                            "function": {"name": "bash", "arguments": '{"command":"ls"}'},
                        }
                    ],
                },
                {"role": "assistant", "content": "Tool execution was interrupted"},
            ],
            "tools": [{"type": "function", "function": {"name": "bash", "parameters": BASH_SCHEMA}}],
        },
    ),
    "openai-responses": (
        "/v1/responses",
        {
            "input": [
                {"role": "user", "content": "list the files"},
                {"type": "function_call", "call_id": TOOL_ID, "name": "bash", "arguments": '{"command":"ls"}'},
                {"role": "assistant", "content": [{"type": "output_text", "text": "Tool execution was interrupted"}]},
            ],
            "tools": [{"type": "function", "name": "bash", "parameters": BASH_SCHEMA}],
        },
    ),
}


def test_the_history_is_rejected_without_repair(stack: Stack) -> None:
    _, body = HISTORIES["anthropic"]
    direct = httpx.post(
        f"{stack.emulator}/v1/messages", json={**body, "model": "claude-emu"}, headers={"x-emu-strict": "anthropic"}
    )
    assert direct.status_code == 400
    assert direct.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("client_api", list(HISTORIES))
def test_stuck_history_succeeds_through_interlink(stack: Stack, client_api: str) -> None:
    path, body = HISTORIES[client_api]
    r = httpx.post(stack.gateway + path, json={**body, "model": "strict-claude"}, timeout=20)
    assert r.status_code == 200, r.text
    repairs = dict(item.split("=") for item in r.headers["interlink-repairs"].split(","))
    assert repairs["orphan_tool_call"] == "1"
    assert repairs["tool_id_rewritten"] == "1"
    sent = stack.upstream_requests()[-1]["body"]["messages"]
    assert sent[-1]["role"] == "user"
    assert sent[-1]["content"][0]["type"] == "tool_result" and sent[-1]["content"][0]["is_error"] is True


def test_chat_client_thinking_tool_loop_keeps_valid_signatures(stack: Stack) -> None:
    """The Chat client drops what it cannot carry (signatures); the gateway's reasoning store
    puts the signed thinking back on every later turn, which the strict upstream verifies
    (a tool loop replayed without its thinking block is a 400 there)."""
    client = openai.OpenAI(base_url=f"{stack.gateway}/v1", api_key="k", max_retries=0)
    tools = [{"type": "function", "function": {"name": "bash", "parameters": BASH_SCHEMA}}]
    messages: list[dict] = [{"role": "user", "content": "list the files"}]
    with client.chat.completions.stream(
        model="strict-claude", messages=messages, tools=tools, reasoning_effort="high"
    ) as s:
        message = s.get_final_completion().choices[0].message
    assert (message.model_extra or {}).get("reasoning_content") and message.tool_calls
    # what a plain OpenAI client keeps: content and tool calls, no thinking blocks
    messages.append(
        {
            "role": "assistant",
            "content": message.content,
            "tool_calls": [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.function.name, "arguments": c.function.arguments},
                }
                for c in message.tool_calls
            ],
        }
    )
    messages.append({"role": "tool", "tool_call_id": message.tool_calls[0].id, "content": "a.txt"})
    for turn in range(3):
        r = client.chat.completions.with_raw_response.create(
            model="strict-claude", messages=messages, tools=tools, reasoning_effort="high"
        )
        answer = r.parse().choices[0].message.content
        assert ("Tool result received: a.txt" if turn == 0 else f"and again ({turn - 1})") in answer
        assert "reasoning_restored=" in r.headers["interlink-repairs"]
        replayed = stack.upstream_requests()[-1]["body"]["messages"][1]["content"][0]
        assert replayed["type"] == "thinking" and replayed["signature"]
        messages += [{"role": "assistant", "content": answer}, {"role": "user", "content": f"and again ({turn})"}]


def test_anthropic_client_replays_signed_thinking_verbatim(stack: Stack) -> None:
    client = anthropic.Anthropic(base_url=stack.gateway, api_key="k", max_retries=0)
    tools = [{"name": "bash", "input_schema": BASH_SCHEMA}]
    messages: list[dict] = [{"role": "user", "content": "list the files"}]
    reply = client.messages.create(
        model="strict-claude",
        max_tokens=4096,
        messages=messages,
        tools=tools,
        thinking={"type": "enabled", "budget_tokens": 1024},
    )
    assert reply.content[0].type == "thinking" and reply.content[0].signature
    tool = next(b for b in reply.content if b.type == "tool_use")
    messages += [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in reply.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool.id, "content": "a.txt"}]},
    ]
    final = client.messages.create(
        model="strict-claude",
        max_tokens=4096,
        messages=messages,
        tools=tools,
        thinking={"type": "enabled", "budget_tokens": 1024},
    )
    assert "Tool result received" in "".join(b.text for b in final.content if b.type == "text")
