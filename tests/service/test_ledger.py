"""The ledger: batched writes, nothing lost on close, reports, spend."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from interlink.store import Database
from interlink.store.schema import usage as usage_table
from interlink.usage.ledger import Ledger, parse_since, totals
from interlink.usage.record import COLUMNS, UsageRecord


async def _count(db: Database) -> int:
    async with db.engine.connect() as conn:
        return (await conn.execute(sa.text("SELECT count(*) FROM usage"))).scalar_one()


def _rec(i: int, **kw) -> UsageRecord:  # type: ignore[no-untyped-def]
    base = {
        "request_id": f"req_{i}",
        "model": "gpt-4o",
        "key_id": "key_a",
        "key_name": "a",
        "client_api": "openai-chat",
        "provider": "openai",
        "upstream_model": "gpt-4o",
        "input_tokens": 10,
        "output_tokens": 5,
        "cost_usd": 0.001,
        "latency_ms": 100.0,
    }
    return UsageRecord(**{**base, **kw})


async def test_close_flushes_every_record(db: Database) -> None:
    ledger = Ledger(db, batch_size=97, interval=5.0)
    await ledger.start()
    n = 1234
    for i in range(n):
        ledger.record(_rec(i))
    await ledger.close()
    assert await _count(db) == n
    async with db.engine.connect() as conn:
        ids = {r[0] for r in await conn.execute(sa.text("SELECT request_id FROM usage"))}
    assert ids == {f"req_{i}" for i in range(n)}
    assert ledger.pending == 0 and ledger.dropped == 0


async def test_batches_written_in_the_background(db: Database) -> None:
    ledger = Ledger(db, batch_size=50, interval=0.1)
    await ledger.start()
    try:
        for i in range(120):
            ledger.record(_rec(i))
        assert ledger.pending == 120  # record() only queues
        for _ in range(50):
            await asyncio.sleep(0.05)
            if await _count(db) == 120:
                break
        assert await _count(db) == 120
        assert ledger.pending == 0
        recorded, written = ledger.cost_counters("key_a")
        assert recorded == written > 0
    finally:
        await ledger.close()


async def test_close_without_start_and_record_after_close(db: Database) -> None:
    ledger = Ledger(db)
    ledger.record(_rec(1))
    await ledger.close()
    ledger.record(_rec(2))
    assert await _count(db) == 1 and ledger.dropped == 1


async def test_bounded_queue_drops_and_counts(db: Database) -> None:
    ledger = Ledger(db, max_queue=3)
    for i in range(5):
        ledger.record(_rec(i))
    assert ledger.pending == 3 and ledger.dropped == 2
    await ledger.close()
    assert await _count(db) == 3


async def test_failed_batch_is_kept_for_retry(db: Database) -> None:
    ledger = Ledger(db)
    ledger.record(_rec(1))
    ledger.record(_rec(2))
    async with db.engine.begin() as conn:  # the database refuses writes for a while
        await conn.execute(sa.text("ALTER TABLE usage RENAME TO usage_away"))
    with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises
        await ledger.flush()
    assert ledger.pending == 2
    async with db.engine.begin() as conn:
        await conn.execute(sa.text("ALTER TABLE usage_away RENAME TO usage"))
    await ledger.close()
    assert await _count(db) == 2


async def test_a_record_that_cannot_be_stored_is_dropped_not_raised(db: Database) -> None:
    ledger = Ledger(db)
    ledger.record(_rec(1, ts="not a datetime"))  # type: ignore[arg-type]
    ledger.record(_rec(2))
    assert ledger.dropped == 1 and ledger.pending == 1
    await ledger.close()
    assert await _count(db) == 1


async def test_rows_read_back_as_recorded(db: Database) -> None:
    ts = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    rec = _rec(
        1,
        ts=ts,
        cache_read_tokens=3,
        cache_write_tokens=4,
        reasoning_tokens=None,
        status=529,
        outcome="error",
        error_kind="overloaded",
        attempts="a:529,b:ok",
        repairs=["orphan_tool_call=1", "empty_text=2"],
        ttft_ms=12.5,
        stream=True,
    )
    ledger = Ledger(db)
    ledger.record(rec)
    await ledger.close()
    async with db.engine.connect() as conn:
        row = (await conn.execute(sa.select(usage_table))).mappings().one()
    expected = {
        **{name: getattr(rec, name) for name in COLUMNS},
        "reasoning_tokens": 0,
        "repairs": "orphan_tool_call=1,empty_text=2",
    }
    assert {name: row[name] for name in COLUMNS} == expected
    assert row["ts"].tzinfo is not None and row["ts"] == ts
    since = await ledger.report(by="model", since=ts)
    assert [r["requests"] for r in since] == [1]
    assert await ledger.report(by="model", since=ts + timedelta(microseconds=1)) == []


async def test_report_by_key_model_day(db: Database) -> None:
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    yesterday = now - timedelta(days=1)
    ledger = Ledger(db)
    ledger.record(_rec(1, ts=now, cache_read_tokens=100, cache_write_tokens=7, reasoning_tokens=3, latency_ms=100))
    ledger.record(_rec(2, ts=now, model="claude-sonnet-4", key_id="key_b", key_name="b", cost_usd=0.5, latency_ms=300))
    ledger.record(
        _rec(
            3,
            ts=yesterday,
            status=529,
            outcome="error",
            error_kind="overloaded",
            output_tokens=0,
            cost_usd=0.0,
            latency_ms=200,
        )
    )
    ledger.record(_rec(4, ts=yesterday, key_id=None, key_name=None, outcome="client_disconnected", latency_ms=0))
    await ledger.close()

    by_key = {row["key"]: row for row in await ledger.report(by="key")}
    assert set(by_key) == {"key_a", "key_b", None}
    a = by_key["key_a"]
    assert (a["requests"], a["errors"], a["input_tokens"], a["output_tokens"]) == (2, 1, 20, 5)
    assert (a["cache_read_tokens"], a["cache_write_tokens"], a["reasoning_tokens"]) == (100, 7, 3)
    assert a["cost_usd"] == 0.001 and a["key_name"] == "a" and a["avg_latency_ms"] == 150.0
    assert (await ledger.report(by="key"))[0]["key"] == "key_b"  # highest cost first

    by_model = {row["model"]: row for row in await ledger.report(by="model")}
    assert by_model["gpt-4o"]["requests"] == 3 and by_model["claude-sonnet-4"]["cost_usd"] == 0.5

    by_day = await ledger.report(by="day")
    assert [row["day"] for row in by_day] == [f"{yesterday:%Y-%m-%d}", f"{now:%Y-%m-%d}"]
    assert [row["requests"] for row in by_day] == [2, 2]
    assert [row["errors"] for row in by_day] == [2, 0]

    recent = await ledger.report(by="model", since=now - timedelta(hours=1))
    assert sum(r["requests"] for r in recent) == 2
    total = totals(by_day)
    assert total["requests"] == 4 and total["cost_usd"] == round(0.5 + 0.001 + 0.001, 6)


async def test_spent_since(db: Database) -> None:
    now = datetime.now(UTC)
    ledger = Ledger(db)
    ledger.record(_rec(1, ts=now - timedelta(days=3), cost_usd=1.0))
    ledger.record(_rec(2, ts=now, cost_usd=0.25))
    ledger.record(_rec(3, ts=now, cost_usd=9.0, key_id="other"))
    await ledger.close()
    assert await ledger.spent("key_a") == 1.25
    assert await ledger.spent("key_a", now - timedelta(days=1)) == 0.25
    assert await ledger.spent("nobody") == 0.0


def test_parse_since() -> None:
    now = datetime(2025, 6, 15, 12, tzinfo=UTC)
    assert parse_since("7d", now) == now - timedelta(days=7)
    assert parse_since("24h", now) == now - timedelta(hours=24)
    assert parse_since("2w", now) == now - timedelta(weeks=2)
    assert parse_since("2025-06-01", now) == datetime(2025, 6, 1, tzinfo=UTC)
    assert parse_since(None) is None and parse_since("") is None
    with pytest.raises(ValueError, match="7d"):
        parse_since("last week", now)
