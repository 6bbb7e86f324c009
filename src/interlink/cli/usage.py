"""`interlink usage`: spend and tokens by key, model or day, from the usage ledger.

A table on a terminal, plain untruncated lines in a pipe (`interlink usage | grep alice`), or the
rows themselves with `--json` / `--csv` (raw numbers: tokens as integers, cost in full precision).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from interlink.cli import output
from interlink.cli.db import ConfigOption, with_store

if TYPE_CHECKING:
    from interlink.store import Database

app = typer.Typer(help="Usage and spend from the ledger.")

_NUMBERS = ("requests", "errors", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
FIELDS = (*_NUMBERS, "cost_usd", "avg_latency_ms")


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


def _record(row: dict[str, Any], by: str) -> dict[str, Any]:
    """One row for --json / --csv: the group (and the key's id when grouping by key), then FIELDS."""
    out: dict[str, Any] = {by: _label(row, by)}
    if by == "key":
        out["key_id"] = row["key"]
    out.update({name: row[name] for name in FIELDS})
    return out


@app.callback(invoke_without_command=True)
def usage(
    config: ConfigOption = None,
    by: Annotated[str, typer.Option(help="Group by key, model or day.")] = "key",
    since: Annotated[str | None, typer.Option(help="7d, 24h, 2w or YYYY-MM-DD (default: all time).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print rows and total as JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print rows as CSV with a header line.")] = False,
) -> None:
    """Show requests, tokens and cost grouped by key, model or day (a table on a terminal, plain lines in a pipe)."""
    from interlink.usage.ledger import GROUPS, GroupBy, Ledger, parse_since, totals

    if by not in GROUPS:
        typer.echo(f"error: --by must be one of {', '.join(GROUPS)}", err=True)
        raise typer.Exit(2)
    if as_json and as_csv:
        typer.echo("error: choose one of --json and --csv", err=True)
        raise typer.Exit(2)
    try:
        start = parse_since(since)
    except ValueError as error:
        typer.echo(f"error: --since: {error}", err=True)
        raise typer.Exit(2) from None

    async def work(db: Database) -> list[dict[str, Any]]:
        return await Ledger(db).report(by=cast(GroupBy, by), since=start)

    rows = with_store(config, work)
    records = [_record(row, by) for row in rows]
    if as_json:
        total = totals(rows) if rows else None
        output.print_json({"by": by, "since": start.isoformat() if start else None, "rows": records, "total": total})
        return
    if as_csv:
        header = list(records[0]) if records else [by, *(["key_id"] if by == "key" else []), *FIELDS]
        output.print_csv(header, [list(r.values()) for r in records])
        return
    window = f"since {start:%Y-%m-%d %H:%M} UTC" if start else "all time"
    if not rows:
        output.note(f"no usage recorded ({window})")
        return
    columns = [output.Column(by)] + [
        output.Column(name.replace("_tokens", "").replace("_", " "), right=True) for name in FIELDS
    ]
    output.print_table(
        f"Usage by {by}, {window}",
        columns,
        [[_label(row, by), *_cells(row)] for row in rows],
        footer=["total", *_cells(totals(rows))],
    )
