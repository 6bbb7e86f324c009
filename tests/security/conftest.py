"""A real `interlink serve` per test (or module), started the way an operator would: its own
store, keys made with the CLI, a config file. Each test reproduces one finding of the security
review against it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.contract.conftest import free_port, gateway_env, start_emulator, stop, wait_ready, write_config

UPSTREAM_KEY = "sk-emu-secret-7f3a9c1e5b2d4f6a8c0e"


@dataclass
class Gateway:
    url: str
    config: Path
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    emulator: str = ""

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "interlink.cli.main", *args, "--config", str(self.config)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"interlink {' '.join(args)} failed: {result.stdout}{result.stderr}")
        return result

    def create_key(self, name: str, *options: str) -> str:
        out = self.cli("keys", "create", "--name", name, *options).stdout
        match = re.search(r"(sk-il-\S+)", out)
        assert match, out
        return match.group(1)

    def post(self, path: str, body: object, key: str | None = None, **kwargs: object) -> httpx.Response:
        headers = {"x-api-key": key} if key else {}
        headers.update(kwargs.pop("headers", {}))  # type: ignore[arg-type]
        return httpx.post(self.url + path, json=body, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]

    def chat(self, key: str | None = None, model: str = "via-chat", **extra: object) -> httpx.Response:
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}
        return self.post("/v1/chat/completions", body, key)

    def metrics(self) -> str:
        return httpx.get(self.url + "/metrics", timeout=10).text

    def open_streams(self) -> float:
        match = re.search(r"^interlink_open_streams (\S+)$", self.metrics(), re.M)
        return float(match.group(1)) if match else 0.0

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(40)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return -9

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Launcher:
    root: Path
    emulator: str
    started: list[Gateway] = field(default_factory=list)

    def prepare(
        self, name: str, *, config: str = "", models: str = "", providers: str = "", env: dict[str, str] | None = None
    ) -> Gateway:
        """A gateway's config, store and environment, not started yet (so keys can be made first)."""
        home = self.root / name
        home.mkdir()
        write_config(
            home / "interlink.yaml", self.emulator, providers=providers, models=models, defaults=_DEFAULTS + config
        )
        environ = gateway_env(home / "data", EMU_KEY=UPSTREAM_KEY, **(env or {}))
        return Gateway(
            url="", config=home / "interlink.yaml", env=environ, log=home / "gateway.log", emulator=self.emulator
        )

    def start(self, gateway: Gateway, *, host: str = "127.0.0.1", args: tuple[str, ...] = ()) -> Gateway:
        port = free_port()
        handle = gateway.log.open("ab")
        cmd = [sys.executable, "-m", "interlink.cli.main", "serve", "--config", str(gateway.config)]
        gateway.proc = subprocess.Popen(
            [*cmd, "--host", host, "--port", str(port), *args], stdout=handle, stderr=subprocess.STDOUT, env=gateway.env
        )
        gateway.url = f"http://{host}:{port}"
        self.started.append(gateway)
        try:
            wait_ready(gateway.url + "/health", gateway.proc, timeout=60)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{gateway.log_text()}") from None
        return gateway

    def launch(self, name: str, **kwargs: object) -> Gateway:
        host = kwargs.pop("host", "127.0.0.1")
        return self.start(self.prepare(name, **kwargs), host=host)  # type: ignore[arg-type]


_DEFAULTS = """
defaults:
  retry: {attempts: 2, budget_seconds: 10, backoff_base: 0.05, backoff_max: 0.2}
  keepalive_seconds: 15
"""


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    port = free_port()
    proc = start_emulator(port)
    yield f"http://127.0.0.1:{port}"
    stop(proc)


@pytest.fixture
def gateways(tmp_path: Path, emulator_url: str) -> Iterator[Launcher]:
    launcher = Launcher(tmp_path, emulator_url)
    yield launcher
    for gateway in launcher.started:
        if gateway.proc is not None and gateway.proc.poll() is None:
            gateway.proc.kill()
            gateway.proc.wait(10)


def until(check: object, timeout: float = 10.0, interval: float = 0.1) -> object:
    """Poll `check()` until it returns something truthy (the key cache is up to 1 s old)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()  # type: ignore[operator]
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")
