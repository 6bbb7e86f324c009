"""Fixtures for the e2e suite: the installed clients, the emulator, a gateway per test.

The clients are installed once per session by `install_clients.sh` into the cache dir. A client
that cannot be installed here is skipped with the installer's output as the reason, except under
CI=true, where a missing client fails the tests that need it (CI must prove the real clients work).

The gateway is a real `interlink serve` subprocess per test (the contract suite's helpers), in front
of one emulator for the session; its config adds one public model per e2e case, each routed to an
upstream of a different API than its client's.
Its first-token timeout is shorter than the emulator's stall, so `stall_before_first_byte` makes
the gateway give up on that attempt and retry.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.contract.conftest import free_port, start_emulator, start_gateway, stop, write_config
from tests.e2e.clients import CACHE, CASES, UPSTREAM_MODEL

HERE = Path(__file__).resolve().parent
FIRST_TOKEN_S = 3
EMULATOR_STALL_S = 8  # longer than FIRST_TOKEN_S: the stalled attempt is abandoned, not waited out
INSTALL_TIMEOUT_S = 900

DEFAULTS = f"""
defaults:
  retry: {{attempts: 5, budget_seconds: 40, backoff_base: 0.1, backoff_max: 0.5}}
  timeouts: {{connect: 5, first_token: {FIRST_TOKEN_S}, idle: 20, total: 120}}
  keepalive_seconds: 15
"""


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def installed() -> dict[str, str | None]:
    """client name → None when installed, else why not (the installer's output)."""
    clients = sorted({case.client for case in CASES})
    env = {**os.environ, "INTERLINK_E2E_CACHE": str(CACHE)}
    with contextlib.suppress(subprocess.TimeoutExpired):  # each client's stamp below says which ones made it
        subprocess.run(
            ["bash", str(HERE / "install_clients.sh"), *clients],
            env=env,
            capture_output=True,
            timeout=INSTALL_TIMEOUT_S,
            check=False,
        )
    status: dict[str, str | None] = {}
    for client in clients:
        if list((CACHE / client).glob(".installed-*")):
            status[client] = None
            continue
        log = CACHE / "logs" / f"{client}.log"
        output = log.read_text(errors="replace")[-3000:] if log.exists() else "(no installer log)"
        status[client] = f"{client} could not be installed into {CACHE}:\n{output}"
    return status


@pytest.fixture
def client_ready(installed: dict[str, str | None]):
    def check(client: str) -> None:
        reason = installed.get(client)
        if reason is None:
            return
        if _in_ci():
            pytest.fail(reason)
        pytest.skip(reason)

    return check


class E2EStack:
    def __init__(self, gateway: str, emulator: str, log: Path) -> None:
        self.gateway, self.emulator, self.log = gateway, emulator, log

    def reset(self, fault: str | None = None, times: int = 1) -> None:
        httpx.post(f"{self.emulator}/_emu/reset").raise_for_status()
        if fault:
            httpx.post(f"{self.emulator}/_emu/fault", json={"name": fault, "times": times}).raise_for_status()

    def requests(self) -> list[dict]:
        return httpx.get(f"{self.emulator}/_emu/requests").json()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="session")
def emulator_url() -> Iterator[str]:
    port = free_port()
    emulator = start_emulator(port, "--stall-s", str(EMULATOR_STALL_S))
    yield f"http://127.0.0.1:{port}"
    stop(emulator)


@pytest.fixture
def e2e_stack(emulator_url: str, tmp_path: Path) -> Iterator[E2EStack]:
    """A fresh gateway per test: circuit-breaker state from one fault test must not leak into the
    next (a gateway starts in about a second, which the suite can afford)."""
    root = tmp_path / "stack"
    root.mkdir()
    models = "\n".join(f'  {c.model}: {{provider: {c.upstream}, model: "{UPSTREAM_MODEL[c.upstream]}"}}' for c in CASES)
    write_config(root / "interlink.yaml", emulator_url, models=models, defaults=DEFAULTS)
    log = root / "gateway.log"
    # a private data dir and no built-in local model: the suite must not touch the user's state.
    # Set only while the gateway starts (it inherits them), so later tests see the usual env.
    saved = dict(os.environ)
    os.environ.update({"INTERLINK_DATA_DIR": str(root / "data"), "INTERLINK_LOCAL_MODEL": "0"})
    try:
        gateway = start_gateway(root / "interlink.yaml", free_port(), log)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    port = gateway.args[gateway.args.index("--port") + 1]
    yield E2EStack(f"http://127.0.0.1:{port}", emulator_url, log)
    stop(gateway)
