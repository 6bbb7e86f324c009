"""`interlink run <tool> [-- tool args]`: start a coding tool wired to this gateway, in one command.

The tool's environment (URL, key, model slots, the switches that keep it off other hosts) is set
for that process only, from the same functions `interlink connect` prints (`cli/connect.py`):
nothing is written to the user's config files. OpenCode gets its config in
`OPENCODE_CONFIG_CONTENT`, Codex as `-c` overrides, Claude Code and Aider as environment and flags.

When nothing answers at `--url` (a 127.0.0.1 / localhost URL), a gateway is started for the run
(`interlink serve` with the same `--config`, on that port, its log in the data dir) and stopped
when the tool exits. Otherwise the tool replaces this process (exec): its exit code and signals
are its own. With a gateway to stop afterwards the tool runs as a child instead: its exit code is
passed through (128+N when a signal N ended it), and SIGTERM, SIGHUP, SIGQUIT, SIGUSR1/2 are
forwarded; SIGINT too, unless this process is in the terminal's foreground group (then Ctrl-C
already reached the tool, and forwarding it would make it a second Ctrl-C).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

from interlink.cli import connect

FORWARDED = (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
START_SECONDS = 120.0  # the built-in local model starts before the gateway listens
STOP_SECONDS = 40.0
OPEN_KEY = "interlink-run"  # any key does for a gateway without keys; tools insist on having one


@dataclass(slots=True)
class Plan:
    """What to execute: the tool's argv and the variables added to its environment."""

    argv: list[str]
    env: dict[str, str]


Builder = Callable[[str, str, str, connect.Limits | None, list[str]], Plan]


def claude_plan(url: str, key: str, model: str, limits: connect.Limits | None, args: list[str]) -> Plan:
    return Plan(["claude", *args], connect.claude_env(url, key, model, limits))


def opencode_plan(url: str, key: str, model: str, limits: connect.Limits | None, args: list[str]) -> Plan:
    config = connect.opencode_config(url, key, [model], model, {model: limits} if limits else None)
    env = {"OPENCODE_CONFIG_CONTENT": json.dumps(config), **connect.OPENCODE_QUIET_ENV}
    return Plan(["opencode", *args], env)


def codex_plan(url: str, key: str, model: str, limits: connect.Limits | None, args: list[str]) -> Plan:
    """`interlink connect codex`'s config.toml as `-c key=value` overrides, so ~/.codex stays the user's."""
    overrides = []
    for name, value in _flatten(tomllib.loads(connect.codex_config(url, model, limits=limits))):
        overrides += ["-c", f"{name}={json.dumps(value)}"]  # a JSON string or number is a TOML value
    return Plan(["codex", *overrides, *args], {connect.CODEX_ENV_KEY: key})


def _flatten(table: dict[str, object], prefix: str = "") -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for name, value in table.items():
        if isinstance(value, dict):
            out += _flatten(value, f"{prefix}{name}.")
        else:
            out.append((f"{prefix}{name}", value))
    return out


def aider_plan(url: str, key: str, model: str, limits: connect.Limits | None, args: list[str]) -> Plan:
    flags, env = connect.aider_command(url, key, model, "openai")
    return Plan(["aider", *flags, *args], env)


TOOLS: dict[str, Builder] = {
    "claude": claude_plan,
    "opencode": opencode_plan,
    "codex": codex_plan,
    "aider": aider_plan,
}


# ------------------------------------------------------------------------------- the gateway
def answers(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{connect.anthropic_base(url)}/health", timeout=timeout) as response:
            return response.status == 200
    except (OSError, ValueError):
        return False


def local_port(url: str) -> int | None:
    """The port of a loopback URL this command may start a gateway on; None for any other URL."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost"):
        return None
    return parts.port or 80


def start_gateway(port: int, config: str | None) -> tuple[subprocess.Popen[bytes], Path]:
    from interlink.cli.main import _load

    settings = _load(config)
    data_dir = Path(settings.data_dir or os.environ.get("INTERLINK_DATA_DIR") or Path.home() / ".local/share/interlink")
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "run-gateway.log"
    argv = [sys.executable, "-m", "interlink.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if config:
        argv += ["--config", config]
    with log_path.open("ab") as log:
        # its own session: a Ctrl-C meant for the tool must not stop the gateway under it
        proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    return proc, log_path


def wait_until_up(url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace").splitlines()[-15:]
            typer.echo(f"error: the gateway exited with {proc.returncode}:\n" + "\n".join(tail), err=True)
            raise typer.Exit(1)
        if answers(url, timeout=1.0):
            return
        time.sleep(0.2)
    stop_gateway(proc)
    typer.echo(f"error: the gateway did not answer at {url} within {START_SECONDS:g} s (log: {log_path})", err=True)
    raise typer.Exit(1)


def stop_gateway(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)  # drains and flushes the usage ledger
    try:
        proc.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------------------------- the tool
def in_foreground() -> bool:
    """Whether this process group owns the terminal (so Ctrl-C reaches the tool by itself)."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY)
    except OSError:
        return False
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)


