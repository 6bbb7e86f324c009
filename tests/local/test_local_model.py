"""The built-in local model end to end: `interlink serve` with no config and no keys serves
`local/smollm2` (SmolLM2-135M on llama.cpp), reached through all three client APIs with the
official SDKs, stream and non-stream; plus when `attach` adds the model and when it does not.

The end-to-end tests skip when the `local` extra is not installed, except under CI=true, where
`make setup` installs it and a skip would hide a broken install.
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

import anthropic
import httpx
import openai
import pytest

import interlink.local as local
from interlink.config.settings import Config, ModelConfig, ProviderConfig

PROMPT = "What is the capital of France?"
# Temperature 0 makes llama.cpp's output repeatable (the anthropic SDK in use no longer takes
# `temperature`, so Anthropic calls sample); a few dozen tokens take well under a second.
GEN = {"temperature": 0.0}
MAX_TOKENS = 32


# ------------------------------------------------------------------------- attach: no process


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Pretend the local extra is installed (attach only needs the GGUF path)."""
    gguf = tmp_path / local.GGUF_NAME
    gguf.write_bytes(b"GGUF")
    monkeypatch.setattr(local, "missing", lambda: None)
    monkeypatch.setattr(local, "find_gguf", lambda: gguf)
    monkeypatch.delenv(local.ENV_SWITCH, raising=False)
    return gguf


def _configured() -> Config:
    return Config(
        providers={"up": ProviderConfig(kind="openai-chat", base_url="http://127.0.0.1:9/v1")},
        models={"m": ModelConfig(provider="up")},
    )


def test_attach_adds_provider_and_model_when_config_is_empty(installed: Path, tmp_path: Path) -> None:
    config = Config(data_dir=str(tmp_path))
    handle = local.attach(config)
    assert handle is not None and handle.gguf == installed
    provider = config.providers["local"]
    assert (provider.kind, provider.preset, provider.base_url) == ("openai-chat", "llamacpp", handle.base_url)
    assert handle.base_url.startswith("http://127.0.0.1:") and handle.base_url.endswith("/v1")
    assert config.models["local/smollm2"].provider == "local"
    assert config.models["local/smollm2"].model == "smollm2"
    assert handle.log_path.parent == tmp_path


@pytest.mark.parametrize("models", [True, False])
def test_attach_leaves_a_configured_gateway_alone(installed: Path, models: bool) -> None:
    config = _configured()
    if not models:
        config.models.clear()  # providers alone, called as <provider>/<model>, count as configured
    assert local.attach(config) is None
    assert "local" not in config.providers


def test_local_model_true_adds_it_next_to_configured_models(installed: Path) -> None:
    config = _configured()
    config.local_model = True
    assert local.attach(config) is not None
    assert sorted(config.models) == ["local/smollm2", "m"]


@pytest.mark.parametrize("how", ["config", "env"])
def test_local_model_can_be_turned_off(installed: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    config = Config()
    if how == "config":
        config.local_model = False
    else:
        monkeypatch.setenv(local.ENV_SWITCH, "0")
    assert local.attach(config) is None
    assert not config.models


def test_local_model_true_without_the_extra_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "missing", lambda: "llama-cpp-python is not installed")
    assert local.attach(Config()) is None  # automatic: quietly not served
    with pytest.raises(local.LocalModelError, match="make setup"):
        local.attach(Config(local_model=True))


# ----------------------------------------------------------------------- the real model, served


def _require_local_extra() -> None:
    problem = local.missing()
    if problem is None:
        return
    reason = f"local model not installed: {problem} ({local.INSTALL_HINT})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI installs it with `make setup`, so this is a broken setup")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Served:
    url: str
    log: Path
    proc: subprocess.Popen[bytes]

    def log_lines(self) -> list[dict]:
        lines = []
        for line in self.log.read_text().splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
        return lines

    def model_server_url(self) -> str:
        return next(e["upstream"] for e in self.log_lines() if e.get("msg") == "local model ready")


