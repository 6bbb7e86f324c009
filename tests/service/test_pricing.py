"""Pricing: built-in table, patterns, cache tiers, config overrides."""

from __future__ import annotations

import pytest

from interlink.config.settings import PriceConfig
from interlink.core.response import Usage
from interlink.usage.pricing import Pricing

M = 1_000_000


@pytest.mark.parametrize(
    ("model", "input_", "output"),
    [
        ("claude-sonnet-4-5-20250929", 3.0, 15.0),
        ("claude-opus-4-1-20250805", 15.0, 75.0),
        ("claude-opus-4-5-20251101", 5.0, 25.0),
        ("claude-haiku-4-5", 1.0, 5.0),
        ("claude-3-5-haiku-20241022", 0.8, 4.0),
        ("gpt-4o", 2.5, 10.0),
        ("gpt-4o-mini", 0.15, 0.6),
        ("gpt-4.1", 2.0, 8.0),
        ("gpt-4.1-mini", 0.4, 1.6),
        ("gpt-5", 1.25, 10.0),
        ("gpt-5-mini", 0.25, 2.0),
        ("o3", 2.0, 8.0),
        ("o4-mini", 1.1, 4.4),
        ("deepseek-chat", 0.28, 0.42),
        ("deepseek-reasoner", 0.28, 0.42),
    ],
)
def test_builtin_list_prices(model: str, input_: float, output: float) -> None:
    pricing = Pricing()
    assert pricing.cost([model], Usage(input_tokens=M)) == pytest.approx(input_)
    assert pricing.cost([model], Usage(output_tokens=M)) == pytest.approx(output)


def test_anthropic_cache_tiers() -> None:
    cost = Pricing().cost(["claude-sonnet-4-20250514"], Usage(cache_read_tokens=M, cache_write_tokens=M))
    assert cost == pytest.approx(3.0 * 0.1 + 3.0 * 1.25)


def test_openai_cached_input() -> None:
    usage = Usage.from_openai(prompt_tokens=2 * M, completion_tokens=0, cached=M)
    assert Pricing().cost(["gpt-4o"], usage) == pytest.approx(2.5 + 1.25)
    assert Pricing().cost(["deepseek-chat"], Usage(cache_read_tokens=M)) == pytest.approx(0.028)


def test_first_priced_name_wins_and_unknown_is_free() -> None:
    pricing = Pricing()
    assert pricing.cost(["my-alias", "gpt-4o"], Usage(input_tokens=M)) == pytest.approx(2.5)
    assert pricing.cost(["local-llama"], Usage(input_tokens=M, output_tokens=M)) == 0.0
    assert pricing.price(["local-llama"]) is None


def test_config_overrides_first_exact_then_pattern() -> None:
    pricing = Pricing(
        {
            "gpt-4o*": PriceConfig(input=1.0, output=2.0),
            "gpt-4o": PriceConfig(input=9.0, output=9.0, cache_read=0.5),
            "fast": PriceConfig(input=0.1, output=0.2),
        }
    )
    assert pricing.cost(["gpt-4o"], Usage(input_tokens=M, cache_read_tokens=M)) == pytest.approx(9.5)
    assert pricing.cost(["gpt-4o-mini"], Usage(input_tokens=M)) == pytest.approx(1.0)
    # An override for any of the names beats the built-in price of another.
    assert pricing.cost(["claude-haiku-4-5", "fast"], Usage(input_tokens=M)) == pytest.approx(0.1)
    # Unset cache tiers cost the input price: never an under-count.
    assert pricing.cost(["fast"], Usage(cache_write_tokens=M)) == pytest.approx(0.1)
