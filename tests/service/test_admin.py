"""The admin HTTP routes, driven in-process through httpx's ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette

from interlink.auth.audit import AuditLog
from interlink.auth.keys import KeyStore
from interlink.server.admin import admin_routes
from interlink.store import Database
from interlink.usage.ledger import Ledger
from interlink.usage.record import UsageRecord


@pytest.fixture
async def client(db: Database) -> AsyncIterator[tuple[httpx.AsyncClient, KeyStore, Ledger]]:
    keys, ledger = KeyStore(db), Ledger(db)
    app = Starlette(routes=admin_routes(keys, ledger, AuditLog(db)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://admin") as http:
        yield http, keys, ledger
    await ledger.close()


async def test_create_list_revoke(client, db: Database) -> None:  # type: ignore[no-untyped-def]
    http, keys, _ = client
    created = await http.post(
        "/admin/keys",
        json={
            "name": "ci",
            "scopes": ["inference"],
            "models": "gpt-4o,o3",
            "rpm": 10,
            "budget_usd": 2.5,
            "period": "week",
            "expires": "2099-12-31",
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    secret = body["secret"]
    assert secret.startswith("sk-il-")
    assert body["key"]["models"] == ["gpt-4o", "o3"] and body["key"]["budget_period"] == "week"
    assert (await keys.authenticate(secret)) is not None

    listed = await http.get("/admin/keys")
    assert listed.status_code == 200
    assert [k["name"] for k in listed.json()["keys"]] == ["ci"]
    assert secret not in listed.text and "secret_hash" not in listed.text

    assert (await http.delete("/admin/keys/ci")).json() == {"revoked": True, "key": "ci"}
    missing = await http.delete("/admin/keys/ci")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
    assert (await keys.authenticate(secret)) is None


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"scopes": ["inference"]}',
        b'{"name": "x", "rpm": "ten"}',
        b'{"name": "x", "colour": 1}',
        b'{"name": "x", "scopes": ["root"]}',
        b'{"name": "x", "period": "day"}',
        b'{"name": "x", "budget_usd": true}',
    ],
)
async def test_create_rejects_bad_bodies(client, body: bytes) -> None:  # type: ignore[no-untyped-def]
    http, _, _ = client
    response = await http.post("/admin/keys", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"]


async def test_duplicate_name_is_400(client) -> None:  # type: ignore[no-untyped-def]
    http, _, _ = client
    assert (await http.post("/admin/keys", json={"name": "one"})).status_code == 201
    again = await http.post("/admin/keys", json={"name": "one"})
    assert again.status_code == 400 and "already exists" in again.json()["error"]["message"]


async def test_usage_report(client, db: Database) -> None:  # type: ignore[no-untyped-def]
    http, _, ledger = client
    for i, model in enumerate(["gpt-4o", "gpt-4o", "o3"]):
        ledger.record(
            UsageRecord(request_id=f"r{i}", model=model, key_id="k", key_name="n", input_tokens=10, cost_usd=0.5)
        )
    await ledger.flush()
    by_model = (await http.get("/admin/usage", params={"by": "model", "since": "24h"})).json()
    assert by_model["by"] == "model" and by_model["since"]
    assert {r["model"]: r["requests"] for r in by_model["rows"]} == {"gpt-4o": 2, "o3": 1}
    assert by_model["totals"]["requests"] == 3 and by_model["totals"]["cost_usd"] == 1.5
    by_key = (await http.get("/admin/usage")).json()
    assert by_key["by"] == "key" and by_key["rows"][0]["key_name"] == "n"
    assert (await http.get("/admin/usage", params={"by": "week"})).status_code == 400
    assert (await http.get("/admin/usage", params={"since": "soon"})).status_code == 400
    async with db.engine.connect() as conn:
        assert (await conn.execute(sa.text("SELECT count(*) FROM usage"))).scalar_one() == 3
