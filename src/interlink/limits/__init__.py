"""Per-key rate limits: requests/minute, tokens/minute and concurrent streams.

This package owns admission control for an authenticated key, nothing else (budgets in USD live in
`usage`). Two implementations share the contract below:

- `MemoryLimiter` (`limits.memory`): one process; the default.
- `RedisLimiter` (`limits.redis`): every replica pointed at one Redis shares the limits. Chosen by
  `create_limiter` when `config.redis_url` is set.

Contract (what `server/pipeline.py` calls):

    await limiter.check_request(key_id, rpm)                 # raises RATE_LIMIT past rpm/min
    res = await limiter.reserve_tokens(key_id, tpm, estimate) # raises RATE_LIMIT when spent
    ...
    await limiter.settle(res, actual_tokens)                  # refund or charge the difference
    release = await limiter.open_stream(key_id, max_streams)  # raises RATE_LIMIT past the limit
    async with release: ...      # or: try: ... finally: await release()

A `None` limit means "no check" and costs nothing. Every refusal is a
`GatewayError(ErrorKind.RATE_LIMIT, message, retry_after=seconds)` whose message names the limit,
the key and the wait, so the person reading it knows what to change or how long to wait.

Algorithm: GCRA (the generic cell-rate algorithm, i.e. a token bucket stored as a single
"theoretical arrival time") for both requests and tokens. Why GCRA rather than a sliding window:
its state is one number per key (a sliding-window log keeps one entry per request, which for a
tpm limit would mean one per token batch), the exact `retry_after` falls out of the same
arithmetic, and a token refund or an extra charge at `settle` is just moving that number, which a
window of timestamped entries cannot express cleanly. The burst is one minute's worth: a fresh
key may spend its whole `rpm` at once, then refills continuously at `rpm`/60 per second, so the
long-run rate is exactly the configured one and there is no fixed-window boundary to game.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from interlink.core.errors import ErrorKind, GatewayError

if TYPE_CHECKING:
    from interlink.config.settings import Config

__all__ = [
    "Limiter",
    "Release",
    "Reservation",
    "create_limiter",
    "requests_refused",
    "streams_refused",
    "tokens_refused",
]

WINDOW_SECONDS = 60.0
"""All rates are per minute."""


@dataclass
class Reservation:
    """Tokens taken from a key's minute by `reserve_tokens`, corrected later by `settle`.

    `tokens` is what was actually charged: 0 when there was no limit or the limiter failed open,
    so `settle` then charges the whole actual count. `settled` makes `settle` idempotent, since
    error paths may reach it twice.
    """

    key_id: str
    tpm: int | None
    tokens: int
    name: str | None = None
    settled: bool = False


class Release:
    """Gives back one concurrent-stream slot; usable as `async with` or awaited as `await release()`.

    Idempotent: a `finally` and an `async with` exit may both run it, and the slot must be freed
    exactly once.
    """

    __slots__ = ("_on_release", "_released")

    def __init__(self, on_release: Callable[[], Awaitable[None]] | None = None) -> None:
        self._on_release = on_release
        self._released = False

    @property
    def released(self) -> bool:
        return self._released

    async def __call__(self) -> None:
        if self._released:
            return
        self._released = True
        if self._on_release is not None:
            await self._on_release()

    async def __aenter__(self) -> Release:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self()


@runtime_checkable
class Limiter(Protocol):
    """What the request pipeline needs from a rate limiter (see the module docstring)."""

    async def check_request(self, key_id: str, rpm: int | None, *, name: str | None = None) -> None: ...

    async def reserve_tokens(
        self, key_id: str, tpm: int | None, estimate: int, *, name: str | None = None
    ) -> Reservation: ...

    async def settle(self, reservation: Reservation, actual_tokens: int) -> None: ...

    async def open_stream(self, key_id: str, limit: int | None, *, name: str | None = None) -> Release: ...

    async def close(self) -> None: ...

    async def ready(self) -> str | None:
        """None when the limiter's backend answers (or it has none), else what is wrong."""
        ...


def create_limiter(config: Config) -> Limiter:
    """Redis-backed when `config.redis_url` is set (limits shared by every replica), else in-process."""
    # Imported here so a deployment without Redis never imports the redis client at all.
    if config.redis_url:
        from interlink.limits.redis import RedisLimiter

        return RedisLimiter(config.redis_url)
    from interlink.limits.memory import MemoryLimiter

    return MemoryLimiter()


# --- refusals: one wording for both implementations -------------------------------------------


def _who(key_id: str, name: str | None) -> str:
    return f"key '{name or key_id}'"


def _seconds(wait: float) -> str:
    return f"{max(1, math.ceil(wait))} s"


def requests_refused(key_id: str, name: str | None, rpm: int, wait: float | None) -> GatewayError:
    if wait is None:
        return GatewayError(
            ErrorKind.RATE_LIMIT,
            f"rate limit: {_who(key_id, name)} may send no requests (rpm is {rpm})",
            retryable=False,
        )
    return GatewayError(
        ErrorKind.RATE_LIMIT,
        f"rate limit: {rpm} requests/min for {_who(key_id, name)}; retry in {_seconds(wait)}",
        retry_after=wait,
    )


def tokens_refused(key_id: str, name: str | None, tpm: int, needed: int, wait: float | None) -> GatewayError:
    if wait is None:
        return GatewayError(
            ErrorKind.RATE_LIMIT, f"rate limit: {_who(key_id, name)} may use no tokens (tpm is {tpm})", retryable=False
        )
    return GatewayError(
        ErrorKind.RATE_LIMIT,
        f"rate limit: {tpm} tokens/min for {_who(key_id, name)} (this request needs about {needed}); "
        f"retry in {_seconds(wait)}",
        retry_after=wait,
    )


STREAM_RETRY_SECONDS = 1.0
"""A stream slot frees whenever any open stream ends, which cannot be predicted; a short hint."""


def streams_refused(key_id: str, name: str | None, limit: int) -> GatewayError:
    if limit <= 0:
        return GatewayError(
            ErrorKind.RATE_LIMIT, f"rate limit: {_who(key_id, name)} may open no streams", retryable=False
        )
    return GatewayError(
        ErrorKind.RATE_LIMIT,
        f"rate limit: {limit} concurrent {'stream' if limit == 1 else 'streams'} for {_who(key_id, name)} "
        f"{'is' if limit == 1 else 'are'} already open; "
        f"retry in {_seconds(STREAM_RETRY_SECONDS)} or when one of them finishes",
        retry_after=STREAM_RETRY_SECONDS,
    )


def charge_for(tpm: int, estimate: int) -> int:
    """Tokens to take at reservation: at least 1, at most one whole minute.

    Capped at `tpm` because a request estimated above the whole minute could otherwise never be
    admitted; it is admitted on a full bucket and `settle` charges the rest as debt.
    """
    return max(1, min(int(estimate), tpm))
