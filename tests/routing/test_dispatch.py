"""The attempt loop against a real emulator: budgets, retry-after, failover and breakers."""

from __future__ import annotations

import time

import pytest

from interlink.config.loader import parse_config
from interlink.core import ChatRequest, ErrorKind, GatewayError, Message, TextBlock
from interlink.routing.catalog import Catalog
from interlink.routing.dispatch import Dispatcher, Outcome
from interlink.routing.transport import Transport
from interlink.testing.emulator import run_emulator


def dispatcher(base_url: str, retry: dict, **models: dict) -> Dispatcher:
    config = parse_config(
        {
            "providers": {
                "a": {"kind": "openai-chat", "base_url": f"{base_url}/v1"},
                "b": {"kind": "anthropic", "base_url": base_url},
            },
            "models": {"m": {"provider": "a", "model": "gpt-emu"}, **models},
            "defaults": {"retry": retry},
        },
        "test",
    )
    return Dispatcher(Catalog(config), Transport())


def request(model: str = "m") -> ChatRequest:
    return ChatRequest(model=model, messages=[Message("user", [TextBlock("hi")])], max_tokens=50)


async def test_budget_in_attempts_is_a_hard_limit() -> None:
    async with run_emulator() as emu:
        emu.set_fault("status_529", times=50)
        d = dispatcher(emu.base_url, {"attempts": 4, "budget_seconds": 30, "backoff_base": 0.01, "backoff_max": 0.02})
        with pytest.raises(GatewayError) as info:
            await d.complete(request(), d.catalog.resolve("m"))
        assert info.value.kind is ErrorKind.OVERLOADED
        assert len(emu.model_requests()) == 4
        assert "4 attempts" in info.value.message
        await d.transport.close()


async def test_budget_in_seconds_stops_retrying() -> None:
    async with run_emulator() as emu:
        emu.set_fault("status_500", times=50)
        d = dispatcher(emu.base_url, {"attempts": 20, "budget_seconds": 0.6, "backoff_base": 0.2, "backoff_max": 0.2})
        started = time.monotonic()
        with pytest.raises(GatewayError):
            await d.complete(request(), d.catalog.resolve("m"))
        assert time.monotonic() - started < 1.0
        assert 1 < len(emu.model_requests()) < 20
        await d.transport.close()


async def test_retry_after_beyond_the_cap_fails_over_at_once() -> None:
    async with run_emulator() as emu:
        emu.set_fault("status_429", times=1)  # retry-after: 1 s, more than the 0.5 s cap below
        d = dispatcher(
            emu.base_url,
            {"attempts": 3, "budget_seconds": 10, "max_retry_after": 0.5},
            pair={"deployments": [{"provider": "a", "model": "gpt-emu"}, {"provider": "b", "model": "claude-emu"}]},
        )
        d.rng.seed(1)
        route = d.catalog.resolve("pair")
        started = time.monotonic()
        response, outcome = await d.complete(request("pair"), route)
        assert time.monotonic() - started < 0.5
        assert [a.outcome for a in outcome.attempts] == ["429", "ok"]
        assert outcome.attempts[0].provider != outcome.attempts[1].provider
        assert "you said: hi" in response.content[0].text
        await d.transport.close()


async def test_stream_retries_an_in_stream_error_before_content() -> None:
    async with run_emulator() as emu:
        emu.set_fault("in_stream_error_first", times=1)
        d = dispatcher(emu.base_url, {"attempts": 3, "backoff_base": 0.01})
        outcome = Outcome()
        items = [item async for item in d.stream(request(), d.catalog.resolve("m"), outcome)]
        assert [a.outcome for a in outcome.attempts] == ["api_error", "ok"]
        assert len(emu.model_requests()) == 2
        assert items
        await d.transport.close()


async def test_open_breaker_sends_traffic_elsewhere() -> None:
    async with run_emulator() as emu:
        d = dispatcher(
            emu.base_url,
            {"attempts": 1, "budget_seconds": 10},
            pair={"deployments": [{"provider": "a", "model": "gpt-emu"}, {"provider": "b", "model": "claude-emu"}]},
        )
        for _ in range(d.breakers.threshold):
            d.breakers.failure("a/gpt-emu")
        route = d.catalog.resolve("pair")
        for _ in range(5):
            _, outcome = await d.complete(request("pair"), route)
            assert [str(a) for a in outcome.attempts] == ["b:ok"]
        await d.transport.close()
