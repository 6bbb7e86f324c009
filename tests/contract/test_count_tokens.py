"""`count_tokens` compaction can trust, and `/v1/models` with each model's limits, through a real
`interlink serve`: Anthropic upstreams are asked for their own count, OpenAI models are counted
with OpenAI's tokenizer (offline), others estimated; `interlink-token-count` says which."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import httpx
import openai
import pytest

from interlink.core import ChatRequest, Message, TextBlock, ToolCallBlock, ToolResultBlock, ToolSpec
from interlink.tokenizer import count_request, get_encoding
from tests.contract.conftest import free_port, start_emulator, start_gateway, stop, write_config

PROVIDERS = """
  dead-anthropic: {kind: anthropic, base_url: "http://127.0.0.1:9"}
"""
MODELS = """
  sonnet: {provider: emu-anthropic, model: claude-sonnet-4-5}
  gpt: {provider: emu-chat, model: gpt-4o}
  gpt-old: {provider: emu-responses, model: gpt-4-0613}
  qwen: {provider: emu-chat, model: qwen3-coder, context_window: 32768, max_output_tokens: 8192}
  unreachable: {provider: dead-anthropic, model: claude-sonnet-4-5}
"""
TEXT = "Compaction decides from this count whether the next turn still fits. " * 40
TOOLS = [
    {
        "name": "bash",
        "description": "Run a shell command",
        "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}},
    }
]
MESSAGES = [
    {"role": "user", "content": TEXT},
    {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "bash", "input": {"command": "ls"}}],
    },
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.py\nb.py"}]},
]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    root = tmp_path_factory.mktemp("count")
    emu_port, gw_port = free_port(), free_port()
    emulator = start_emulator(emu_port)
    emu_url = f"http://127.0.0.1:{emu_port}"
    write_config(root / "interlink.yaml", emu_url, providers=PROVIDERS, models=MODELS)
    try:
        proc = start_gateway(root / "interlink.yaml", gw_port, root / "gateway.log")
    except Exception:
        stop(emulator)
        raise
    yield f"http://127.0.0.1:{gw_port}", emu_url
    stop(proc)
    stop(emulator)


def count(gateway: str, model: str) -> tuple[int, str]:
    client = anthropic.Anthropic(base_url=gateway, api_key="k", max_retries=0)
    raw = client.messages.with_raw_response.count_tokens(
        model=model, system="Be brief.", tools=TOOLS, messages=MESSAGES
    )
    return raw.parse().input_tokens, raw.headers["interlink-token-count"]


def test_anthropic_upstream_counts_its_own_tokens(gateway: tuple[str, str]) -> None:
    url, emulator = gateway
    httpx.post(f"{emulator}/_emu/reset")
    tokens, method = count(url, "sonnet")
    assert method == "upstream"
    asked = [r for r in httpx.get(f"{emulator}/_emu/requests").json() if r["path"] == "/v1/messages/count_tokens"]
    assert len(asked) == 1
    body = asked[0]["body"]
    assert body["model"] == "claude-sonnet-4-5" and "max_tokens" not in body and "stream" not in body
    assert body["tools"][0]["name"] == "bash"
    # the emulator's count (characters of the text / 4), not the gateway's estimate (which adds the tool schema)
    chars = len("Be brief.") + len(TEXT) + len('{"command":"ls"}') + len("a.py\nb.py")
    assert tokens == chars // 4


def test_openai_models_are_counted_with_the_real_tokenizer_offline(gateway: tuple[str, str]) -> None:
    url, _ = gateway
    tokens, method = count(url, "gpt")
    assert method == "tiktoken:o200k_base"
    request = ChatRequest(
        model="gpt",
        system=[TextBlock("Be brief.")],
        tools=[ToolSpec("bash", "Run a shell command", TOOLS[0]["input_schema"])],
        messages=[
            Message("user", [TextBlock(TEXT)]),
            Message("assistant", [ToolCallBlock("toolu_1", "bash", '{"command":"ls"}')]),
            Message("user", [ToolResultBlock("toolu_1", [TextBlock("a.py\nb.py")])]),
        ],
    )
    assert tokens == count_request(request, get_encoding("o200k_base"))
    # the repeated sentence is 12 o200k tokens, not its 72 characters / 4
    assert 40 * 12 < tokens < 40 * 12 + 120
    old, method = count(url, "gpt-old")
    assert method == "tiktoken:cl100k_base" and abs(old - tokens) < 60


def test_other_models_and_a_failed_upstream_count_are_estimated(gateway: tuple[str, str]) -> None:
    url, _ = gateway
    tokens, method = count(url, "qwen")
    assert method == "estimated" and tokens > len(TEXT) // 4
    fallback, method = count(url, "unreachable")
    assert method == "estimated" and fallback > len(TEXT) // 4


def test_models_list_carries_context_window_and_max_output(gateway: tuple[str, str]) -> None:
    url, _ = gateway
    listed = {m.id: m for m in openai.OpenAI(base_url=f"{url}/v1", api_key="k").models.list().data}
    assert listed["sonnet"].context_window == 200000 and listed["sonnet"].max_output_tokens == 64000
    assert listed["gpt"].context_length == 128000 and listed["gpt"].max_output_tokens == 16384
    assert listed["qwen"].context_window == 32768 and listed["qwen"].max_output_tokens == 8192
    assert "context_window" not in listed["via-chat"].model_extra  # an unknown model claims nothing
    page = {m.id: m for m in anthropic.Anthropic(base_url=url, api_key="k").models.list().data}
    assert page["sonnet"].max_input_tokens == 200000 and page["sonnet"].max_tokens == 64000
    assert page["qwen"].max_input_tokens == 32768 and page["via-chat"].max_input_tokens is None


def test_count_for_an_unknown_model_is_a_404_in_anthropics_shape(gateway: tuple[str, str]) -> None:
    url, _ = gateway
    with pytest.raises(anthropic.NotFoundError, match="not found"):
        anthropic.Anthropic(base_url=url, api_key="k", max_retries=0).messages.count_tokens(
            model="nope", messages=[{"role": "user", "content": "x"}]
        )
