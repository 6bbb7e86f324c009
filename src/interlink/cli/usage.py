"""`interlink usage`: spend and tokens by key, model or day, from the usage ledger."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.console import Console
from rich.table import Table

from interlink.cli.db import ConfigOption, with_store

if TYPE_CHECKING:
    from interlink.store import Database

app = typer.Typer(help="Usage and spend from the ledger.")

_NUMBERS = ("requests", "errors", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


def _label(row: dict[str, Any], by: str) -> str:
    if by == "key":
        return row.get("key_name") or row["key"] or "(no key)"
    return str(row[by])


def _cells(row: dict[str, Any]) -> list[str]:
    latency = row["avg_latency_ms"]
    return [f"{row[n]:,}" for n in _NUMBERS] + [
        f"${row['cost_usd']:,.4f}",
        "-" if latency is None else f"{latency:,.0f}",
    ]


@app.callback(invoke_without_command=True)
def usage(
    config: ConfigOption = None,
    by: Annotated[str, typer.Option(help="Group by key, model or day.")] = "key",
    since: Annotated[str | None, typer.Option(help="7d, 24h, 2w or YYYY-MM-DD (default: all time).")] = None,
) -> None:
    """Show requests, tokens and cost grouped by key, model or day."""
    from interlink.usage.ledger import GROUPS, GroupBy, Ledger, parse_since, totals

    if by not in GROUPS:
        typer.echo(f"error: --by must be one of {', '.join(GROUPS)}", err=True)
        raise typer.Exit(2)
    try:
        start = parse_since(since)
    except ValueError as error:
        typer.echo(f"error: --since: {error}", err=True)
        raise typer.Exit(2) from None

    async def work(db: Database) -> list[dict[str, Any]]:
        return await Ledger(db).report(by=cast(GroupBy, by), since=start)

    rows = with_store(config, work)
    console = Console()
    window = f"since {start:%Y-%m-%d %H:%M} UTC" if start else "all time"
    if not rows:
        console.print(f"no usage recorded ({window})")
        return
    table = Table(title=f"Usage by {by}, {window}", show_footer=True)
    total = totals(rows)
    table.add_column(by, footer="total")
    for name, cell in zip((*_NUMBERS, "cost_usd", "avg_latency_ms"), _cells(total), strict=True):
        table.add_column(name.replace("_tokens", "").replace("_", " "), footer=cell, justify="right")
    for row in rows:
        table.add_row(_label(row, by), *_cells(row))
    console.print(table)
