"""Prompt caching for clients that cannot ask for it: a 10-turn coding session from the official
openai SDK (Chat and Responses, stream and not) through a real `interlink serve` to an emulated
Anthropic upstream that applies Anthropic's caching rules (`interlink.testing.emulator_cache`).

With automatic breakpoints (the default) every turn after the first reads back exactly the prefix
the previous turn wrote, the client sees it in its API's own usage field, and the session costs a
fraction of the same session with `auto_cache: false`. Anthropic clients' own `cache_control`
goes upstream untouched. `benchmarks/prompt_cache.py` prints the same measurement as a table.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import anthropic
import httpx
import openai
import pytest

from interlink.core import Usage
from interlink.usage.pricing import Pricing
from tests.contract.conftest import free_port, start_emulator, start_gateway, stop, write_config

UPSTREAM_MODEL = "claude-sonnet-4-5"  # priced by the built-in table: $3 in, $0.30 cache read, $3.75 write
TURNS = 10
MODELS = f"""
  cached-sonnet: {{provider: emu-anthropic, model: {UPSTREAM_MODEL}}}
  uncached-sonnet: {{provider: emu-anthropic, model: {UPSTREAM_MODEL}, auto_cache: false}}
"""
TOOLS = [
    ("read_file", "Read a file of the project and return its text, with line numbers.", {"path": "string"}),
    ("run_shell", "Run a shell command in the project directory and return its output.", {"command": "string"}),
    ("apply_edit", "Replace one exact snippet of a file with new text.", {"path": "string", "old": "string"}),
]


def system_prompt(tag: str) -> str:
    """A coding agent's system prompt of ~3,000 emulator tokens, unique per session."""
    rules = [
        f"{n}. When you change code, keep the project's style, run its tests, and explain what you changed and why."
        for n in range(1, 111)
    ]
    return f"You are a careful coding assistant working on project {tag}.\n" + "\n".join(rules)


def user_turn(n: int) -> str:
    return f"Turn {n}: look at module_{n}.py and tell me whether its error handling is right. " + (
        "Mind the retries, the timeouts and what the caller sees when the upstream fails. " * 6
    )


FILE_TEXT = "\n".join(f"{i:4d}  def handler_{i}(request): return await upstream.call(request)" for i in range(40))


@dataclass
class Session:
    usages: list[Usage] = field(default_factory=list)

    def cost(self) -> float:
        pricing = Pricing()
        return sum(pricing.cost([UPSTREAM_MODEL], u) for u in self.usages)

    def totals(self) -> dict[str, int]:
        return {
            "prompt": sum(u.prompt_tokens for u in self.usages),
            "input": sum(u.input_tokens for u in self.usages),
            "cache_read": sum(u.cache_read_tokens for u in self.usages),
            "cache_write": sum(u.cache_write_tokens for u in self.usages),
        }


def _chat_tools() -> list[dict]:
    return [
        {
            "type": "function",
            "function": {
                "name": name,
                "description": text,
                "parameters": {"type": "object", "properties": {k: {"type": v} for k, v in props.items()}},
            },
        }
        for name, text, props in TOOLS
    ]


def _chat_usage(usage) -> Usage:
    details = usage.prompt_tokens_details
    cached = details.cached_tokens or 0
    written = details.cache_write_tokens or 0
    return Usage(usage.prompt_tokens - cached - written, usage.completion_tokens, cached, written)


def chat_session(gateway: str, model: str, tag: str, *, stream: bool) -> Session:
    """Ten requests as Aider/Cline make them: a tool call and its result, then questions."""
    client = openai.OpenAI(base_url=f"{gateway}/v1", api_key="sk-test", max_retries=0)
    messages: list[dict] = [
        {"role": "system", "content": system_prompt(tag)},
        {"role": "user", "content": user_turn(1)},
    ]
    session = Session()
    for n in range(2, TURNS + 2):
        message, usage = _chat_call(client, model, messages, stream)
        session.usages.append(_chat_usage(usage))
        messages.append(message)
        calls = message.get("tool_calls") or []
        for call in calls:
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": FILE_TEXT})
        if not calls:
            messages.append({"role": "user", "content": user_turn(n)})
    return session


