"""In-process rate limits for a single gateway process (the default without `redis_url`).

Owns the GCRA state (see `interlink.limits` for why GCRA) in plain dicts keyed by key id, and the
per-key count of open streams. Asyncio-safe because no method awaits between reading and writing
its state: each check-and-update runs to completion on the event loop without interleaving.
Limits are per process: two replicas each with a MemoryLimiter each allow the full rate, which is
what `redis_url` is for.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from interlink.limits import (
    WINDOW_SECONDS,
    Release,
    Reservation,
    charge_for,
    requests_refused,
    streams_refused,
    tokens_refused,
)

# Float sums of 60/rate can land a hair above the window (7 × 60/7 > 60); a refusal for less
# than this would be a rounding artefact, not a real over-limit.
_TOLERANCE = 1e-6
_SWEEP_EVERY = 60.0


class _Gcra:
    """One family of buckets (requests or tokens): key → theoretical arrival time (clock seconds)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._tat: dict[str, float] = {}
        self._last_sweep = clock()

    def take(self, key: str, rate: int, amount: int) -> float | None:
        """Charge `amount` against `rate`/minute; None when admitted, else seconds to wait."""
        now = self._clock()
        self._sweep(now)
        interval = WINDOW_SECONDS / rate
        tat = max(self._tat.get(key, now), now)
        new_tat = tat + amount * interval
        allow_at = new_tat - WINDOW_SECONDS
        if allow_at - now > _TOLERANCE:
            return allow_at - now
        self._tat[key] = new_tat
        return None

    def adjust(self, key: str, rate: int, delta: int) -> None:
        """Charge (delta > 0) or refund (delta < 0) without an admission check."""
        now = self._clock()
        interval = WINDOW_SECONDS / rate
        tat = self._tat.get(key, now)
        # A charge starts from now if the bucket is full; a refund can never fill it beyond full.
        new_tat = max(tat, now) + delta * interval if delta > 0 else tat + delta * interval
        if new_tat <= now:
            self._tat.pop(key, None)
        else:
            self._tat[key] = new_tat

    def _sweep(self, now: float) -> None:
        # A key whose arrival time has passed holds a full bucket, same as no entry: drop it so
        # a gateway serving many short-lived keys does not grow without bound.
        if now - self._last_sweep < _SWEEP_EVERY:
            return
        self._last_sweep = now
        for key in [k for k, tat in self._tat.items() if tat <= now]:
            del self._tat[key]

    def __len__(self) -> int:
        return len(self._tat)


class MemoryLimiter:
    """The `Limiter` for one process. `clock` (monotonic seconds) is injectable for tests."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._requests = _Gcra(clock)
        self._tokens = _Gcra(clock)
        self._streams: dict[str, int] = {}

    async def check_request(self, key_id: str, rpm: int | None, *, name: str | None = None) -> None:
        if rpm is None:
            return
        if rpm <= 0:
            raise requests_refused(key_id, name, rpm, None)
        wait = self._requests.take(key_id, rpm, 1)
        if wait is not None:
            raise requests_refused(key_id, name, rpm, wait)

    async def reserve_tokens(
        self, key_id: str, tpm: int | None, estimate: int, *, name: str | None = None
    ) -> Reservation:
        if tpm is None:
            return Reservation(key_id, None, 0, name)
        if tpm <= 0:
            raise tokens_refused(key_id, name, tpm, estimate, None)
        charge = charge_for(tpm, estimate)
        wait = self._tokens.take(key_id, tpm, charge)
        if wait is not None:
            raise tokens_refused(key_id, name, tpm, estimate, wait)
        return Reservation(key_id, tpm, charge, name)

    async def settle(self, reservation: Reservation, actual_tokens: int) -> None:
        if reservation.settled or not reservation.tpm or reservation.tpm <= 0:
            reservation.settled = True
            return
        reservation.settled = True
        delta = max(0, int(actual_tokens)) - reservation.tokens
        if delta:
            self._tokens.adjust(reservation.key_id, reservation.tpm, delta)

    async def open_stream(self, key_id: str, limit: int | None, *, name: str | None = None) -> Release:
        if limit is None:
            return Release()
        current = self._streams.get(key_id, 0)
        if current >= limit:
            raise streams_refused(key_id, name, limit)
        self._streams[key_id] = current + 1

        async def release() -> None:
            left = self._streams.get(key_id, 0) - 1
            if left > 0:
                self._streams[key_id] = left
            else:
                self._streams.pop(key_id, None)

        return Release(release)

    def open_streams(self, key_id: str) -> int:
        """Streams currently open for the key (for tests and diagnostics)."""
        return self._streams.get(key_id, 0)

    async def ready(self) -> str | None:
        return None  # in-process: nothing to reach

    async def close(self) -> None:
        """Nothing to release; present so both limiters shut down the same way."""
