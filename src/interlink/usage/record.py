"""`UsageRecord`: one row of the usage ledger, one per request the gateway answered (or failed)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any


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

    def to_row(self) -> dict[str, Any]:
        """The values for an INSERT into the `usage` table (no `asdict`: it deep-copies every
        field, a tenth of a millisecond a request for nothing)."""
        row = {name: getattr(self, name) for name in _FIELDS}
        if not isinstance(self.repairs, str):
            row["repairs"] = ",".join(self.repairs)
        row["reasoning_tokens"] = self.reasoning_tokens or 0
        row["ts"] = self.ts if self.ts.tzinfo else self.ts.replace(tzinfo=UTC)
        return row


_FIELDS = tuple(f.name for f in fields(UsageRecord))
