"""Budgets: period starts, refusal once spent, this process's costs counted at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from interlink.auth.keys import KeyStore, Principal
from interlink.core.errors import ErrorKind, GatewayError
from interlink.store import Database
from interlink.usage.budget import EPOCH, Budgets, period_start
from interlink.usage.ledger import Ledger
from interlink.usage.record import UsageRecord


def test_period_starts() -> None:
    now = datetime(2025, 6, 19, 15, 30, tzinfo=UTC)  # a Thursday
    assert period_start("day", now) == datetime(2025, 6, 19, tzinfo=UTC)
    assert period_start("week", now) == datetime(2025, 6, 16, tzinfo=UTC)  # ISO week: Monday
    assert period_start("month", now) == datetime(2025, 6, 1, tzinfo=UTC)
    assert period_start("total", now) == EPOCH
    assert period_start("week", datetime(2025, 6, 16, tzinfo=UTC)) == datetime(2025, 6, 16, tzinfo=UTC)
    with pytest.raises(ValueError):
        period_start("year", now)


def _principal(budget: float | None, period: str | None) -> Principal:
    return Principal(key_id="key_b", name="b", scopes=frozenset({"inference"}), budget_usd=budget, budget_period=period)  # type: ignore[arg-type]


def _spend(ledger: Ledger, cost: float, ts: datetime, key_id: str = "key_b") -> None:
    ledger.record(UsageRecord(request_id=f"r{ts.timestamp()}{cost}", model="m", key_id=key_id, cost_usd=cost, ts=ts))


@pytest.mark.parametrize("period", ["day", "week", "month", "total"])
async def test_budget_per_period(db: Database, period: str) -> None:
    now = datetime(2025, 6, 19, 15, 30, tzinfo=UTC)
    ledger = Ledger(db)
    _spend(ledger, 3.0, now - timedelta(minutes=5))  # in every period
    _spend(ledger, 4.0, now - timedelta(days=2))  # this week, month, total
    _spend(ledger, 5.0, now - timedelta(days=10))  # this month, total
    _spend(ledger, 6.0, now - timedelta(days=40))  # total only
    _spend(ledger, 50.0, now, key_id="someone_else")
    await ledger.flush()
    expected = {"day": 3.0, "week": 7.0, "month": 12.0, "total": 18.0}[period]
    budgets = Budgets(Ledger(db))  # a fresh process: everything comes from the database
    assert await budgets.spent(_principal(100, period), now) == pytest.approx(expected)
    await budgets.check(_principal(expected + 0.01, period), now)
    with pytest.raises(GatewayError) as info:
        await budgets.check(_principal(expected, period), now)
    assert info.value.kind is ErrorKind.QUOTA and info.value.retryable is False and info.value.status == 429
    assert "budget" in info.value.message
    await ledger.close()


async def test_no_budget_never_queries(db: Database) -> None:
    class Exploding(Ledger):
        async def spent(self, key_id, since=None):  # type: ignore[no-untyped-def]
            raise AssertionError("no query expected")

    await Budgets(Exploding(db)).check(_principal(None, None))


async def test_local_costs_count_at_once_and_cache_is_short(db: Database) -> None:
    keys = KeyStore(db)
    principal, _ = await keys.create(name="b", budget_usd=1.0, period="day")
    ledger = Ledger(db, interval=60)  # nothing is written by the background task in this test
    budgets = Budgets(ledger, ttl=60)
    await budgets.check(principal)  # caches 0.0 spent
    ledger.record(UsageRecord(request_id="r1", model="m", key_id=principal.key_id, cost_usd=0.6))
    await budgets.check(principal)
    ledger.record(UsageRecord(request_id="r2", model="m", key_id=principal.key_id, cost_usd=0.6))
    with pytest.raises(GatewayError):  # still cached, still unwritten: counted from the ledger at once
        await budgets.check(principal)
    await ledger.flush()
    with pytest.raises(GatewayError):  # written, cache stale-but-valid: no double count needed to refuse
        await budgets.check(principal)
    fresh = Budgets(ledger, ttl=0)
    assert await fresh.spent(principal) == pytest.approx(1.2)
    await ledger.close()


async def test_spend_elsewhere_seen_after_ttl(db: Database) -> None:
    ledger_here, ledger_there = Ledger(db), Ledger(db)
    budgets = Budgets(ledger_here, ttl=0.1)
    principal = _principal(1.0, "total")
    await budgets.check(principal)
    _spend(ledger_there, 2.0, datetime.now(UTC))
    await ledger_there.close()
    await asyncio.sleep(0.15)
    with pytest.raises(GatewayError):
        await budgets.check(principal)
