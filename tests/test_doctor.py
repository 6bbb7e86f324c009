"""`interlink doctor`: its output (plain lines in a pipe, as here; a table on a terminal; --json)
and exit code against the upstream emulator (all checks pass), a closed port, a plain-HTTP server
behind https://, and an upstream that rejects or echoes the key; no key ever appears in the output."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from interlink.cli import doctor as doctor_mod
from interlink.cli.main import app
from interlink.testing.emulator import Emulator, run_emulator_in_thread

EMU_KEY = "sk-emu-SECRET-0123456789"
WRONG_KEY = "sk-wrong-SECRET-abcdef"
GOOD_KEY = "sk-good-SECRET-echoed-back"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with run_emulator_in_thread() as emu:
        yield emu


class _KeyChecker(BaseHTTPRequestHandler):
    """An OpenAI-style upstream that lists models only for GOOD_KEY and rejects every model call
    with a message quoting the key it got, as some servers do."""

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.headers.get("authorization") == f"Bearer {GOOD_KEY}":
            self._send(200, {"object": "list", "data": [{"id": "echo-model", "object": "model"}]})
        else:
            self._send(401, {"error": {"message": "Invalid API key", "type": "invalid_request_error"}})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        key = (self.headers.get("authorization") or "").removeprefix("Bearer ")
        self._send(
            401,
            {
                "error": {
                    "message": f"Incorrect API key provided: {key}",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                }
            },
        )

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def key_checker() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KeyChecker)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _doctor(tmp_path: Path, yaml_text: str, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    config = tmp_path / "interlink.yaml"
    config.write_text(yaml_text)
    env = {"INTERLINK_LOCAL_MODEL": "0", "INTERLINK_DATA_DIR": str(tmp_path), **(env or {})}
    result = CliRunner().invoke(app, ["doctor", "--config", str(config), "--timeout", "5", *args], env=env)
    return result.exit_code, result.output


def _row(output: str, provider: str) -> str:
    """The plain output's line of one provider (stdout is not a terminal under CliRunner)."""
    return next(line for line in output.splitlines() if line.startswith(f"{provider} "))


def _cells(output: str, provider: str) -> dict[str, str]:
    """That line cut at the header's column starts: column name → cell text."""
    header = next(line for line in output.splitlines() if line.startswith("provider "))
    names = header.split()
    starts = [header.index(f" {n} ") + 1 if i else 0 for i, n in enumerate(names[:-1])] + [header.rindex(names[-1])]
    row = _row(output, provider)
    ends = [*starts[1:], len(row) + 1]
    return {n: row[a:b].strip() for n, a, b in zip(names, starts, ends, strict=True)}


def _emulator_config(base: str) -> str:
    return f"""
providers:
  emu-anthropic: {{kind: anthropic, base_url: "{base}", api_key: "${{EMU_KEY}}"}}
  emu-chat: {{kind: openai-chat, base_url: "{base}/v1", api_key: "{EMU_KEY}"}}
  emu-responses: {{kind: openai-responses, base_url: "{base}/v1", api_key: "{EMU_KEY}"}}
models:
  via-anthropic: {{provider: emu-anthropic, model: claude-emu}}
  via-chat: {{provider: emu-chat, model: gpt-emu}}
  via-responses: {{provider: emu-responses, model: gpt-emu-responses}}
"""


def test_all_checks_pass_against_the_emulator(emulator: Emulator, tmp_path: Path) -> None:
    emulator.reset()
    code, out = _doctor(tmp_path, _emulator_config(emulator.base_url), "--call", env={"EMU_KEY": EMU_KEY})
    assert code == 0, out
    for provider, kind in (
        ("emu-anthropic", "anthropic"),
        ("emu-chat", "openai-chat"),
        ("emu-responses", "openai-responses"),
    ):
        cells = _cells(out, provider)
        assert cells["kind"] == kind
        assert [cells[step].split()[0] for step in ("dns", "tcp", "tls", "auth", "call")] == [
            "ok",
            "ok",
            "http",
            "ok",
            "ok",
        ]
    assert "all 3 provider(s) ok" in out
    assert EMU_KEY not in out
    # the one-token calls went through each codec, to the model the config names
    calls = {r.path: r.body for r in emulator.model_requests()}
    assert calls["/v1/messages"]["model"] == "claude-emu" and calls["/v1/messages"]["max_tokens"] == 1
    assert calls["/v1/chat/completions"]["model"] == "gpt-emu"
    assert calls["/v1/responses"]["model"] == "gpt-emu-responses"


def test_without_call_no_model_request_is_made(emulator: Emulator, tmp_path: Path) -> None:
    emulator.reset()
    code, out = _doctor(tmp_path, _emulator_config(emulator.base_url), env={"EMU_KEY": EMU_KEY})
    assert code == 0, out
    header = next(line for line in out.splitlines() if line.startswith("provider "))
    assert " auth " in header and " call " not in header
    assert emulator.model_requests() == []


