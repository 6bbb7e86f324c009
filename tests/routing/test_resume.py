"""Opt-in continuation: a text stream that breaks mid-answer is resumed in the same stream."""

from __future__ import annotations

from interlink.config.loader import parse_config
from interlink.core import ChatRequest, Message, StreamError, TextBlock
from interlink.core.assemble import Assembler
from interlink.routing.catalog import Catalog
from interlink.routing.dispatch import Dispatcher, Outcome
from interlink.routing.transport import Transport
from interlink.testing.emulator import run_emulator

PROMPT = "a long enough question so that the answer streams in many chunks"


def dispatcher(base_url: str, model: str, **model_fields: object) -> Dispatcher:
    config = parse_config(
        {
            "providers": {"a": {"kind": "anthropic", "base_url": base_url}},
            "models": {"m": {"provider": "a", "model": model, "resume": True, **model_fields}},
            "defaults": {"retry": {"attempts": 2, "backoff_base": 0.01}},
        },
        "test",
    )
    return Dispatcher(Catalog(config), Transport())


async def collect(d: Dispatcher, outcome: Outcome) -> Assembler:
    request = ChatRequest(model="m", messages=[Message("user", [TextBlock(PROMPT)])], max_tokens=100, stream=True)
    assembler = Assembler()
    async for _, events in d.stream(request, d.catalog.resolve("m"), outcome):
        for event in events:
            assembler.feed(event)
    return assembler


async def test_broken_text_stream_is_continued_seamlessly() -> None:
    async with run_emulator(delay_ms=10) as emu:  # chunks arrive one by one, as over a network
        emu.set_fault("close_mid_stream", times=1)
        d = dispatcher(emu.base_url, "claude-sonnet-4-5")  # a model that accepts prefill
        outcome = Outcome()
        assembler = await collect(d, outcome)
        response = assembler.response()
        assert response.content[0].text == f"Hello from the emulator (anthropic): you said: {PROMPT[:60]}"
        assert len(response.content) == 1
        assert outcome.resumed == 1
        prefill = emu.model_requests()[-1].body["messages"][-1]
        assert prefill["role"] == "assistant" and response.content[0].text.startswith(prefill["content"][0]["text"])
        await d.transport.close()


async def test_no_resume_for_models_without_prefill() -> None:
    async with run_emulator(delay_ms=10) as emu:  # chunks arrive one by one, as over a network
        emu.set_fault("close_mid_stream", times=1)
        d = dispatcher(emu.base_url, "claude-emu")  # unknown Anthropic model: no prefill
        outcome = Outcome()
        assembler = await collect(d, outcome)
        assert assembler.error is not None and outcome.resumed == 0
        await d.transport.close()


async def test_never_resumes_tool_call_json() -> None:
    async with run_emulator(delay_ms=10) as emu:  # chunks arrive one by one, as over a network
        emu.set_fault("close_mid_stream", times=1)
        d = dispatcher(emu.base_url, "claude-sonnet-4-5")
        request = ChatRequest(
            model="m",
            messages=[Message("user", [TextBlock("run it")])],
            max_tokens=100,
            stream=True,
            tools=[
                __import__("interlink.core", fromlist=["ToolSpec"]).ToolSpec(
                    name="bash",
                    parameters={
                        "type": "object",
                        "properties": {"command": {"type": "string"}},
                        "required": ["command"],
                    },
                )
            ],
        )
        outcome = Outcome()
        events = [e async for _, batch in d.stream(request, d.catalog.resolve("m"), outcome) for e in batch]
        assert isinstance(events[-1], StreamError) or outcome.resumed == 0
        assert outcome.resumed == 0
        await d.transport.close()
