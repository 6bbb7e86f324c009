"""`UsageRecord`: one row of the usage ledger, one per request the gateway answered (or failed)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class UsageRecord:
    """What a request cost and how it went.

    `status` is the HTTP status the client got; `outcome` is "ok", "error", "failed_mid_stream"
    or "client_disconnected"; `attempts` is the retry trail (e.g. "anthropic:529,anthropic:ok");
    `repairs` names the repairs applied, comma-separated (a list is accepted and joined).
    """

    request_id: str
    model: str
    ts: datetime = field(default_factory=_now)
    key_id: str | None = None
    key_name: str | None = None
    client_api: str = ""
    provider: str | None = None
    upstream_model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    status: int = 200
    outcome: str = "ok"
    error_kind: str | None = None
    attempts: str = ""
    repairs: str | list[str] | tuple[str, ...] = ""
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    stream: bool = False

    def values(self, *, text_ts: bool) -> tuple[Any, ...]:
        """The row as a tuple in `COLUMNS` order, built on the request path (a couple of
        microseconds) so the ledger's writer thread has no Python left to run per row.
        `text_ts`: the timestamp as SQLite stores it (naive UTC text, exactly SQLAlchemy's
        format, so both writers' rows compare alike); otherwise an aware datetime."""
        aware = self.ts if self.ts.tzinfo else self.ts.replace(tzinfo=UTC)
        ts: datetime | str = aware
        if text_ts:
            ts = aware.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        repairs = self.repairs if isinstance(self.repairs, str) else ",".join(self.repairs)
        row: tuple[Any, ...] = (
            self.request_id,
            self.model,
            ts,
            self.key_id,
            self.key_name,
            self.client_api,
            self.provider,
            self.upstream_model,
            self.input_tokens,
            self.output_tokens,
            self.cache_read_tokens,
            self.cache_write_tokens,
            self.reasoning_tokens or 0,
            self.cost_usd,
            self.status,
            self.outcome,
            self.error_kind,
            self.attempts,
            repairs,
            self.latency_ms,
            self.ttft_ms,
            bool(self.stream),
        )
        # A row that does not fit its columns would fail its whole batch on Postgres: cut here.
        for index, length in _LIMITS:
            value = row[index]
            if value is not None and len(value) > length:
                row = (*row[:index], value[:length], *row[index + 1 :])
        return row


COLUMNS = tuple(f.name for f in fields(UsageRecord))
"""The `usage` table's columns that a record fills (all but the id), in `values()` order."""
KEY_ID, COST_USD = COLUMNS.index("key_id"), COLUMNS.index("cost_usd")


def _string_limits() -> tuple[tuple[int, int], ...]:
    from interlink.store.schema import usage

    return tuple(
        (COLUMNS.index(column.name), column.type.length)
        for column in usage.columns
        if column.name in COLUMNS and isinstance(column.type, sa.String) and column.type.length
    )


_LIMITS = _string_limits()
"""(position in a row, length) of every bounded text column."""