def run_child(argv: list[str], env: dict[str, str]) -> int:
    """Run the tool as a child, forwarding signals; its exit status, shell style."""
    child = subprocess.Popen(argv, env=env)
    forwarded = [*FORWARDED] + ([] if in_foreground() else [signal.SIGINT])
    previous = {}

    def forward(signum: int, frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    for signum in forwarded:
        previous[signum] = signal.signal(signum, forward)
    if signal.SIGINT not in forwarded:
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        code = child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 128 - code if code < 0 else code


def run(
    tool: Annotated[str, typer.Argument(help=f"One of: {', '.join(TOOLS)}.")],
    args: Annotated[list[str] | None, typer.Argument(help="Arguments for the tool, after `--`.")] = None,
    url: Annotated[str, typer.Option(help="The gateway's URL.")] = connect.DEFAULT_URL,
    key: Annotated[str | None, typer.Option(help="API key (default: $INTERLINK_API_KEY).", show_default=False)] = None,
    model: Annotated[
        str | None,
        typer.Option(help="Model for every slot of the tool (default: the gateway's first).", show_default=False),
    ] = None,
    config: Annotated[
        str | None,
        typer.Option("--config", "-c", help="Config for a gateway started by this command.", show_default=False),
    ] = None,
    start: Annotated[
        bool, typer.Option("--start/--no-start", help="Start a gateway when none answers at --url.")
    ] = True,
) -> None:
    """Run a coding tool through this gateway: `interlink run claude -- -p "fix the tests"`.

    The tool's URL, key and models are set for that process only. When no gateway answers at a
    127.0.0.1 --url, one is started for the run and stopped when the tool exits."""
    build = TOOLS.get(tool.lower())
    if build is None:
        typer.echo(f"error: unknown tool {tool!r}; choose one of: {', '.join(TOOLS)}", err=True)
        raise typer.Exit(2)
    gateway = None
    if not answers(url):
        port = local_port(url)
        if not start or port is None:
            typer.echo(f"error: no gateway answers at {url}" + ("" if start else " (--no-start)"), err=True)
            raise typer.Exit(1)
        gateway, log_path = start_gateway(port, config)
        typer.echo(f"interlink: started a gateway at {url} for this run (log: {log_path})", err=True)
        wait_until_up(url, gateway, log_path)
    try:
        code = _run_tool(tool.lower(), build, url, key, model, args or [], exec_allowed=gateway is None)
    finally:
        if gateway is not None:
            stop_gateway(gateway)
    raise typer.Exit(code)


def _run_tool(
    tool: str, build: Builder, url: str, key: str | None, model: str | None, args: list[str], *, exec_allowed: bool
) -> int:
    key = key or os.environ.get("INTERLINK_API_KEY") or OPEN_KEY
    found = connect.gateway_models(url, key)
    if isinstance(found, str):
        typer.echo(f"error: {found}", err=True)
        return 1
    chosen = model or (found.models[0] if found.models else None)
    if chosen is None:
        typer.echo(f"error: the gateway at {url} serves no models; configure some (README) or pass --model", err=True)
        return 1
    plan = build(url, key, chosen, found.limits.get(chosen), args)
    binary = shutil.which(plan.argv[0])
    if binary is None:
        typer.echo(f"error: {plan.argv[0]} is not on PATH; install {tool} first", err=True)
        return 127
    env = {**os.environ, **plan.env}
    typer.echo(f"interlink: {tool} → {url} with model {chosen}", err=True)
    if exec_allowed:
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(binary, [binary, *plan.argv[1:]], env)  # no return: the tool is this process now
    return run_child([binary, *plan.argv[1:]], env)


def register(app: typer.Typer) -> None:
    app.command(
        "run",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )(run)
