"""Circuit breaker: closed → open after repeated failures → half-open probe → closed or re-opened."""

from __future__ import annotations

from interlink.routing.breaker import Breakers


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_threshold_and_probes_after_cooldown() -> None:
    clock = Clock()
    b = Breakers(threshold=3, cooldown=10, clock=clock)
    for _ in range(2):
        b.failure("p/m")
    assert b.state("p/m") == "closed" and b.allow("p/m")
    b.failure("p/m")
    assert b.state("p/m") == "open" and not b.allow("p/m")
    clock.now += 10
    assert b.state("p/m") == "half-open"
    assert b.allow("p/m")  # one probe
    assert not b.allow("p/m")  # not two at once
    b.success("p/m")
    assert b.state("p/m") == "closed" and b.allow("p/m")


def test_failed_probe_reopens_with_a_longer_cooldown() -> None:
    clock = Clock()
    b = Breakers(threshold=1, cooldown=10, max_cooldown=25, clock=clock)
    b.failure("k")
    clock.now += 10
    assert b.allow("k")
    b.failure("k")
    assert b.state("k") == "open"
    clock.now += 19
    assert b.state("k") == "open"  # cooldown doubled to 20
    clock.now += 1
    assert b.allow("k")
    b.failure("k")
    clock.now += 25
    assert b.state("k") == "half-open"  # capped at 25, not 40


def test_breakers_are_per_deployment() -> None:
    b = Breakers(threshold=1, cooldown=10, clock=Clock())
    b.failure("a")
    assert not b.allow("a") and b.allow("b")
