"""`interlink keys create|list|revoke`: manage API keys from the shell.

The secret is printed once, by `create`; nothing else ever shows more than its prefix.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, cast

import typer

from interlink.cli import output
from interlink.cli.db import ConfigOption, with_store
from interlink.core.errors import GatewayError

if TYPE_CHECKING:
    from interlink.auth.keys import KeyInfo, Period, Principal
    from interlink.store import Database

app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)


def _csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def limits_text(rpm: int | None, tpm: int | None, streams: int | None) -> str:
    parts = [f"{rpm} rpm" if rpm else "", f"{tpm:,} tpm" if tpm else "", f"{streams} streams" if streams else ""]
    return ", ".join(p for p in parts if p) or "-"


def budget_text(budget: float | None, period: str | None) -> str:
    if budget is None:
        return "-"
    return f"${budget:,.2f} total" if period == "total" else f"${budget:,.2f}/{period or 'month'}"


@app.command()
def create(
    name: Annotated[str, typer.Option("--name", "-n", help="Unique name for the key.")],
    config: ConfigOption = None,
    scope: Annotated[str, typer.Option(help="Comma-separated: inference, models, admin.")] = "inference,models",
    models: Annotated[
        str | None, typer.Option(help="Comma-separated model names the key may use (default all).")
    ] = None,
    rpm: Annotated[int | None, typer.Option(help="Requests per minute.")] = None,
    tpm: Annotated[int | None, typer.Option(help="Tokens per minute.")] = None,
    max_streams: Annotated[int | None, typer.Option(help="Concurrent streams.")] = None,
    budget_usd: Annotated[float | None, typer.Option(help="Spend limit in USD per period.")] = None,
    period: Annotated[
        str | None, typer.Option(help="Budget period: day, week, month or total (default month).")
    ] = None,
    expires: Annotated[str | None, typer.Option(help="Last valid day, YYYY-MM-DD (UTC).")] = None,
) -> None:
    """Create a key and print its secret (once)."""

    async def work(db: Database) -> tuple[Principal, str]:
        from interlink.auth.keys import KeyStore

        return await KeyStore(db).create(
            name=name,
            scopes=_csv(scope),
            models=_csv(models),
            rpm=rpm,
            tpm=tpm,
            max_streams=max_streams,
            budget_usd=budget_usd,
            period=cast("Period | None", period),  # KeyStore.create validates it
            expires=expires,
        )

    try:
        principal, secret = with_store(config, work)
    except GatewayError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"created key {principal.name!r} ({principal.key_id}), scopes: {', '.join(sorted(principal.scopes))}")
    typer.echo("")
    typer.echo(f"    {secret}")
    typer.echo("")
    typer.echo("Store it now: this is the only time the secret is shown. Only a hash of it is kept.")


def _expires_text(info: KeyInfo) -> str:
    return info.expires_at.strftime("%Y-%m-%d %H:%M UTC") if info.expires_at else "never"


@app.command("list")
def list_keys(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the keys as JSON (for scripts).")] = False,
) -> None:
    """List keys (secrets are never shown). A table on a terminal; plain lines in a pipe."""

    async def work(db: Database) -> list[KeyInfo]:
        from interlink.auth.keys import KeyStore

        return await KeyStore(db).list()

    infos = with_store(config, work)
    if as_json:
        output.print_json([info.to_dict() for info in infos])
        return
    if not infos:
        output.note("no keys yet: create one with `interlink keys create --name NAME`")
        return
    columns = [
        output.Column(name) for name in ("name", "id", "prefix", "scopes", "models", "limits", "budget", "expires")
    ]
    columns.append(output.Column("status"))
    rows = [
        [
            info.name,
            info.id,
            info.prefix + "…",
            ",".join(info.scopes),
            "all" if info.models is None else ",".join(info.models),
            limits_text(info.rpm, info.tpm, info.max_streams),
            budget_text(info.budget_usd, info.budget_period),
            _expires_text(info),
            info.status,
        ]
        for info in infos
    ]
    colors = {"active": "green", "revoked": "red", "expired": "yellow"}
    styles = [{"status": colors[info.status]} for info in infos]
    output.print_table(f"API keys ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)", columns, rows, styles=styles)


@app.command()
def revoke(
    name_or_id: Annotated[str, typer.Argument(help="The key's name or id.")],
    config: ConfigOption = None,
) -> None:
    """Revoke a key: requests with it fail within a second on every replica."""

    async def work(db: Database) -> bool:
        from interlink.auth.keys import KeyStore

        return await KeyStore(db).revoke(name_or_id)

    try:
        revoked = with_store(config, work)
    except GatewayError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(2) from None
    if not revoked:
        typer.echo(f"error: no active key named or with id {name_or_id!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {name_or_id}")