def _chat_call(client: openai.OpenAI, model: str, messages: list[dict], stream: bool) -> tuple[dict, object]:
    if not stream:
        done = client.chat.completions.create(model=model, messages=messages, tools=_chat_tools())
        return done.choices[0].message.model_dump(exclude_none=True), done.usage
    text, calls, usage = "", {}, None
    for chunk in client.chat.completions.create(
        model=model, messages=messages, tools=_chat_tools(), stream=True, stream_options={"include_usage": True}
    ):
        usage = chunk.usage or usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            for call in choice.delta.tool_calls or []:
                entry = calls.setdefault(
                    call.index, {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
                )
                entry["id"] = call.id or entry["id"]
                entry["function"]["name"] += call.function.name or ""
                entry["function"]["arguments"] += call.function.arguments or ""
    message: dict = {"role": "assistant", "content": text}
    if calls:
        message["tool_calls"] = [calls[i] for i in sorted(calls)]
    return message, usage


def responses_session(gateway: str, model: str, tag: str, *, stream: bool) -> Session:
    """The same session as Codex makes it: instructions, function calls and outputs, store off."""
    client = openai.OpenAI(base_url=f"{gateway}/v1", api_key="sk-test", max_retries=0)
    tools = [
        {
            "type": "function",
            "name": name,
            "description": text,
            "parameters": {"type": "object", "properties": {k: {"type": v} for k, v in props.items()}},
        }
        for name, text, props in TOOLS
    ]
    items: list[dict] = [{"role": "user", "content": user_turn(1)}]
    session = Session()
    for n in range(2, TURNS + 2):
        kwargs = {"model": model, "instructions": system_prompt(tag), "input": items, "tools": tools, "store": False}
        if stream:
            with client.responses.stream(**kwargs) as events:
                response = events.get_final_response()
        else:
            response = client.responses.create(**kwargs)
        usage = response.usage
        details = usage.input_tokens_details
        written = details.cache_write_tokens
        session.usages.append(
            Usage(
                usage.input_tokens - details.cached_tokens - written,
                usage.output_tokens,
                details.cached_tokens,
                written,
            )
        )
        calls = [o for o in response.output if o.type == "function_call"]
        items += [o.model_dump(exclude_none=True) for o in response.output if o.type in ("message", "function_call")]
        items += [{"type": "function_call_output", "call_id": c.call_id, "output": FILE_TEXT} for c in calls]
        if not calls:
            items.append({"role": "user", "content": user_turn(n)})
    return session


SESSIONS = {"chat": chat_session, "responses": responses_session}


@dataclass
class CacheStack:
    gateway: str
    emulator: str

    def upstream_bodies(self) -> list[dict]:
        return [r["body"] for r in httpx.get(f"{self.emulator}/_emu/requests").json() if r["path"] == "/v1/messages"]

    def reset(self) -> None:
        httpx.post(f"{self.emulator}/_emu/reset").raise_for_status()


@pytest.fixture(scope="module")
def cache_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CacheStack]:
    root = tmp_path_factory.mktemp("prompt-cache")
    emu_port, gw_port = free_port(), free_port()
    emulator = start_emulator(emu_port, "--prompt-cache")
    emu_url = f"http://127.0.0.1:{emu_port}"
    write_config(root / "interlink.yaml", emu_url, models=MODELS)
    try:
        gateway = start_gateway(root / "interlink.yaml", gw_port, root / "gateway.log")
    except Exception:
        stop(emulator)
        raise
    yield CacheStack(f"http://127.0.0.1:{gw_port}", emu_url)
    stop(gateway)
    stop(emulator)


def markers(body: dict) -> list[str]:
    """Where a body carries cache_control: "tools.2", "system.0", "messages.3.content.1"."""
    found = [f"tools.{i}" for i, t in enumerate(body.get("tools") or []) if "cache_control" in t]
    system = body.get("system")
    found += [f"system.{i}" for i, b in enumerate(system if isinstance(system, list) else []) if "cache_control" in b]
    for i, m in enumerate(body.get("messages") or []):
        content = m["content"] if isinstance(m["content"], list) else []
        found += [f"messages.{i}.content.{j}" for j, b in enumerate(content) if "cache_control" in b]
    return found