def test_closed_port_fails_with_a_fix(tmp_path: Path) -> None:
    port = _closed_port()
    code, out = _doctor(
        tmp_path,
        f"""
providers:
  gone: {{kind: openai-chat, base_url: "http://127.0.0.1:{port}/v1", api_key: "{WRONG_KEY}"}}
""",
        "--call",
    )
    assert code == 1
    cells = _cells(out, "gone")
    assert cells["dns"].startswith("ok") and cells["tcp"].startswith("FAIL")
    assert f"nothing accepts connections on 127.0.0.1:{port}" in cells["fix"]
    assert "1 provider(s) failing: gone" in out
    assert WRONG_KEY not in out


def test_https_to_a_plain_http_server_says_use_http(emulator: Emulator, tmp_path: Path) -> None:
    https = emulator.base_url.replace("http://", "https://")
    code, out = _doctor(
        tmp_path,
        f"""
providers:
  tls: {{kind: anthropic, base_url: "{https}", api_key: "{EMU_KEY}"}}
""",
    )
    assert code == 1
    cells = _cells(out, "tls")
    assert cells["tls"].startswith("FAIL")
    assert "use http://" in cells["fix"]


def test_wrong_key_names_the_variable_to_set(key_checker: str, tmp_path: Path) -> None:
    code, out = _doctor(
        tmp_path,
        f"""
providers:
  wrong: {{kind: openai-chat, base_url: "{key_checker}/v1", api_key: "${{WRONG_KEY}}"}}
""",
        "--call",
        env={"WRONG_KEY": WRONG_KEY},
    )
    assert code == 1
    cells = _cells(out, "wrong")
    assert cells["auth"].startswith("FAIL")
    assert "rejected the key (HTTP 401)" in cells["fix"] and "set WRONG_KEY" in cells["fix"]
    assert WRONG_KEY not in out


def test_a_key_echoed_by_the_upstream_is_redacted(key_checker: str, tmp_path: Path) -> None:
    code, out = _doctor(
        tmp_path,
        f"""
providers:
  echo: {{kind: openai-chat, base_url: "{key_checker}/v1", api_key: "{GOOD_KEY}"}}
""",
        "--call",
    )
    assert code == 1
    cells = _cells(out, "echo")
    assert cells["auth"].startswith("ok") and cells["call"].startswith("FAIL")
    assert "Incorrect API key provided: [redacted]" in out
    assert GOOD_KEY not in out
    assert "SECRET" not in out


def test_json_carries_every_check_and_the_same_exit_code(emulator: Emulator, tmp_path: Path) -> None:
    port = _closed_port()
    config = f"""
providers:
  emu-chat: {{kind: openai-chat, base_url: "{emulator.base_url}/v1", api_key: "${{EMU_KEY}}"}}
  gone: {{kind: openai-chat, base_url: "http://127.0.0.1:{port}/v1", api_key: "{WRONG_KEY}"}}
"""
    code, out = _doctor(tmp_path, config, "--json", env={"EMU_KEY": EMU_KEY})
    assert code == 1
    reports = {r["provider"]: r for r in json.loads(out)}  # stdout holds only the JSON
    assert reports["emu-chat"]["ok"] is True and reports["emu-chat"]["checks"]["auth"]["ok"] is True
    gone = reports["gone"]
    assert gone["ok"] is False and gone["checks"]["tcp"]["ok"] is False and gone["checks"]["dns"]["ok"] is True
    assert any("nothing accepts connections" in fix for fix in gone["fixes"])
    assert WRONG_KEY not in out and EMU_KEY not in out


def test_a_terminal_gets_the_table(emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("interlink.cli.output.is_terminal", lambda: True)
    code, out = _doctor(tmp_path, _emulator_config(emulator.base_url), env={"EMU_KEY": EMU_KEY})
    assert code == 0 and "interlink doctor" in out and "┃ provider" in out and "✓" in out


def test_no_providers_is_a_failure(tmp_path: Path) -> None:
    code, out = _doctor(tmp_path, "models: {}\n")
    assert code == 1
    assert "no providers configured" in out


def test_helpers() -> None:
    assert doctor_mod._models_url("http://h/v1/chat/completions") == "http://h/v1/models"
    assert doctor_mod._models_url("https://api.anthropic.com/v1/messages") == "https://api.anthropic.com/v1/models"
    assert doctor_mod._models_url("http://h/v1/responses?api-version=1") == "http://h/v1/models?api-version=1"
    assert doctor_mod._display_url("https://user:pw@h:8443/v1") == "https://h:8443/v1"
