"""`Ledger`: the usage table's writer and reader.

`record()` is called on the request path, so it only turns the record into a row and appends it to
an in-memory queue; a background task hands batches to a writer thread (`usage.writer`) (every `interval` seconds, sooner when `batch_size` rows wait). `close()`
writes everything still queued, so a graceful shutdown loses nothing that was accepted. The queue
is bounded: if the database is down long enough to fill it, new records are dropped and counted
rather than growing memory without limit.

Reports aggregate in SQL (tokens, cost, requests, errors, mean latency) by key, model or UTC day.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sqlite3
from collections import defaultdict, deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa

from interlink.store.schema import usage as usage_table
from interlink.usage.record import COST_USD, KEY_ID
from interlink.usage.writer import Writer, writer_for

if TYPE_CHECKING:
    from interlink.store import Database
    from interlink.usage.record import UsageRecord

log = logging.getLogger("interlink.usage")

# Errors that are about a row's values, not about reaching the database: the row, not the
# database, is what to give up on.
_ROW_ERRORS: tuple[type[BaseException], ...] = (
    sa.exc.DataError,
    sa.exc.IntegrityError,
    sqlite3.DataError,
    sqlite3.IntegrityError,
    sqlite3.InterfaceError,
    ValueError,
    TypeError,
    OverflowError,
)


def is_row_error(exc: BaseException) -> bool:
    return isinstance(exc, _ROW_ERRORS)


GroupBy = Literal["key", "model", "day"]
GROUPS: tuple[str, ...] = ("key", "model", "day")
_SUMMED = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens", "cost_usd")


class Ledger:
    """Batched, non-blocking writes of `UsageRecord`s, and reports over them."""

    def __init__(
        self, db: Database, *, batch_size: int = 1000, interval: float = 1.0, max_queue: int = 100_000
    ) -> None:
        self.db = db
        self.batch_size = batch_size
        self.interval = interval
        self.max_queue = max_queue
        self.dropped = 0
        self.set_aside = 0
        self.written = 0
        self.on_set_aside: Callable[[], None] | None = None
        """Called for each row the database refused (the service counts it in a metric)."""
        # Rows as `UsageRecord.values` built them, in the form the writer takes.
        self._pending: deque[tuple[Any, ...]] = deque()
        self._text_ts = db.sqlite_path is not None
        self._arrived = asyncio.Event()
        self._full = asyncio.Event()
        self._stop = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._writer: Writer | None = None
        self._closed = False
        # Per key: cost of everything recorded / written by this process, for `Budgets`.
        self._recorded_cost: dict[str | None, float] = defaultdict(float)
        self._written_cost: dict[str | None, float] = defaultdict(float)

    # -- writing -----------------------------------------------------------------------------

    def record(self, rec: UsageRecord) -> None:
        """Queue one record. Never blocks and never raises on the request path."""
        if self._closed or len(self._pending) >= self.max_queue:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                why = "the ledger is closed" if self._closed else "the queue is full (is the database reachable?)"
                log.error("usage record dropped: %s", why, extra={"fields": {"dropped_total": self.dropped}})
            return
        try:
            row = rec.values(text_ts=self._text_ts)
        except Exception:
            self.dropped += 1
            log.exception("usage record dropped: it cannot be stored", extra={"fields": {"request_id": rec.request_id}})
            return
        self._pending.append(row)
        self._recorded_cost[rec.key_id] += rec.cost_usd
        self._arrived.set()
        if len(self._pending) >= self.batch_size:
            self._full.set()

    def cost_counters(self, key_id: str | None) -> tuple[float, float]:
        """(cost recorded, cost written to the database) by this process for a key, in USD."""
        return self._recorded_cost.get(key_id, 0.0), self._written_cost.get(key_id, 0.0)

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="interlink-ledger")

    async def _run(self) -> None:
        backoff = self.interval
        while not self._closed:
            await self._arrived.wait()
            if self._closed:
                return
            with contextlib.suppress(TimeoutError):
                # Give a batch `interval` seconds to fill; a full batch goes at once.
                await asyncio.wait_for(self._full.wait(), self.interval)
            try:
                await self.flush()
                backoff = self.interval
            except Exception as exc:
                log.warning(
                    "usage batch not written, will retry: %s",
                    type(exc).__name__,
                    extra={"fields": {"pending": len(self._pending), "retry_in_s": backoff}},
                )
                await self._sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def flush(self) -> None:
        """Write everything queued now. A batch the database refuses because of a row in it is
        written row by row, and a row that still fails is set aside (logged with its request id,
        counted) so one bad row never blocks the rest; a batch that fails for any other reason
        (the database is down) goes back to the front of the queue for the next try."""
        async with self._write_lock:
            while self._pending:
                batch = [self._pending.popleft() for _ in range(min(self.batch_size, len(self._pending)))]
                try:
                    await self._write(batch)
                except Exception as exc:
                    if not is_row_error(exc):
                        self._pending.extendleft(reversed(batch))
                        raise
                    await self._write_rows(batch)
                except BaseException:
                    self._pending.extendleft(reversed(batch))
                    raise
            # No await between the emptiness check and the clears: nothing can slip in between.
            self._arrived.clear()
            self._full.clear()

    async def _write_rows(self, batch: list[tuple[Any, ...]]) -> None:
        for position, row in enumerate(batch):
            try:
                await self._write([row])
            except Exception as exc:
                if not is_row_error(exc):
                    self._pending.extendleft(reversed(batch[position:]))
                    raise
                self.set_aside += 1
                if self.on_set_aside is not None:
                    self.on_set_aside()
                log.error(
                    "usage row set aside: the database refused it (%s)",
                    type(exc).__name__,
                    extra={"fields": {"request_id": row[0], "error": str(exc)[:300]}},
                )

    async def _write(self, batch: list[tuple[Any, ...]]) -> None:
        if self._writer is None:
            self._writer = writer_for(self.db.url, self.db.sqlite_path)
        await self._writer.write(batch)
        self.written += len(batch)
        for row in batch:
            self._written_cost[row[KEY_ID]] += row[COST_USD]

    async def close(self) -> None:
        """Stop accepting records, write every queued one, stop the writer, and always say how
        it went: one log line with what was written, set aside, dropped and lost."""
        self._closed = True
        self._stop.set()
        self._arrived.set()
        self._full.set()
        try:
            if self._task is not None:
                with contextlib.suppress(Exception):
                    await self._task
                self._task = None
            for attempt in range(3):
                try:
                    await self.flush()
                    break
                except Exception as exc:
                    log.error("usage flush at shutdown failed (attempt %d): %s", attempt + 1, type(exc).__name__)
                    await asyncio.sleep(0.5 * (attempt + 1))
            if self._writer is not None:
                with contextlib.suppress(Exception):
                    await self._writer.close()
                self._writer = None
        finally:
            lost = [row[0] for row in self._pending]
            report: dict[str, Any] = {
                "written": self.written,
                "set_aside": self.set_aside,
                "dropped": self.dropped,
                "lost": len(lost),
            }
            if lost:
                report["lost_request_ids"] = lost[:100]
            (log.error if lost or self.dropped or self.set_aside else log.info)(
                "usage ledger closed", extra={"fields": report}
            )
            for handler in log.handlers or logging.getLogger("interlink").handlers:
                handler.flush()

    # -- reading -----------------------------------------------------------------------------

    async def spent(self, key_id: str, since: datetime | None = None) -> float:
        """USD spent by a key since `since` (all time when None), as written to the database."""
        query = sa.select(sa.func.coalesce(sa.func.sum(usage_table.c.cost_usd), 0.0)).where(
            usage_table.c.key_id == key_id
        )
        if since is not None:
            query = query.where(usage_table.c.ts >= since)
        async with self.db.engine.connect() as conn:
            return float((await conn.execute(query)).scalar_one())

    async def report(self, by: GroupBy = "key", since: datetime | None = None) -> list[dict[str, Any]]:
        """One dict per key, model or UTC day: tokens, cost, requests, errors, mean latency.
        Sorted by cost (highest first), days oldest first."""
        if by not in GROUPS:
            raise ValueError(f"by must be one of {', '.join(GROUPS)}")
        c = usage_table.c
        group = self._group_column(by)
        columns = [group.label(by)]
        if by == "key":
            columns.append(sa.func.max(c.key_name).label("key_name"))
        columns += [sa.func.coalesce(sa.func.sum(c[name]), 0).label(name) for name in _SUMMED]
        columns += [
            sa.func.count().label("requests"),
            sa.func.sum(sa.case((c.outcome != "ok", 1), else_=0)).label("errors"),
            sa.func.avg(c.latency_ms).label("avg_latency_ms"),
        ]
        query = sa.select(*columns).group_by(group)
        if since is not None:
            query = query.where(c.ts >= since)
        query = query.order_by(group) if by == "day" else query.order_by(sa.desc("cost_usd"), group)
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_clean(dict(row)) for row in rows]

    def _group_column(self, by: str) -> sa.ColumnElement[Any]:
        c = usage_table.c
        if by == "key":
            return c.key_id
        if by == "model":
            return c.model
        if self.db.dialect == "postgresql":
            return sa.func.to_char(sa.func.timezone("UTC", c.ts), "YYYY-MM-DD")
        return sa.func.strftime("%Y-%m-%d", c.ts)


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    for name in (
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "requests",
        "errors",
    ):
        row[name] = int(row[name] or 0)
    row["cost_usd"] = round(float(row["cost_usd"] or 0.0), 6)
    latency = row.get("avg_latency_ms")
    row["avg_latency_ms"] = None if latency is None else round(float(latency), 1)
    return row


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The sum of a report's rows (the mean latency weighted by requests)."""
    out: dict[str, Any] = {name: sum(r[name] for r in rows) for name in (*_SUMMED, "requests", "errors")}
    out["cost_usd"] = round(out["cost_usd"], 6)
    weighted = [(r["avg_latency_ms"], r["requests"]) for r in rows if r["avg_latency_ms"] is not None]
    n = sum(w for _, w in weighted)
    out["avg_latency_ms"] = round(sum(v * w for v, w in weighted) / n, 1) if n else None
    return out


_RELATIVE = re.compile(r"^\s*(\d+)\s*([hdw])\s*$", re.IGNORECASE)


def parse_since(text: str | None, now: datetime | None = None) -> datetime | None:
    """ "7d", "24h", "2w" (relative to now) or "YYYY-MM-DD" (that UTC midnight); None/"" → None."""
    if not text:
        return None
    now = now or datetime.now(UTC)
    match = _RELATIVE.match(text)
    if match:
        amount, unit = int(match.group(1)), match.group(2).lower()
        return now - timedelta(**{{"h": "hours", "d": "days", "w": "weeks"}[unit]: amount})
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"since must look like 7d, 24h, 2w or YYYY-MM-DD, not {text!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
