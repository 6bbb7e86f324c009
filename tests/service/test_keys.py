"""API keys: create, authenticate, list, revoke, expiry, and the secret never stored or shown."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from interlink.auth.audit import Actor, AuditLog
from interlink.auth.keys import KeyStore, hash_secret
from interlink.core.errors import ErrorKind, GatewayError
from interlink.store import Database


async def test_create_and_authenticate(db: Database) -> None:
    keys = KeyStore(db)
    principal, secret = await keys.create(
        name="alice", models=["gpt-4o", "claude-*"], rpm=60, tpm=10_000, max_streams=2, budget_usd=5, period="day"
    )
    assert secret.startswith("sk-il-") and len(secret) == 38
    assert principal.scopes == frozenset({"inference", "models"})
    got = await keys.authenticate(secret)
    assert got == principal
    assert got is not None and got.models == frozenset({"gpt-4o", "claude-*"})
    assert (got.rpm, got.tpm, got.max_streams, got.budget_usd, got.budget_period) == (60, 10_000, 2, 5.0, "day")
    assert await keys.authenticate(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert await keys.authenticate("sk-il-short") is None
    assert await keys.authenticate("") is None
    assert await keys.authenticate(None) is None


async def test_secrets_are_unique_and_random(db: Database) -> None:
    keys = KeyStore(db)
    secrets = {(await keys.create(name=f"k{i}"))[1] for i in range(20)}
    assert len(secrets) == 20


async def test_secret_never_stored_in_clear(db: Database) -> None:
    _, secret = await KeyStore(db).create(name="scan-me", scopes=["admin"])
    random_part = secret.removeprefix("sk-il-")
    async with db.engine.connect() as conn:
        rows = (await conn.execute(sa.text("SELECT * FROM api_keys"))).all()
    assert len(rows) == 1
    for value in rows[0]:
        text = str(value)
        assert secret not in text
        # The display prefix keeps 4 of the 32 random characters, nothing longer.
        assert random_part[:8] not in text and random_part[-8:] not in text
    assert hash_secret(secret) in [str(v) for v in rows[0]]


async def test_no_secret_in_repr_or_logs(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    keys = KeyStore(db)
    principal, secret = await keys.create(name="quiet")
    await keys.authenticate(secret)
    await keys.authenticate(secret + "x")
    info = (await keys.list())[0]
    for text in (repr(principal), repr(info), str(info.to_dict()), caplog.text):
        assert secret not in text and secret[6:] not in text


async def test_list_and_revoke_by_name_or_id(db: Database) -> None:
    keys = KeyStore(db)
    _a, secret_a = await keys.create(name="a")
    b, secret_b = await keys.create(name="b", scopes="inference,admin")
    infos = {i.name: i for i in await keys.list()}
    assert set(infos) == {"a", "b"}
    assert infos["b"].scopes == ("admin", "inference")
    assert infos["a"].prefix == secret_a[:10] and infos["a"].status == "active"
    assert await keys.any_keys()

    assert await keys.revoke("a")
    assert not await keys.revoke("a")
    assert await keys.revoke(b.key_id)
    assert not await keys.revoke("nobody")
    assert await keys.authenticate(secret_a) is None
    assert await keys.authenticate(secret_b) is None
    assert {i.status for i in await keys.list()} == {"revoked"}
    assert not await keys.any_keys()


async def test_revoke_elsewhere_seen_within_cache_ttl(db: Database) -> None:
    replica_1, replica_2 = KeyStore(db, cache_ttl=0.2), KeyStore(db, cache_ttl=0.2)
    _, secret = await replica_1.create(name="shared")
    assert await replica_2.authenticate(secret) is not None
    assert await replica_1.revoke("shared")
    assert await replica_1.authenticate(secret) is None  # the revoking process: at once
    await asyncio.sleep(0.25)
    assert await replica_2.authenticate(secret) is None  # another process: after the TTL


async def test_default_cache_is_at_most_one_second() -> None:
    assert KeyStore(None).cache_ttl <= 1.0  # type: ignore[arg-type]


async def test_expiry(db: Database) -> None:
    keys = KeyStore(db)
    _, past = await keys.create(name="past", expires=datetime.now(UTC) - timedelta(seconds=1))
    _, soon = await keys.create(name="soon", expires=datetime.now(UTC) + timedelta(seconds=0.3))
    _, day = await keys.create(name="day", expires=date.today() + timedelta(days=1))
    _, text = await keys.create(name="text", expires="2000-01-01")
    assert await keys.authenticate(past) is None
    assert await keys.authenticate(text) is None
    assert await keys.authenticate(soon) is not None
    assert await keys.authenticate(day) is not None
    await asyncio.sleep(0.35)
    assert await keys.authenticate(soon) is None  # even while the cache entry is fresh
    statuses = {i.name: i.status for i in await keys.list()}
    assert statuses == {"past": "expired", "soon": "expired", "day": "active", "text": "expired"}
    info = {i.name: i for i in await keys.list()}["day"]
    # A date means "valid through that UTC day".
    assert info.expires_at == datetime.combine(date.today() + timedelta(days=2), datetime.min.time(), UTC)


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"name": ""}, "name"),
        ({"name": "x", "scopes": ["root"]}, "scopes"),
        ({"name": "x", "period": "year", "budget_usd": 1}, "period"),
        ({"name": "x", "period": "day"}, "period"),
        ({"name": "x", "rpm": 0}, "rpm"),
        ({"name": "x", "budget_usd": -1}, "budget_usd"),
        ({"name": "x", "expires": "tomorrow"}, "expires"),
    ],
)
async def test_invalid_create(db: Database, kwargs: dict, param: str) -> None:
    with pytest.raises(GatewayError) as info:
        await KeyStore(db).create(**kwargs)
    assert info.value.kind is ErrorKind.INVALID_REQUEST and info.value.param == param


async def test_names_are_unique_and_budget_defaults_to_month(db: Database) -> None:
    keys = KeyStore(db)
    principal, _ = await keys.create(name="dup", budget_usd=10)
    assert principal.budget_period == "month"
    with pytest.raises(GatewayError, match="already exists"):
        await keys.create(name="dup")
    assert len(await keys.list()) == 1


async def test_any_keys_is_cached_but_follows_changes(db: Database) -> None:
    keys, elsewhere = KeyStore(db, cache_ttl=0.2), KeyStore(db, cache_ttl=0.2)
    assert not await keys.any_keys()
    # a second of life: a create (with its audit row) on a busy Postgres can take a tenth of that
    await keys.create(name="brief", expires=datetime.now(UTC) + timedelta(seconds=1))
    assert await keys.any_keys()  # its own create clears the cache
    await asyncio.sleep(1.05)
    assert not await keys.any_keys()  # the only key expired: re-asked within the cache window
    await elsewhere.create(name="lasting")
    assert not await keys.any_keys()  # another replica's key: cached "no" for at most the TTL
    await asyncio.sleep(0.25)
    assert await keys.any_keys()
    await keys.revoke("lasting")
    assert not await keys.any_keys()


async def test_changes_are_audited_with_who_and_when(db: Database) -> None:
    keys = KeyStore(db)
    _, secret = await keys.create(name="carol", models=["sonnet"], budget_usd=5, actor=Actor("admin-key", "api"))
    assert await keys.revoke("carol", actor=Actor("cli:ops", "cli"))
    entries = await AuditLog(db).recent()
    assert [(e.action, e.actor, e.source) for e in entries] == [
        ("key.revoke", "cli:ops", "cli"),
        ("key.create", "admin-key", "api"),
    ]
    created = entries[1]
    assert created.target.startswith("carol (key_")
    assert created.detail is not None and created.detail["models"] == ["sonnet"] and created.detail["budget_usd"] == 5
    assert abs((datetime.now(UTC) - created.ts).total_seconds()) < 60
    # the audit trail names keys, never their secrets or hashes
    assert all(secret not in str(e.to_dict()) and hash_secret(secret) not in str(e.to_dict()) for e in entries)


async def test_revoke_never_takes_two_keys(db: Database) -> None:
    keys = KeyStore(db)
    first, _ = await keys.create(name="first")
    second, _ = await keys.create(name=first.key_id)  # a name that is another key's id
    with pytest.raises(GatewayError, match="revoke by id"):
        await keys.revoke(first.key_id)
    assert {info.status for info in await keys.list()} == {"active"}
    assert await keys.revoke(second.key_id)  # ids are unambiguous
    assert {info.name: info.status for info in await keys.list()} == {"first": "active", first.key_id: "revoked"}
