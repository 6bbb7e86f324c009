"""Circuit breakers: a deployment that keeps failing is skipped for a while, then probed.

closed → (N consecutive failures) → open for `cooldown` s → half-open: one request probes it →
success closes it, failure opens it again with a doubled cooldown (capped). Only failures that
say something about the deployment count (retryable kinds: 5xx, 529, timeouts, connection);
a client's 400 does not.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class BreakerState:
    failures: int = 0
    open_until: float = 0.0
    cooldown: float = 0.0
    probing: bool = False


class Breakers:
    def __init__(
        self,
        *,
        threshold: int = 5,
        cooldown: float = 10.0,
        max_cooldown: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.base_cooldown = cooldown
        self.max_cooldown = max_cooldown
        self._clock = clock
        self._states: dict[str, BreakerState] = {}

    def state(self, key: str) -> str:
        s = self._states.get(key)
        if s is None or s.open_until == 0.0:
            return "closed"
        if self._clock() < s.open_until:
            return "open"
        return "half-open"

    def allow(self, key: str) -> bool:
        """May a request go to `key` now? In half-open state only one probe at a time."""
        state = self.state(key)
        if state == "closed":
            return True
        if state == "open":
            return False
        s = self._states[key]
        if s.probing:
            return False
        s.probing = True
        return True

    def success(self, key: str) -> None:
        self._states.pop(key, None)

    def failure(self, key: str) -> None:
        s = self._states.setdefault(key, BreakerState())
        s.failures += 1
        was_probe = s.probing
        s.probing = False
        if was_probe or s.failures >= self.threshold:
            s.cooldown = min(self.max_cooldown, s.cooldown * 2 if s.cooldown else self.base_cooldown)
            s.open_until = self._clock() + s.cooldown
