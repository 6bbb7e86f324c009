"""The emulator's prompt-cache mode applies Anthropic's rules (`interlink.testing.emulator_cache`):
writes at breakpoints above the model's minimum, reads of the longest cached prefix within 20
blocks of a breakpoint, lifetimes, and the 400s for markers the real API refuses."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from interlink.testing.emulator import run_emulator
from interlink.testing.emulator_cache import CacheProblem, PromptCache, minimum_tokens

MARK = {"type": "ephemeral"}
LONG = "x" * 8000  # 2,000 emulator tokens


def body(*turns: str, marks: tuple[int, ...] = (-1,), model: str = "claude-sonnet-4-5", **extra: Any) -> dict:
    """System LONG, then one user/assistant message per turn; `marks` are the turns marked."""
    messages = []
    for i, text in enumerate(turns):
        block: dict[str, Any] = {"type": "text", "text": text}
        if i in marks or i - len(turns) in marks:
            block["cache_control"] = dict(MARK)
        messages.append({"role": "user" if i % 2 == 0 else "assistant", "content": [block]})
    return {"model": model, "system": LONG, "messages": messages, **extra}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_write_then_read_the_same_prefix_and_the_rest_is_input() -> None:
    cache = PromptCache()
    first = cache.apply(body("a" * 400))
    assert (first.total_tokens, first.read_tokens, first.write_tokens) == (2100, 0, 2100)
    second = cache.apply(body("a" * 400, "b" * 40, "c" * 40))  # marked: the last turn
    assert (second.read_tokens, second.write_tokens, second.total_tokens) == (2100, 20, 2120)


def test_below_the_models_minimum_nothing_is_cached() -> None:
    cache = PromptCache()
    small = {
        "model": "claude-sonnet-4-5",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "x" * 4000, "cache_control": MARK}]}],
    }
    assert cache.apply(small).write_tokens == 0 and cache.apply(small).read_tokens == 0  # 1,000 < 1,024
    assert minimum_tokens("claude-haiku-4-5") == 4096 and minimum_tokens("claude-opus-4-1") == 1024
    haiku = body("a", model="claude-haiku-4-5")  # 2,000 tokens: over Sonnet's minimum, under Haiku 4.5's
    assert cache.apply(haiku).write_tokens == 0


def test_reads_look_back_at_most_twenty_blocks_from_a_breakpoint() -> None:
    cache = PromptCache()
    turns = [f"turn {i}" for i in range(30)]
    cache.apply(body(*turns[:1]))
    near = cache.apply(body(*turns[:21], marks=(-1,)))  # 20 blocks after the cached prefix
    assert near.read_tokens > 0
    cache.clear()
    cache.apply(body(*turns[:1]))
    far = cache.apply(body(*turns[:23], marks=(-1,)))  # 22 blocks after it: out of reach
    assert far.read_tokens == 0
    cache.clear()
    cache.apply(body(*turns[:1]))
    both = cache.apply(body(*turns[:23], marks=(0, -1)))  # a breakpoint where the last one was finds it
    assert both.read_tokens > 0


def test_entries_expire_after_five_minutes_unless_read_and_1h_lasts_an_hour() -> None:
    clock = Clock()
    cache = PromptCache(clock)
    cache.apply(body("a"))
    clock.now += 290
    assert cache.apply(body("a")).read_tokens > 0  # a hit refreshes
    clock.now += 290
    assert cache.apply(body("a")).read_tokens > 0
    clock.now += 301
    assert cache.apply(body("a")).read_tokens == 0
    hour = body("fresh")
    hour["messages"][0]["content"][0]["cache_control"] = {"type": "ephemeral", "ttl": "1h"}
    assert cache.apply(hour).written_by_ttl["1h"] > 0
    clock.now += 3000
    assert cache.apply(hour).read_tokens > 0


def test_models_have_separate_caches() -> None:
    cache = PromptCache()
    cache.apply(body("a"))
    assert cache.apply(body("a", model="claude-opus-4-1")).read_tokens == 0


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (
            {
                "cache_control": MARK,
                "tools": [{"name": f"t{i}", "input_schema": {}, "cache_control": MARK} for i in range(4)],
            },
            "A maximum of 4 blocks",
        ),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "content": [{"type": "thinking", "thinking": "t", "signature": "s", "cache_control": MARK}],
                    }
                ]
            },
            "Extra inputs are not permitted",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": "", "cache_control": MARK}]}]},
            "empty text blocks",
        ),
        (
            {"system": [{"type": "text", "text": "s", "cache_control": {"type": "persistent"}}]},
            "Input should be 'ephemeral'",
        ),
    ],
    ids=["five", "thinking", "empty", "type"],
)
def test_markers_the_api_refuses(patch: dict, message: str) -> None:
    with pytest.raises(CacheProblem, match=message):
        PromptCache().apply({**body("a"), **patch})


async def test_the_emulator_answers_a_400_and_usage_through_the_sdk() -> None:
    async with run_emulator(port=0) as emu:
        client = anthropic.AsyncAnthropic(base_url=emu.base_url, api_key="k", max_retries=0)
        five = [{"name": f"t{i}", "input_schema": {"type": "object"}, "cache_control": MARK} for i in range(5)]
        with pytest.raises(anthropic.BadRequestError, match="A maximum of 4 blocks with cache_control"):
            await client.messages.create(
                model="m", max_tokens=5, tools=five, messages=[{"role": "user", "content": "x"}]
            )
        kwargs = {
            "model": "claude-sonnet-4-5@prompt_cache=1",
            "max_tokens": 5,
            "system": [{"type": "text", "text": LONG, "cache_control": MARK}],
        }
        first = await client.messages.create(**kwargs, messages=[{"role": "user", "content": "x"}])
        async with client.messages.stream(**kwargs, messages=[{"role": "user", "content": "y"}]) as stream:
            second = await stream.get_final_message()
        assert (
            first.usage.cache_creation_input_tokens == 2000
            and first.usage.cache_creation.ephemeral_5m_input_tokens == 2000
        )
        assert second.usage.cache_read_input_tokens == 2000 and second.usage.input_tokens == 0  # "y" is 1 char
        off = await client.messages.create(
            **{**kwargs, "model": "claude-sonnet-4-5"}, messages=[{"role": "user", "content": "x"}]
        )
        assert off.usage.cache_read_input_tokens == 0  # the mode is per request (or --prompt-cache)