@pytest.mark.parametrize("stream", [False, True], ids=["non-stream", "stream"])
@pytest.mark.parametrize("api", sorted(SESSIONS))
def test_ten_turn_session_reads_the_cache_every_turn(cache_stack: CacheStack, api: str, stream: bool) -> None:
    cache_stack.reset()
    run = SESSIONS[api]
    cached = run(cache_stack.gateway, "cached-sonnet", f"{api}-{stream}-1", stream=stream)
    bodies = cache_stack.upstream_bodies()
    plain = run(cache_stack.gateway, "uncached-sonnet", f"{api}-{stream}-2", stream=stream)

    assert len(cached.usages) == len(plain.usages) == TURNS
    # the same conversation either way: only how its prompt is billed differs
    assert [u.prompt_tokens for u in cached.usages] == [u.prompt_tokens for u in plain.usages]
    assert all(u.cache_read_tokens == u.cache_write_tokens == 0 for u in plain.usages)

    first = cached.usages[0]
    assert first.cache_read_tokens == 0 and first.cache_write_tokens > 3000  # tools + system + first turn
    for before, now in zip(cached.usages, cached.usages[1:], strict=False):
        # each turn reads exactly what the turn before wrote (its whole prompt up to the last user turn)
        assert now.cache_read_tokens == before.cache_read_tokens + before.cache_write_tokens
        assert 0 < now.cache_write_tokens < 800 and now.input_tokens == 0  # a turn or a tool result

    # what went upstream: tools, system and the last two user turns marked, within Anthropic's 4
    assert len(bodies) == TURNS
    for body in bodies:
        found = markers(body)
        assert len(found) <= 4
        assert found[:2] == [f"tools.{len(TOOLS) - 1}", "system.0"]
        user_turns = [i for i, m in enumerate(body["messages"]) if m["role"] == "user"]
        assert [int(f.split(".")[1]) for f in found[2:]] == user_turns[-2:]

    saving = 1 - cached.cost() / plain.cost()
    assert saving > 0.7, (cached.totals(), plain.totals(), cached.cost(), plain.cost())


def test_anthropic_clients_own_cache_control_goes_upstream_untouched(cache_stack: CacheStack) -> None:
    cache_stack.reset()
    client = anthropic.Anthropic(base_url=cache_stack.gateway, api_key="sk-test", max_retries=0)
    system = [
        {"type": "text", "text": "billing header, not cached"},
        {"type": "text", "text": system_prompt("claude-code"), "cache_control": {"type": "ephemeral", "ttl": "1h"}},
    ]
    messages = [
        {"role": "user", "content": [{"type": "text", "text": user_turn(1), "cache_control": {"type": "ephemeral"}}]},
        {"role": "assistant", "content": "Looking."},
        {"role": "user", "content": user_turn(2)},
    ]
    first = client.messages.create(model="cached-sonnet", max_tokens=100, system=system, messages=messages)
    second = client.messages.create(model="cached-sonnet", max_tokens=100, system=system, messages=messages)
    bodies = cache_stack.upstream_bodies()
    for body in bodies:
        assert body["system"] == system and body["messages"] == messages  # exactly as sent: no marker added
        assert markers(body) == ["system.1", "messages.0.content.0"]
    assert first.usage.cache_creation_input_tokens > 3000 and first.usage.cache_read_input_tokens == 0
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens


def test_anthropic_client_without_markers_gets_them_unless_the_model_turns_it_off(cache_stack: CacheStack) -> None:
    cache_stack.reset()
    client = anthropic.Anthropic(base_url=cache_stack.gateway, api_key="sk-test", max_retries=0)
    messages = [{"role": "user", "content": user_turn(1)}]
    kwargs = {"max_tokens": 100, "system": system_prompt("aider-anthropic"), "messages": messages}
    answers = [client.messages.create(model="cached-sonnet", **kwargs) for _ in range(2)]
    assert answers[1].usage.cache_read_input_tokens > 3000
    off = client.messages.create(model="uncached-sonnet", **kwargs)
    assert off.usage.cache_read_input_tokens == off.usage.cache_creation_input_tokens == 0
    bodies = cache_stack.upstream_bodies()
    assert markers(bodies[0]) == ["system.0", "messages.0.content.0"] and markers(bodies[2]) == []
    # the client's body is otherwise what it sent: the string system prompt became one marked block
    assert bodies[0]["system"] == [{"type": "text", "text": kwargs["system"], "cache_control": {"type": "ephemeral"}}]
