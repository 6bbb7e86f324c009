"""Usage accounting: the per-request `UsageRecord`, `Pricing` (tokens → USD), the batched
`Ledger` with its reports, and per-key `Budgets`."""

from interlink.usage.budget import PERIODS, Budgets, period_start
from interlink.usage.ledger import GROUPS, Ledger, parse_since, totals
from interlink.usage.pricing import BUILTIN, Price, Pricing
from interlink.usage.record import UsageRecord

__all__ = [
    "BUILTIN",
    "GROUPS",
    "PERIODS",
    "Budgets",
    "Ledger",
    "Price",
    "Pricing",
    "UsageRecord",
    "parse_since",
    "period_start",
    "totals",
]
