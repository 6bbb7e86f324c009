"""`interlink db upgrade`, and how every store command opens the store.

Commands load the same config as `serve` (so they act on the same database), run the migrations
(so a fresh install works without a separate step), do their work and close the engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

if TYPE_CHECKING:
    from interlink.store import Database

T = TypeVar("T")

ConfigOption = Annotated[
    str | None,
    typer.Option(
        "--config",
        "-c",
        help="YAML config file (default: $INTERLINK_CONFIG); its database_url / data_dir pick the store.",
        show_default=False,
    ),
]

app = typer.Typer(help="The database: migrations.", no_args_is_help=True)


def open_database(config: str | None) -> Database:
    # Imported here: interlink.cli.main imports this module while registering the sub-apps.
    from interlink.cli.main import _load
    from interlink.store import Database

    return Database.from_config(_load(config))


def with_store(config: str | None, work: Callable[[Database], Awaitable[T]]) -> T:
    """Open the store, migrate it, run `work`, close it; a store failure is one line on stderr."""
    db = open_database(config)

    async def run() -> T:
        try:
            await db.start()
            return await work(db)
        finally:
            await db.close()

    try:
        return asyncio.run(run())
    except (OSError, ConnectionError) as exc:
        typer.echo(f"error: cannot reach the database {db.describe()}: {exc}", err=True)
        raise typer.Exit(1) from None
    except Exception as exc:
        if type(exc).__module__.startswith(("sqlalchemy", "asyncpg", "sqlite3", "alembic")):
            typer.echo(f"error: database {db.describe()}: {type(exc).__name__}: {str(exc).splitlines()[0]}", err=True)
            raise typer.Exit(1) from None
        raise


@app.command()
def upgrade(config: ConfigOption = None) -> None:
    """Run pending migrations (also done automatically when the gateway starts)."""

    async def work(db: Database) -> tuple[str, str | None]:
        return db.describe(), await db.revision()

    where, revision = with_store(config, work)
    typer.echo(f"database {where} is at revision {revision}")
