"""A gateway with short timeouts and keepalives in front of an emulator whose faults tests set."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from interlink.testing.emulator_clouds import CLOUD_PREFIXES
from tests.contract.conftest import Stack, free_port, start_emulator, start_gateway, stop, write_config

STALL_S = 4  # the emulator's stalls; longer than the gateway's first-token and idle timeouts
KEEPALIVE_S = 0.5


@dataclass
class FaultStack(Stack):
    def fault(self, name: str, times: int = 1) -> None:
        r = httpx.post(f"{self.emulator}/_emu/fault", json={"name": name, "times": times})
        assert r.status_code == 200, r.text

    def clear(self) -> None:
        self.reset()  # drops the recorded requests and any queued faults

    def model_requests(self) -> list[dict]:
        model_paths = ("/v1/messages", "/v1/chat", "/v1/responses", *CLOUD_PREFIXES)
        return [r for r in self.upstream_requests() if r["path"].startswith(model_paths)]


@pytest.fixture(scope="session")
def faults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStack]:
    root = tmp_path_factory.mktemp("faults")
    emu_port, gw_port = free_port(), free_port()
    # Bound but never listening: connections are refused, and no server started later in the
    # session can take the port and answer (a 404 from a stranger made failover tests flaky).
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]
    emulator = start_emulator(emu_port, "--stall-s", str(STALL_S))
    emu = f"http://127.0.0.1:{emu_port}"
    write_config(
        root / "interlink.yaml",
        emu,
        providers=f'  dead: {{kind: openai-chat, base_url: "http://127.0.0.1:{dead_port}/v1"}}',
        models="""
  with-fallback: {provider: dead, model: gpt-x, fallbacks: [via-anthropic]}
  two-deployments: {deployments: [{provider: dead, model: gpt-x}, {provider: emu-chat, model: gpt-emu}]}
  slow-chat: {provider: emu-chat, model: "gpt-emu@delay=300"}
""",
        defaults=f"""
defaults:
  retry: {{attempts: 3, budget_seconds: 15, backoff_base: 0.05, backoff_max: 0.2}}
  timeouts: {{connect: 2, first_token: 2, idle: 1.5, total: 30}}
  keepalive_seconds: {KEEPALIVE_S}
""",
    )
    log = root / "gateway.log"
    try:
        gateway = start_gateway(root / "interlink.yaml", gw_port, log)
    except Exception:
        stop(emulator)
        raise
    yield FaultStack(gateway=f"http://127.0.0.1:{gw_port}", emulator=emu, log=log)
    stop(gateway)
    stop(emulator)
    dead.close()


@pytest.fixture
def fault_stack(faults: FaultStack) -> Iterator[FaultStack]:
    faults.clear()
    yield faults
    faults.clear()
