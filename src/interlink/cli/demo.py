"""`interlink demo`: the gateway in front of the built-in upstream emulator.

No keys and no network: the emulator answers in all three upstream APIs, so every client API
can be tried against every upstream API on one machine, translation included.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from interlink.config.loader import parse_config
from interlink.config.settings import Config

DEMO_MODELS = {
    "demo-anthropic": ("emu-anthropic", "claude-emu"),
    "demo-chat": ("emu-chat", "gpt-emu"),
    "demo-responses": ("emu-responses", "gpt-emu-responses"),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_emulator(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "interlink.testing.emulator", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=0.5) as reply:
                if reply.status == 200:
                    return proc
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the upstream emulator did not start")


def demo_config(emulator_url: str) -> Config:
    return parse_config(
        {
            "providers": {
                "emu-anthropic": {"kind": "anthropic", "base_url": emulator_url, "api_key": "demo"},
                "emu-chat": {"kind": "openai-chat", "base_url": f"{emulator_url}/v1", "api_key": "demo"},
                "emu-responses": {"kind": "openai-responses", "base_url": f"{emulator_url}/v1", "api_key": "demo"},
            },
            "models": {name: {"provider": p, "model": m} for name, (p, m) in DEMO_MODELS.items()},
        },
        "demo",
    )


def banner(url: str) -> str:
    return f"""
Interlink demo: {url}
  upstream: the built-in emulator, speaking Anthropic Messages, OpenAI Chat and OpenAI Responses
  models:   {", ".join(DEMO_MODELS)} (each served by the upstream API its name says)

Try a translated call (an Anthropic client reaching an OpenAI Chat upstream):
  curl -s {url}/v1/messages -H 'content-type: application/json' \\
    -d '{{"model":"demo-chat","max_tokens":100,"messages":[{{"role":"user","content":"hello"}}]}}'
  curl -sN {url}/v1/chat/completions -H 'content-type: application/json' \\
    -d '{{"model":"demo-anthropic","stream":true,"messages":[{{"role":"user","content":"hello"}}]}}'
"""
