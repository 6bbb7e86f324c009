"""A real `interlink serve` process in front of the upstream emulator, for contract tests.

Both run as subprocesses on free 127.0.0.1 ports. The gateway's config exposes one public model
per upstream API, so each test picks its translation path by model name.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from interlink.testing import emulator_aws as aws
from interlink.testing.emulator_clouds import AZURE_KEY

UPSTREAMS = {
    "via-anthropic": "anthropic",
    "via-chat": "openai-chat",
    "via-responses": "openai-responses",
    "via-bedrock": "bedrock",
    "via-bedrock-converse": "bedrock-converse",
    "via-vertex": "vertex",
    "via-azure": "azure-chat",
    "via-azure-responses": "azure-responses",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout} s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@dataclass
class Stack:
    gateway: str
    emulator: str
    log: Path

    def upstream_requests(self) -> list[dict]:
        return httpx.get(f"{self.emulator}/_emu/requests").json()

    def reset(self) -> None:
        httpx.post(f"{self.emulator}/_emu/reset")

    def gateway_log(self) -> str:
        return self.log.read_text()


def start_emulator(port: int, *args: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "interlink.testing.emulator", "--port", str(port), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_ready(f"http://127.0.0.1:{port}/health", proc)
    return proc


DEFAULTS = """
defaults:
  retry: {attempts: 3, budget_seconds: 20, backoff_base: 0.05, backoff_max: 0.2}
  keepalive_seconds: 15
"""


def write_config(path: Path, emulator: str, *, providers: str = "", models: str = "", defaults: str = DEFAULTS) -> None:
    """The emulator-backed models (three APIs, five cloud flavours), plus `providers`/`models`
    lines (indented two spaces). The clouds' credentials: `gateway_env`."""
    write_google_adc(path.parent / GOOGLE_ADC, emulator)
    path.write_text(
        f"""
providers:
  emu-anthropic: {{kind: anthropic, base_url: "{emulator}", api_key: "${{EMU_KEY:-sk-emu}}"}}
  emu-chat: {{kind: openai-chat, base_url: "{emulator}/v1", api_key: sk-emu}}
  emu-responses: {{kind: openai-responses, base_url: "{emulator}/v1", api_key: sk-emu}}
  emu-bedrock: {{kind: bedrock, region: us-east-1, base_url: "{emulator}"}}
  emu-vertex: {{kind: vertex, project: emu-project, location: us-east5, base_url: "{emulator}"}}
  emu-azure: {{kind: azure-openai, base_url: "{emulator}", api_key: {AZURE_KEY}, api_version: "2024-10-21"}}
  emu-azure-v1: {{kind: azure-openai, base_url: "{emulator}/openai/v1", api_key: {AZURE_KEY}, api: openai-responses}}
{providers}
models:
  via-anthropic: {{provider: emu-anthropic, model: claude-emu}}
  via-chat: {{provider: emu-chat, model: gpt-emu}}
  via-responses: {{provider: emu-responses, model: gpt-emu-responses}}
  via-bedrock: {{provider: emu-bedrock, model: "us.anthropic.claude-emu-v1:0"}}
  via-bedrock-converse: {{provider: emu-bedrock, model: "amazon.nova-emu-v1:0"}}
  via-vertex: {{provider: emu-vertex, model: "claude-emu@20250929"}}
  via-azure: {{provider: emu-azure, model: gpt-emu-deployment}}
  via-azure-responses: {{provider: emu-azure-v1, model: gpt-emu-deployment}}
{models}
{defaults}
"""
    )


GOOGLE_ADC = "google-adc.json"


def write_google_adc(path: Path, emulator: str) -> str:
    """A service-account key file whose token endpoint is the emulator's (google-auth signs a JWT
    with the key and trades it there for an access token). Returns the public key (PEM)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    adc = {
        "type": "service_account",
        "project_id": "emu-project",
        "private_key_id": "emu-key-1",
        "private_key": private,
        "client_email": "gateway@emu-project.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": f"{emulator}/token",
    }
    path.write_text(json.dumps(adc))
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return public.decode()


def cloud_env(root: Path) -> dict[str, str]:
    """The clouds' test credentials, and nothing from the developer's own AWS or Google setup."""
    return {
        "AWS_ACCESS_KEY_ID": aws.ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": aws.SECRET_KEY,
        "AWS_CONFIG_FILE": str(root / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(root / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "GOOGLE_APPLICATION_CREDENTIALS": str(root / GOOGLE_ADC),
        "GOOGLE_CLOUD_PROJECT": "emu-project",
    }


def gateway_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a test gateway: its own SQLite store, no shared services unless asked."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("INTERLINK_DATABASE_URL", "INTERLINK_REDIS_URL", "INTERLINK_CONFIG")
        and not k.startswith(("AWS_", "GOOGLE_", "AZURE_"))
    }
    clouds = cloud_env(data_dir.parent)
    return {**env, **clouds, "PYTHONUNBUFFERED": "1", "INTERLINK_DATA_DIR": str(data_dir), **extra}


def start_gateway(config: Path, port: int, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    handle = log.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "interlink.cli.main", "serve", "--config", str(config), "--port", str(port)],
        stdout=handle,
        stderr=subprocess.STDOUT,
        env=env or gateway_env(log.parent / "data"),
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/health", proc)
    except RuntimeError as exc:
        stop(proc)
        raise RuntimeError(f"{exc}\n--- gateway log ---\n{log.read_text()}") from None
    return proc


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("stack")
    emu_port, gw_port = free_port(), free_port()
    emulator = start_emulator(emu_port)
    emu_url = f"http://127.0.0.1:{emu_port}"
    write_config(
        root / "interlink.yaml",
        emu_url,
        providers=f'  emu-strict: {{kind: anthropic, base_url: "{emu_url}", headers: {{x-emu-strict: anthropic}}}}',
        models="  strict-claude: {provider: emu-strict, model: claude-emu}",
    )
    log = root / "gateway.log"
    try:
        gateway = start_gateway(root / "interlink.yaml", gw_port, log)
    except Exception:
        stop(emulator)
        raise
    yield Stack(gateway=f"http://127.0.0.1:{gw_port}", emulator=emu_url, log=log)
    stop(gateway)
    stop(emulator)
