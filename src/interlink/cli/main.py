"""`interlink`: serve the gateway, check a config.

Every command takes the same `--config` as `serve` (or `INTERLINK_CONFIG`), so each acts on the
same providers, models and store.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Annotated

import typer

from interlink import __version__
from interlink.config import ConfigError, load_config
from interlink.config.settings import Config

app = typer.Typer(
    help="Interlink: one base URL for Anthropic Messages, OpenAI Chat Completions and OpenAI Responses clients, any upstream.",
    no_args_is_help=True,
    add_completion=False,
)

ConfigOption = Annotated[
    str | None,
    typer.Option(
        "--config",
        "-c",
        help="YAML config file (default: $INTERLINK_CONFIG, else providers from ANTHROPIC_API_KEY / OPENAI_API_KEY).",
        show_default=False,
    ),
]


def _load(config: str | None) -> Config:
    try:
        return load_config(config)
    except ConfigError as error:
        typer.echo(f"error: config {error.source} has {len(error.problems)} problem(s):", err=True)
        for problem in error.problems:
            typer.echo(f"  - {problem}", err=True)
        raise typer.Exit(2) from None


@app.command()
def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1 or server.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 4000 or server.port).")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    allow_open: Annotated[
        bool, typer.Option("--allow-open", help="Serve without API keys on a non-loopback address.")
    ] = False,
) -> None:
    """Start the gateway."""
    from interlink.local import LocalModelError, start_local
    from interlink.server.app import create_app
    from interlink.server.logs import setup_logging
    from interlink.server.run import run_server
    from interlink.server.service import open_gateway_problem

    settings = _load(config)
    setup_logging(log_level)
    log = logging.getLogger("interlink")
    bind_host = host or settings.server.host
    bind_port = port if port is not None else settings.server.port
    # The command line wins over the file; the service reads both from the config it is given.
    settings.server.host, settings.server.port = bind_host, bind_port
    settings.server.allow_open = allow_open or settings.server.allow_open
    problem = asyncio.run(open_gateway_problem(settings))
    if problem:
        typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2)
    try:
        local = start_local(settings)  # the built-in model, when wanted and installed
    except LocalModelError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    if not settings.models:
        log.warning(
            "no models configured: model calls will answer 404 with a hint. "
            "Pass --config FILE (see README) or set ANTHROPIC_API_KEY / OPENAI_API_KEY."
        )
    log.info(
        "interlink starting",
        extra={
            "fields": {
                "version": __version__,
                "url": f"http://{bind_host}:{bind_port}",
                "config": settings.source,
                "models": sorted(settings.models),
                "providers": sorted(settings.providers),
            }
        },
    )
    try:
        run_server(
            create_app(settings, local=local),
            host=bind_host,
            port=bind_port,
            drain_seconds=settings.server.drain_seconds,
            limits=settings.server.limits,
        )
    finally:
        if local is not None:
            local.stop()


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Port for the gateway.")] = 4000,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run the gateway in front of the built-in upstream emulator (no keys, no network)."""
    import uvicorn

    from interlink.cli import demo as demo_mod
    from interlink.server.app import create_app
    from interlink.server.logs import setup_logging

    emulator_port = demo_mod.free_port()
    emulator = demo_mod.start_emulator(emulator_port)
    try:
        settings = demo_mod.demo_config(f"http://127.0.0.1:{emulator_port}")
        setup_logging(log_level)
        typer.echo(demo_mod.banner(f"http://127.0.0.1:{port}"))
        uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning", access_log=False)
    finally:
        emulator.terminate()


@app.command("check-config")
def check_config(config: Annotated[str, typer.Argument(help="The YAML config file to check.")]) -> None:
    """Validate a config file and list every problem with its key path."""
    settings = _load(config)
    typer.echo(f"{config}: ok ({len(settings.providers)} providers, {len(settings.models)} models)")


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


from interlink.cli import connect as _connect  # noqa: E402 - registers `interlink connect`

_connect.register(app)

from interlink.cli import doctor as _doctor  # noqa: E402 - registers `interlink doctor`

_doctor.register(app)

from interlink.cli import run as _run  # noqa: E402 - registers `interlink run`

_run.register(app)

from interlink.cli import db as _db  # noqa: E402 - the store commands
from interlink.cli import keys as _keys  # noqa: E402
from interlink.cli import usage as _usage  # noqa: E402

app.add_typer(_keys.app, name="keys")
app.add_typer(_usage.app, name="usage")
app.add_typer(_db.app, name="db")


def main() -> None:
    sys.exit(app())


if __name__ == "__main__":
    main()
