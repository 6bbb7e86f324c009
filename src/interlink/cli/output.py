"""How the listing commands (`keys list`, `usage`, `doctor`) print.

A person at a terminal gets a rich table (long cells fold onto more lines, never cut). A pipe or
a file gets plain text: a header line, then one line per row, columns padded with spaces and
nothing truncated or decorated, so `| grep alice` finds alice's row with all of her numbers and
`| awk` sees the same columns on every line. `--json` and `--csv` give the data itself (full
precision, no thousands separators), for scripts.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    right: bool = False
    style: str | None = None


def is_terminal() -> bool:
    return sys.stdout.isatty()


def print_table(
    title: str,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    *,
    footer: Sequence[str] | None = None,
    styles: Sequence[dict[str, str]] | None = None,
    show_lines: bool = False,
) -> None:
    """`rows` are plain strings; `styles[i]` maps a column name to a rich style for row i,
    used only on a terminal."""
    if not is_terminal():
        plain_table(columns, rows, footer=footer)
        return
    table = Table(title=title, show_footer=footer is not None, show_lines=show_lines)
    for i, column in enumerate(columns):
        table.add_column(
            column.name,
            justify="right" if column.right else "left",
            overflow="fold",
            footer=footer[i] if footer is not None else "",
        )
    for i, row in enumerate(rows):
        style = styles[i] if styles else {}
        table.add_row(*(_styled(cell, style.get(c.name)) for c, cell in zip(columns, row, strict=True)))
    Console().print(table)


def _styled(cell: str, style: str | None) -> str:
    return f"[{style}]{escape(cell)}[/]" if style else escape(cell)


def plain_table(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], *, footer: Sequence[str] | None = None
) -> None:
    lines = [[c.name for c in columns], *[list(r) for r in rows]]
    if footer is not None:
        lines.append(list(footer))
    # a newline inside a cell would split a row in two for grep: keep each row on one line
    lines = [[" ".join(cell.split("\n")) for cell in line] for line in lines]
    widths = [max(len(line[i]) for line in lines) for i in range(len(columns))]
    out = sys.stdout
    for line in lines:
        cells = [
            cell.rjust(width) if column.right else cell.ljust(width)
            for cell, width, column in zip(line, widths, columns, strict=True)
        ]
        out.write("  ".join(cells).rstrip() + "\n")


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def print_csv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    sys.stdout.write(buffer.getvalue())


def note(message: str) -> None:
    """A message that is not data (e.g. "no keys yet"): on a terminal as usual, else on stderr,
    so a pipe gets no line that looks like a row."""
    if is_terminal():
        Console().print(message)
    else:
        sys.stderr.write(message + "\n")