def _start(tmp: Path) -> Served:
    port = _free_port()
    log = tmp / "gateway.log"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "INTERLINK_CONFIG", local.ENV_SWITCH)
    }
    env.update(INTERLINK_DATA_DIR=str(tmp), PYTHONUNBUFFERED="1")
    with log.open("wb") as handle:
        proc = subprocess.Popen(
            [sys.executable, "-m", "interlink.cli.main", "serve", "--port", str(port)],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # the model server starts before the gateway listens
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"interlink serve exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return Served(url, log, proc)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    pytest.fail(f"interlink serve not ready after 120 s:\n{log.read_text()}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    _require_local_extra()
    stack = _start(tmp_path_factory.mktemp("local"))
    try:
        yield stack
    finally:
        _stop(stack.proc)


def _real_text(text: str | None) -> str:
    assert text and text.strip(), f"no generated text: {text!r}"
    assert any(ch.isalpha() for ch in text), f"not words: {text!r}"
    return text


def test_serve_without_config_lists_the_local_model(served: Served) -> None:
    models = httpx.get(f"{served.url}/v1/models").json()
    assert [m["id"] for m in models["data"]] == ["local/smollm2"]
    ready = next(e for e in served.log_lines() if e.get("msg") == "local model ready")
    assert ready["start_seconds"] < 60 and Path(ready["weights"]).is_file()


def test_only_the_local_models_real_name_is_served(served: Served) -> None:
    """llama.cpp's server would answer any name with SmolLM2: the gateway serves only its name."""
    body = {"model": "local/gpt-5", "messages": [{"role": "user", "content": "hi"}]}
    refused = httpx.post(f"{served.url}/v1/chat/completions", json=body, timeout=30)
    assert refused.status_code == 404 and "local/smollm2" in refused.json()["error"]["message"]


def test_connect_offers_the_model_the_gateway_serves(served: Served) -> None:
    from typer.testing import CliRunner

    from interlink.cli.main import app

    result = CliRunner().invoke(app, ["connect", "opencode", "--url", served.url])
    assert result.exit_code == 0, result.output
    config = json.loads(result.stdout)
    assert config["model"] == "interlink/local/smollm2"
    entry = config["provider"]["interlink"]["models"]["local/smollm2"]
    assert entry["limit"] == {"context": 8192, "output": 4096}


def test_anthropic_messages(served: Served) -> None:
    client = anthropic.Anthropic(base_url=served.url, api_key="unused")
    message = client.messages.create(
        model="local/smollm2", max_tokens=MAX_TOKENS, messages=[{"role": "user", "content": PROMPT}]
    )
    assert message.model == "local/smollm2"
    assert message.stop_reason in ("end_turn", "max_tokens")
    _real_text("".join(b.text for b in message.content if b.type == "text"))
    assert message.usage.output_tokens > 0


def test_anthropic_messages_stream(served: Served) -> None:
    client = anthropic.Anthropic(base_url=served.url, api_key="unused")
    with client.messages.stream(
        model="local/smollm2", max_tokens=MAX_TOKENS, messages=[{"role": "user", "content": PROMPT}]
    ) as stream:
        deltas = list(stream.text_stream)
        message = stream.get_final_message()
    assert len(deltas) > 1  # token by token, not one buffered chunk
    assert message.stop_reason in ("end_turn", "max_tokens")
    assert _real_text("".join(deltas)) == "".join(b.text for b in message.content if b.type == "text")


def test_openai_chat(served: Served) -> None:
    client = openai.OpenAI(base_url=f"{served.url}/v1", api_key="unused")
    completion = client.chat.completions.create(
        model="local/smollm2", max_tokens=MAX_TOKENS, **GEN, messages=[{"role": "user", "content": PROMPT}]
    )
    choice = completion.choices[0]
    assert choice.finish_reason in ("stop", "length")
    _real_text(choice.message.content)
    assert completion.usage is not None and completion.usage.completion_tokens > 0


def test_openai_chat_stream(served: Served) -> None:
    # Raw chunks, not the SDK's .stream() helper: that one raises on finish_reason "length".
    client = openai.OpenAI(base_url=f"{served.url}/v1", api_key="unused")
    chunks = list(
        client.chat.completions.create(
            model="local/smollm2",
            max_tokens=MAX_TOKENS,
            stream=True,
            **GEN,
            messages=[{"role": "user", "content": PROMPT}],
        )
    )
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(deltas) > 1
    assert finish in (["stop"], ["length"])
    _real_text("".join(deltas))


def test_openai_responses(served: Served) -> None:
    client = openai.OpenAI(base_url=f"{served.url}/v1", api_key="unused")
    response = client.responses.create(
        model="local/smollm2", max_output_tokens=MAX_TOKENS, store=False, input=PROMPT, **GEN
    )
    assert response.status in ("completed", "incomplete")
    assert response.error is None
    _real_text(response.output_text)


def test_openai_responses_stream(served: Served) -> None:
    # Raw events: the SDK's get_final_response() wants response.completed, and a reply cut at
    # max_output_tokens ends with response.incomplete instead (as OpenAI's does).
    client = openai.OpenAI(base_url=f"{served.url}/v1", api_key="unused")
    events = list(
        client.responses.create(
            model="local/smollm2", max_output_tokens=MAX_TOKENS, store=False, stream=True, input=PROMPT, **GEN
        )
    )
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) > 1
    assert events[-1].type in ("response.completed", "response.incomplete")
    assert _real_text("".join(deltas)) == events[-1].response.output_text


def test_stopping_the_gateway_stops_the_model_server(tmp_path: Path) -> None:
    _require_local_extra()
    stack = _start(tmp_path)
    model_url = stack.model_server_url()
    assert httpx.get(f"{model_url}/models", timeout=5).status_code == 200
    _stop(stack.proc)
    assert stack.proc.returncode is not None
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{model_url}/models", timeout=2)
