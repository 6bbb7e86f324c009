"""`interlink keys|usage|db` through typer's CliRunner, on a temp config and both backends."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from interlink.cli.main import app
from interlink.store import Database
from interlink.usage.ledger import Ledger
from interlink.usage.record import UsageRecord

from .conftest import empty_store

SECRET = re.compile(r"sk-il-[A-Za-z0-9_-]{32}")


@pytest.fixture
def cli(store_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run the CLI with `--config` pointing at a temp config whose store is the test store."""
    config = tmp_path / "interlink.yaml"
    config.write_text("providers: {}\nmodels: {}\n")
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.delenv("INTERLINK_CONFIG", raising=False)
    if store_url.startswith("sqlite"):
        monkeypatch.setenv("INTERLINK_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.delenv("INTERLINK_DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("INTERLINK_DATABASE_URL", store_url)
    empty_store(store_url)
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(
            app,
            [*args[:2], "--config", str(config), *args[2:]]
            if args[0] != "usage"
            else ["usage", "--config", str(config), *args[1:]],
        )

    yield run
    empty_store(store_url)


def test_db_upgrade(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "revision 0002" in result.output
    assert cli("db", "upgrade").exit_code == 0


def test_keys_create_list_revoke(cli, store_url: str) -> None:  # type: ignore[no-untyped-def]
    created = cli(
        "keys",
        "create",
        "--name",
        "alice",
        "--scope",
        "inference,models,admin",
        "--models",
        "gpt-4o,o3",
        "--rpm",
        "60",
        "--tpm",
        "100000",
        "--max-streams",
        "3",
        "--budget-usd",
        "12.5",
        "--period",
        "week",
        "--expires",
        "2099-01-31",
    )
    assert created.exit_code == 0, created.output
    secrets = SECRET.findall(created.output)
    assert len(secrets) == 1 and "Store it now" in created.output
    assert cli("keys", "create", "--name", "bob").exit_code == 0

    listed = cli("keys", "list")
    assert listed.exit_code == 0, listed.output
    for text in (
        "alice",
        "bob",
        "admin",
        "gpt-4o,o3",
        "60 rpm",
        "100,000 tpm",
        "3 streams",
        "$12.50/week",
        "2099-02-01",
        "active",
        secrets[0][:10],
    ):
        assert text in listed.output, text
    assert not SECRET.search(listed.output)

    revoked = cli("keys", "revoke", "alice")
    assert revoked.exit_code == 0 and "revoked alice" in revoked.output
    again = cli("keys", "revoke", "alice")
    assert again.exit_code == 1 and "no active key" in again.output
    assert "revoked" in cli("keys", "list").output


def test_keys_create_errors(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("keys", "create", "--name", "dup").exit_code == 0
    dup = cli("keys", "create", "--name", "dup")
    assert dup.exit_code == 2 and "already exists" in dup.output
    bad = cli("keys", "create", "--name", "x", "--scope", "root")
    assert bad.exit_code == 2 and "unknown scope" in bad.output
    no_budget = cli("keys", "create", "--name", "y", "--period", "day")
    assert no_budget.exit_code == 2 and "budget" in no_budget.output


def test_usage_tables(cli, store_url: str) -> None:  # type: ignore[no-untyped-def]
    assert "no usage recorded" in cli("usage").output

    async def seed() -> None:
        db = Database(store_url)
        ledger = Ledger(db)
        now = datetime.now(UTC)
        for i, (model, days_ago) in enumerate([("gpt-4o", 0), ("gpt-4o", 0), ("o3", 3), ("o3", 30)]):
            ledger.record(
                UsageRecord(
                    request_id=f"r{i}",
                    model=model,
                    key_id="key_1",
                    key_name="team-a",
                    ts=now - timedelta(days=days_ago),
                    input_tokens=1000,
                    output_tokens=10,
                    cost_usd=0.25,
                )
            )
        await ledger.close()
        await db.close()

    asyncio.run(seed())
    by_key = cli("usage")
    assert by_key.exit_code == 0, by_key.output
    assert "team-a" in by_key.output and "4,000" in by_key.output and "$1.0000" in by_key.output
    by_model = cli("usage", "--by", "model", "--since", "7d")
    assert "gpt-4o" in by_model.output and "o3" in by_model.output and "3,000" in by_model.output
    by_day = cli("usage", "--by", "day", "--since", f"{datetime.now(UTC) - timedelta(days=1):%Y-%m-%d}")
    assert f"{datetime.now(UTC):%Y-%m-%d}" in by_day.output and "$0.5000" in by_day.output
    assert cli("usage", "--by", "week").exit_code == 2
    assert cli("usage", "--since", "whenever").exit_code == 2


def test_bad_config_is_a_friendly_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.yaml"
    bad.write_text("providers: [1, 2]\n")
    result = CliRunner().invoke(app, ["keys", "list", "--config", str(bad)])
    assert result.exit_code == 2 and "problem" in result.output


def test_unreachable_database_is_one_line(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("INTERLINK_DATABASE_URL", "postgresql+asyncpg://nobody:pw@127.0.0.1:1/none")
    monkeypatch.delenv("INTERLINK_CONFIG", raising=False)
    result = CliRunner().invoke(app, ["keys", "list"])
    assert result.exit_code == 1 and "cannot reach the database" in result.output
    assert "pw" not in result.output


def _seed_usage(store_url: str, key_name: str, cost: float, rows: int = 3) -> None:
    async def seed() -> None:
        db = Database(store_url)
        ledger = Ledger(db)
        for i in range(rows):
            ledger.record(
                UsageRecord(
                    request_id=f"pipe{i}",
                    model="claude-sonnet-4-5-with-a-long-public-name",
                    key_id="key_pipe",
                    key_name=key_name,
                    ts=datetime.now(UTC),
                    input_tokens=123_456,
                    output_tokens=789,
                    cache_read_tokens=100_000,
                    cost_usd=cost,
                )
            )
        await ledger.close()
        await db.close()

    asyncio.run(seed())


def test_in_a_pipe_rows_are_whole_lines_and_scripts_get_json_and_csv(  # type: ignore[no-untyped-def]
    cli, store_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "bar-integration-tests-for-the-nightly-pipeline"
    assert cli("keys", "create", "--name", name, "--budget-usd", "1234.5", "--rpm", "600").exit_code == 0
    _seed_usage(store_url, name, cost=0.123456789)
    monkeypatch.delenv("COLUMNS", raising=False)  # what a pipe really sees: no terminal width at all

    def piped(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "interlink.cli.main", *args, "--config", str(tmp_path / "interlink.yaml")],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return done.stdout

    keys_line = next(line for line in piped("keys", "list").splitlines() if name in line)  # `| grep`
    assert "$1,234.50/month" in keys_line and "600 rpm" in keys_line and "active" in keys_line
    assert keys_line.startswith(name + " ")  # the whole name, never `bar-i…`
    usage = piped("usage").splitlines()
    header, row = usage[0].split(), next(line for line in usage if line.startswith(name))
    assert header[:3] == ["key", "requests", "errors"] and "┃" not in usage[0]
    assert row.split()[1:5] == ["3", "0", "370,368", "2,367"] and "$0.3704" in row

    keys = json.loads(piped("keys", "list", "--json"))
    assert [k["name"] for k in keys] == [name] and keys[0]["budget_usd"] == 1234.5 and "secret" not in keys[0]
    report = json.loads(piped("usage", "--json"))
    assert report["rows"][0]["key"] == name and report["rows"][0]["cost_usd"] == pytest.approx(0.370370367)
    assert report["total"]["input_tokens"] == 370_368 and report["since"] is None
    table = list(csv.DictReader(io.StringIO(piped("usage", "--by", "model", "--csv"))))
    assert table[0]["model"] == "claude-sonnet-4-5-with-a-long-public-name"
    assert int(table[0]["cache_read_tokens"]) == 300_000 and float(table[0]["cost_usd"]) == pytest.approx(0.370370367)
