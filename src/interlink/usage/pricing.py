"""`Pricing`: what a request cost in USD, from its token counts.

Prices are USD per million tokens. The config's `pricing:` entries win over the built-in table;
within each, an exact name wins over a pattern, and patterns are tried in the order written
(the built-in table lists specific patterns before broad ones). A model with no price costs 0.0,
so spend on it is visible in the ledger's token counts but never blocks a budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from interlink.core.model_ids import base_model_id

if TYPE_CHECKING:
    from collections.abc import Mapping

    from interlink.config.settings import PriceConfig
    from interlink.core.response import Usage


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens. A cache tier left unset costs the plain input price (never less
    than the provider would charge, so budgets do not under-count)."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None

    def cost(self, usage: Usage) -> float:
        cache_read = self.input if self.cache_read is None else self.cache_read
        cache_write = self.input if self.cache_write is None else self.cache_write
        total = (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_read_tokens * cache_read
            + usage.cache_write_tokens * cache_write
        )
        return total / 1_000_000


def _anthropic(input_: float, output: float) -> Price:
    # Cache reads bill at 0.1x the input price, 5-minute cache writes at 1.25x.
    return Price(input_, output, cache_read=round(input_ * 0.1, 6), cache_write=round(input_ * 1.25, 6))


def _openai(input_: float, output: float, cached: float) -> Price:
    # OpenAI bills no premium for writing the cache: a write is a plain input token.
    return Price(input_, output, cache_read=cached, cache_write=input_)


# List prices (USD per million tokens) as published by each provider.
BUILTIN: tuple[tuple[str, Price], ...] = (
    # Anthropic
    ("claude-opus-4-5*", _anthropic(5.0, 25.0)),
    ("claude-opus-4*", _anthropic(15.0, 75.0)),
    ("claude-sonnet-4*", _anthropic(3.0, 15.0)),
    ("claude-haiku-4*", _anthropic(1.0, 5.0)),
    ("claude-3-5-haiku*", _anthropic(0.8, 4.0)),
    # OpenAI
    ("gpt-4o-mini*", _openai(0.15, 0.60, 0.075)),
    ("gpt-4o", _openai(2.50, 10.0, 1.25)),
    ("gpt-4o-2024-08-06", _openai(2.50, 10.0, 1.25)),
    ("gpt-4o-2024-11-20", _openai(2.50, 10.0, 1.25)),
    ("gpt-4.1-nano*", _openai(0.10, 0.40, 0.025)),
    ("gpt-4.1-mini*", _openai(0.40, 1.60, 0.10)),
    ("gpt-4.1*", _openai(2.0, 8.0, 0.50)),
    ("gpt-5-nano*", _openai(0.05, 0.40, 0.005)),
    ("gpt-5-mini*", _openai(0.25, 2.0, 0.025)),
    ("gpt-5-pro*", Price(15.0, 120.0)),
    ("gpt-5.2*", _openai(1.75, 14.0, 0.175)),
    ("gpt-5*", _openai(1.25, 10.0, 0.125)),
    ("o3", _openai(2.0, 8.0, 0.50)),
    ("o3-2025-04-16", _openai(2.0, 8.0, 0.50)),
    ("o4-mini*", _openai(1.10, 4.40, 0.275)),
    # DeepSeek (V3.2 pricing; chat and reasoner cost the same; a cache hit is an input read)
    ("deepseek-chat", Price(0.28, 0.42, cache_read=0.028, cache_write=0.28)),
    ("deepseek-reasoner", Price(0.28, 0.42, cache_read=0.028, cache_write=0.28)),
)


def _lookup(table: tuple[tuple[str, Price], ...], name: str) -> Price | None:
    for pattern, price in table:
        if pattern == name:
            return price
    for pattern, price in table:
        if fnmatchcase(name, pattern):
            return price
    return None


class Pricing:
    """`Pricing(config.pricing)`; `cost([public name, upstream id], usage) -> USD`."""

    def __init__(self, overrides: Mapping[str, PriceConfig] | None = None) -> None:
        self._overrides = tuple(
            (pattern, Price(p.input, p.output, p.cache_read, p.cache_write)) for pattern, p in (overrides or {}).items()
        )
        self._cache: dict[tuple[str, ...], Price | None] = {}

    def price(self, model_names: list[str] | tuple[str, ...]) -> Price | None:
        """The price of the first name the config prices, else the first the built-in table does."""
        names = tuple(n for n in model_names if n)
        if names not in self._cache:
            # Bedrock and Vertex ids priced as the vendor's model (list prices are the same)
            lookup = names + tuple(b for b in (base_model_id(n) for n in names) if b not in names)
            found = None
            for table in (self._overrides, BUILTIN):
                found = next((p for p in (_lookup(table, n) for n in lookup) if p is not None), None)
                if found is not None:
                    break
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[names] = found
        return self._cache[names]

    def cost(self, model_names: list[str] | tuple[str, ...], usage: Usage) -> float:
        price = self.price(model_names)
        return 0.0 if price is None else price.cost(usage)
