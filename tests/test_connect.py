"""`interlink connect <tool>`: what it prints parses, and carries the URL, key and model.

The e2e suite (tests/e2e) proves the same generated configs work with the real clients; this file
checks the command's output cheaply, through typer's CliRunner.
"""

from __future__ import annotations

import json
import shlex
import socket
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from interlink.cli import connect
from interlink.cli.main import app

URL = "http://gw.example:4100"
KEY = "sk-test-123"


@pytest.fixture
def config_file(tmp_path: Path) -> str:
    path = tmp_path / "interlink.yaml"
    path.write_text(
        "providers:\n"
        "  a: {kind: anthropic, base_url: 'http://127.0.0.1:9', api_key: x}\n"
        "models:\n"
        "  first-model: {provider: a}\n"
        "  second-model: {provider: a}\n"
        "  'claude-*': {provider: a}\n"
    )
    return str(path)


def run(*args: str, env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(app, ["connect", *args], env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_opencode_json_has_three_providers_on_the_gateway(config_file: str) -> None:
    config = json.loads(run("opencode", "--url", URL, "--key", KEY, "--config", config_file))
    assert config["model"] == "interlink/first-model"
    providers = config["provider"]
    assert providers["interlink"]["npm"] == "@ai-sdk/openai-compatible"
    for name in ("interlink", "anthropic", "openai"):
        assert providers[name]["options"] == {"baseURL": f"{URL}/v1", "apiKey": KEY}
        assert set(providers[name]["models"]) == {"first-model", "second-model"}  # no pattern


def test_crush_json(config_file: str) -> None:
    config = json.loads(run("crush", "--url", URL, "--key", KEY, "--config", config_file, "--model", "second-model"))
    assert config["models"]["large"] == {"model": "second-model", "provider": "interlink"}
    assert config["providers"]["interlink"]["base_url"] == f"{URL}/v1"
    assert config["providers"]["interlink-anthropic"]["base_url"] == URL  # Anthropic: no /v1
    assert config["providers"]["interlink"]["api_key"] == KEY


def _exports(text: str) -> dict[str, str]:
    env = {}
    for line in text.splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export ") :].partition("=")
            env[name] = shlex.split(value)[0]
    return env


def test_claude_env_without_v1(config_file: str) -> None:
    env = _exports(run("claude", "--url", f"{URL}/v1", "--key", KEY, "--config", config_file))
    assert env["ANTHROPIC_BASE_URL"] == URL
    assert env["ANTHROPIC_AUTH_TOKEN"] == KEY
    assert env["ANTHROPIC_MODEL"] == "first-model"
    assert env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"


def test_codex_toml(config_file: str) -> None:
    out = run("codex", "--url", URL, "--key", KEY, "--config", config_file)
    config = tomllib.loads(out)
    assert config["model"] == "first-model"
    provider = config["model_providers"][config["model_provider"]]
    assert provider["base_url"] == f"{URL}/v1"
    assert provider["wire_api"] == "responses"
    # the file names the variable; the key itself only goes to the terminal, never into the file
    assert KEY not in out
    result = CliRunner().invoke(app, ["connect", "codex", "--url", URL, "--key", KEY, "--config", config_file])
    assert f"export {provider['env_key']}={KEY}" in result.stderr


def test_aider_both_paths(config_file: str) -> None:
    lines = [
        line
        for line in run("aider", "--url", URL, "--key", KEY, "--config", config_file).splitlines()
        if line and not line.startswith("#")
    ]
    openai_path, anthropic_path = (shlex.split(line) for line in lines)
    assert openai_path[openai_path.index("--model") + 1] == "openai/first-model"
    assert openai_path[openai_path.index("--openai-api-base") + 1] == f"{URL}/v1"
    assert openai_path[openai_path.index("--openai-api-key") + 1] == KEY
    assert f"ANTHROPIC_BASE_URL={URL}" in anthropic_path
    assert f"ANTHROPIC_API_KEY={KEY}" in anthropic_path
    assert "anthropic/first-model" in anthropic_path


@pytest.mark.parametrize("tool", ["cline", "cursor"])
def test_settings_text(tool: str, config_file: str) -> None:
    out = run(tool, "--url", URL, "--key", KEY, "--config", config_file)
    assert f"{URL}/v1" in out and KEY in out and "first-model" in out


def test_defaults_key_from_env_and_placeholder(config_file: str) -> None:
    out = json.loads(run("opencode", "--config", config_file, env={"INTERLINK_API_KEY": "sk-env"}))
    assert out["provider"]["interlink"]["options"] == {"baseURL": "http://127.0.0.1:4000/v1", "apiKey": "sk-env"}
    out = json.loads(run("opencode", "--config", config_file, env={"INTERLINK_API_KEY": ""}))
    assert out["provider"]["interlink"]["options"]["apiKey"] == connect.KEY_PLACEHOLDER


def test_unknown_tool_is_an_error() -> None:
    result = CliRunner().invoke(app, ["connect", "vim"])
    assert result.exit_code == 2
    assert "opencode" in result.output


def test_every_tool_renders() -> None:
    assert set(connect.RENDERERS) == set(connect.TOOLS)


# ------------------------------------------------------------------ models from the gateway
@pytest.fixture
def fake_gateway() -> Iterator[str]:
    """A `/v1/models` that needs the key and reports limits, like `interlink serve` does."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.headers.get("authorization") != f"Bearer {KEY}":
                self.send_response(401)
                self.end_headers()
                return
            body = {
                "object": "list",
                "data": [
                    {"id": "big", "object": "model", "context_window": 200000, "max_output_tokens": 64000},
                    {"id": "small", "object": "model", "context_window": 32768, "max_output_tokens": 8192},
                    {"id": "unknown", "object": "model"},
                ],
            }
            payload = json.dumps(body).encode() if self.path == "/v1/models" else b"{}"
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_models_and_their_limits_come_from_the_running_gateway(fake_gateway: str) -> None:
    config = json.loads(run("opencode", "--url", fake_gateway, "--key", KEY, "--model", "small"))
    models = config["provider"]["interlink"]["models"]
    assert list(models) == ["big", "small", "unknown"] and config["model"] == "interlink/small"
    assert models["small"]["limit"] == {"context": 32768, "output": 8192}
    assert "limit" not in models["unknown"]  # nothing claimed where the gateway knows nothing
    codex = tomllib.loads(run("codex", "--url", fake_gateway, "--key", KEY, "--model", "small"))
    assert codex["model_context_window"] == 32768
    env = _exports(run("claude", "--url", fake_gateway, "--key", KEY, "--model", "small"))
    assert env["CLAUDE_CODE_AUTO_COMPACT_WINDOW"] == "32768"
    assert "CLAUDE_CODE_AUTO_COMPACT_WINDOW" not in _exports(run("claude", "--url", fake_gateway, "--key", KEY))


def test_a_gateway_that_refuses_the_key_is_named(fake_gateway: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("INTERLINK_CONFIG", "ANTHROPIC_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("INTERLINK_LOCAL_MODEL", "0")
    result = CliRunner().invoke(app, ["connect", "opencode", "--url", fake_gateway, "--key", "sk-wrong"])
    assert result.exit_code == 0
    assert "refused to list its models (HTTP 401): pass --key" in result.stderr
    assert json.loads(result.stdout)["model"] == f"interlink/{connect.MODEL_PLACEHOLDER}"


def test_with_nothing_running_and_nothing_configured_it_offers_the_local_model(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from interlink import local

    if local.missing() is not None:
        pytest.skip(f"local model not installed: {local.missing()}")
    for var in ("INTERLINK_CONFIG", "ANTHROPIC_API_KEY", "OPENAI_API_KEY", "INTERLINK_LOCAL_MODEL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("INTERLINK_DATA_DIR", str(tmp_path))
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    result = CliRunner().invoke(app, ["connect", "opencode", "--url", closed])
    assert result.exit_code == 0, result.output
    config = json.loads(result.stdout)
    assert config["model"] == "interlink/local/smollm2"
    assert config["provider"]["interlink"]["models"]["local/smollm2"]["limit"] == {"context": 8192, "output": 4096}
    assert f"no gateway answers at {closed}" in result.stderr
