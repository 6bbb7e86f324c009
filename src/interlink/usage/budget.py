"""`Budgets`: refuse a key's requests once its spend in the current period reached its budget.

Spend = what the database holds for the period (cached up to `ttl` seconds, so a busy key does
not cost a SUM query per request) plus what this process recorded since that query, taken from
the ledger's counters at once. Costs written between the counter snapshot and the query can be
counted twice for at most `ttl` seconds: budgets err towards refusing, never towards overspend.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from interlink.core.errors import ErrorKind, GatewayError
from interlink.store.cached import Cached
from interlink.store.database import OUTAGE_GRACE_SECONDS, reachable

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
        # (key_id, period start) -> (spend in the database, the ledger's written-cost counter
        # when it was asked); the period start in the key makes a new period a new query.
        self._spend: Cached[tuple[str, datetime], tuple[float, float]] = Cached(
            self._fetch, ttl=ttl, stale_for=OUTAGE_GRACE_SECONDS
        )

    async def spent(self, principal: Principal, now: datetime | None = None) -> float:
        """The key's spend in its current budget period (all time when it has no period)."""
        start = period_start(principal.budget_period or "total", now)
        db_spent, written = await self._spend.get((principal.key_id, start))
        recorded, _ = self.ledger.cost_counters(principal.key_id)
        return db_spent + max(recorded - written, 0.0)

    async def _fetch(self, key: tuple[str, datetime]) -> tuple[float, float]:
        key_id, start = key
        # Snapshot the written counter before the query: anything written after the snapshot
        # is counted by the query or by the local delta (possibly both), never by neither.
        _, written = self.ledger.cost_counters(key_id)
        async with reachable("budgets"):
            return await self.ledger.spent(key_id, None if start == EPOCH else start), written

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
