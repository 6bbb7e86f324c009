"""The 3×3 matrix: every client API through a real gateway process to every upstream API.

Judged by the official SDKs' own accumulators, stream and non-stream, with text, a tool-call
round trip and thinking. The emulator records what reached it, so each test also checks that
the request really went out in the upstream's API.
"""

from __future__ import annotations

import pytest

from tests.contract.conftest import UPSTREAMS, Stack
from tests.contract.drivers import DRIVERS, TOOL_OUTPUT

UPSTREAM_PATH = {
    "anthropic": "/v1/messages",
    "openai-chat": "/v1/chat/completions",
    "openai-responses": "/v1/responses",
    # the clouds: model id in the path (Bedrock, Vertex) or the deployment (Azure's dated form)
    "bedrock": "/model/us.anthropic.claude-emu-v1:0/invoke",
    "bedrock-converse": "/model/amazon.nova-emu-v1:0/converse",
    "vertex": "/v1/projects/emu-project/locations/us-east5/publishers/anthropic/models/claude-emu@20250929:",
    "azure-chat": "/openai/deployments/gpt-emu-deployment/chat/completions",
    "azure-responses": "/openai/v1/responses",
}

CLIENTS = list(DRIVERS)
MODELS = list(UPSTREAMS)


def matrix(fn):  # type: ignore[no-untyped-def]
    fn = pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])(fn)
    fn = pytest.mark.parametrize("model", MODELS)(fn)
    return pytest.mark.parametrize("client_api", CLIENTS)(fn)


def last_upstream(stack: Stack) -> dict:
    return stack.upstream_requests()[-1]


@matrix
def test_text(stack: Stack, client_api: str, model: str, stream: bool) -> None:
    driver = DRIVERS[client_api](stack.gateway)
    prompt = f"ping {client_api} {model} {stream}"
    turn, _ = driver.send(model, driver.user(prompt), stream=stream)
    assert prompt in turn.text
    assert turn.usage[0] > 0 and turn.usage[1] > 0
    upstream = last_upstream(stack)
    kind = UPSTREAMS[model]
    if kind in ("bedrock", "bedrock-converse", "vertex"):
        assert upstream["path"].startswith(UPSTREAM_PATH[kind])
        assert "model" not in upstream["body"]  # the model id travels in the path
    else:
        assert upstream["path"].split("?")[0] == UPSTREAM_PATH[kind]
        assert upstream["body"]["model"] != model  # the upstream id from the config, not the public name


@matrix
def test_tool_call_round_trip(stack: Stack, client_api: str, model: str, stream: bool) -> None:
    driver = DRIVERS[client_api](stack.gateway)
    messages = driver.user("list the files")
    turn, reply = driver.send(model, messages, stream=stream, tools=True)
    assert [(name, args) for _, name, args in turn.tool_calls] == [("bash", {"command": "echo hello"})]
    assert turn.stop in ("tool_use", "tool_calls", "completed")
    final, _ = driver.send(model, driver.follow_up(messages, reply, turn), stream=stream, tools=True)
    assert TOOL_OUTPUT[:20] in final.text
    assert not final.tool_calls


@matrix
def test_thinking(stack: Stack, client_api: str, model: str, stream: bool) -> None:
    driver = DRIVERS[client_api](stack.gateway)
    turn, _ = driver.send(model, driver.user("think first"), stream=stream, thinking=True)
    assert turn.reasoning.strip()
    assert "think first" in turn.text


@matrix
def test_tool_loop_with_thinking(stack: Stack, client_api: str, model: str, stream: bool) -> None:
    driver = DRIVERS[client_api](stack.gateway)
    messages = driver.user("list the files, thinking")
    turn, reply = driver.send(model, messages, stream=stream, tools=True, thinking=True)
    assert turn.tool_calls and turn.reasoning
    final, _ = driver.send(model, driver.follow_up(messages, reply, turn), stream=stream, tools=True, thinking=True)
    assert TOOL_OUTPUT[:20] in final.text
