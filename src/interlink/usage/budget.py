"""`Budgets`: refuse a key's requests once its spend in the current period reached its budget.

Spend = what the database holds for the period (cached up to `ttl` seconds, so a busy key does
not cost a SUM query per request) plus what this process recorded since that query, taken from
the ledger's counters at once. Costs written between the counter snapshot and the query can be
counted twice for at most `ttl` seconds: budgets err towards refusing, never towards overspend.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from interlink.core.errors import ErrorKind, GatewayError

if TYPE_CHECKING:
    from interlink.auth.keys import Principal
    from interlink.usage.ledger import Ledger

PERIODS = ("day", "week", "month", "total")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def period_start(period: str, now: datetime | None = None) -> datetime:
    """Start of the current UTC day, ISO week (Monday), calendar month, or the epoch for "total"."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return midnight
    if period == "week":
        return midnight - timedelta(days=midnight.weekday())
    if period == "month":
        return midnight.replace(day=1)
    if period == "total":
        return EPOCH
    raise ValueError(f"budget period must be one of {', '.join(PERIODS)}, not {period!r}")


class Budgets:
    """`await budgets.check(principal)` before a request; raises QUOTA when the budget is spent."""

    def __init__(self, ledger: Ledger, *, ttl: float = 2.0) -> None:
        self.ledger = ledger
        self.ttl = ttl
        # key_id -> (period start, spend in the database, ledger's written-cost counter, fetched at)
        self._cache: dict[str, tuple[datetime, float, float, float]] = {}

    async def spent(self, principal: Principal, now: datetime | None = None) -> float:
        """The key's spend in its current budget period (all time when it has no period)."""
        start = period_start(principal.budget_period or "total", now)
        key_id = principal.key_id
        entry = self._cache.get(key_id)
        if entry is None or entry[0] != start or time.monotonic() - entry[3] > self.ttl:
            # Snapshot the written counter before the query: anything written after the snapshot
            # is counted by the query or by the local delta (possibly both), never by neither.
            _, written = self.ledger.cost_counters(key_id)
            db_spent = await self.ledger.spent(key_id, None if start == EPOCH else start)
            entry = (start, db_spent, written, time.monotonic())
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key_id] = entry
        recorded, _ = self.ledger.cost_counters(key_id)
        return entry[1] + max(recorded - entry[2], 0.0)

    async def check(self, principal: Principal, now: datetime | None = None) -> None:
        budget = principal.budget_usd
        if budget is None:
            return
        spent = await self.spent(principal, now)
        if spent >= budget:
            period = principal.budget_period or "total"
            scope = "in total" if period == "total" else f"this {period}"
            raise GatewayError(
                ErrorKind.QUOTA,
                f"API key {principal.name!r} reached its budget of ${budget:.2f} {scope} (spent ${spent:.2f})",
                code="budget_exceeded",
                retryable=False,
            )
