"""Backoff math and retry-after handling."""

from __future__ import annotations

import random

from interlink.config.settings import RetryConfig
from interlink.core import ErrorKind, GatewayError
from interlink.providers.retry_after import parse_retry_after
from interlink.routing.retry import backoff_delay, retry_delay

POLICY = RetryConfig(attempts=4, budget_seconds=60, backoff_base=0.5, backoff_max=8, max_retry_after=30)


def test_full_jitter_stays_under_the_exponential_ceiling() -> None:
    rng = random.Random(7)
    for n, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (10, 8.0)]:
        samples = [backoff_delay(n, POLICY, rng) for _ in range(200)]
        assert all(0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling * 0.8  # jitter spans the range, not a constant


def test_retry_after_is_honoured_and_too_long_means_fail_over() -> None:
    assert retry_delay(GatewayError(ErrorKind.RATE_LIMIT, "x", retry_after=2.0), 0, POLICY) == 2.0
    assert retry_delay(GatewayError(ErrorKind.RATE_LIMIT, "x", retry_after=120.0), 0, POLICY) is None


def test_deterministic_errors_are_never_retried() -> None:
    assert retry_delay(GatewayError(ErrorKind.INVALID_REQUEST, "bad"), 0, POLICY) is None
    assert retry_delay(GatewayError(ErrorKind.QUOTA, "spent"), 0, POLICY) is None


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    assert parse_retry_after({"Retry-After": "3"}) == 3.0
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None
