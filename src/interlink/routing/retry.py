"""When to try again, and how long to wait: classified retries with full-jitter backoff.

Only failures before the first byte reaches the client are retried; what is retryable is the
`GatewayError.retryable` field, decided where the error was classified, never here.
"""

from __future__ import annotations

import random

from interlink.config.settings import RetryConfig
from interlink.core import GatewayError


def backoff_delay(retry_number: int, policy: RetryConfig, rng: random.Random | None = None) -> float:
    """Full jitter: uniform in [0, min(cap, base · 2^n)] (AWS architecture blog's recommendation)."""
    ceiling = min(policy.backoff_max, policy.backoff_base * (2**retry_number))
    return (rng or random).uniform(0.0, ceiling)


def retry_delay(
    error: GatewayError, retry_number: int, policy: RetryConfig, rng: random.Random | None = None
) -> float | None:
    """Seconds to wait before retrying the same deployment, or None to move on.

    None when the error is not retryable, or when the upstream asks for a longer pause than
    `max_retry_after` (failing over beats waiting)."""
    if not error.retryable:
        return None
    if error.retry_after is not None:
        if error.retry_after > policy.max_retry_after:
            return None
        return error.retry_after
    return backoff_delay(retry_number, policy, rng)
