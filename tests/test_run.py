"""`interlink run <tool>`: the tool gets this gateway's URL, key and model for its process only, its
exit code comes back, signals reach it, and a gateway is started (and stopped) when none answers.

The tool here is a stand-in script on PATH that reports what it was given; tests/e2e runs the
real Claude Code and OpenCode the same way.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from interlink.cli import run as run_mod
from interlink.testing.emulator import run_emulator_in_thread

FAKE_TOOL = """#!{python}
import json, os, signal, sys, time
out = {{"pid": os.getpid(), "argv": sys.argv[1:], "env": {{k: v for k, v in os.environ.items()
       if k.startswith(("ANTHROPIC_", "OPENCODE_", "INTERLINK_", "CLAUDE_CODE_", "OPENAI_"))}}}}
open(os.environ["FAKE_REPORT"], "w").write(json.dumps(out))
if os.environ.get("FAKE_WAIT"):
    def bye(signum, frame):
        open(os.environ["FAKE_REPORT"] + ".signal", "w").write(str(signum))
        sys.exit(128 + signum)
    signal.signal(signal.SIGTERM, bye)
    open(os.environ["FAKE_REPORT"] + ".ready", "w").write("1")
    time.sleep(60)
sys.exit(int(os.environ.get("FAKE_EXIT", "0")))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def tools(tmp_path: Path) -> Path:
    """A PATH dir where claude, opencode and codex are the stand-in."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("claude", "opencode", "codex", "aider"):
        path = bin_dir / name
        path.write_text(FAKE_TOOL.format(python=sys.executable))
        path.chmod(0o755)
    return bin_dir


@pytest.fixture
def running_gateway() -> Iterator[str]:
    """What `interlink run` asks a gateway: /health and /v1/models."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = [{"id": "sonnet", "object": "model", "context_window": 100000, "max_output_tokens": 8000}]
            body = {"status": "ok"} if self.path == "/health" else {"object": "list", "data": data}
            payload = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def interlink_run(tools: Path, tmp_path: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("INTERLINK_API_KEY", "INTERLINK_CONFIG")}
    full_env.update(
        PATH=f"{tools}{os.pathsep}{os.environ['PATH']}",
        FAKE_REPORT=str(tmp_path / "report.json"),
        INTERLINK_DATA_DIR=str(tmp_path / "data"),
        INTERLINK_LOCAL_MODEL="0",
        **env,
    )
    return subprocess.Popen(
        [sys.executable, "-m", "interlink.cli.main", "run", *args],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def report(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "report.json").read_text())


def test_claude_is_execd_with_the_gateway_in_its_environment(tools: Path, tmp_path: Path, running_gateway: str) -> None:
    proc = interlink_run(tools, tmp_path, "claude", "--url", running_gateway, "--", "-p", "fix it", FAKE_EXIT="7")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 7, err  # the tool's exit code
    seen = report(tmp_path)
    assert seen["pid"] == proc.pid  # exec: the tool replaced `interlink run`, so signals are its own
    assert seen["argv"] == ["-p", "fix it"]
    env = seen["env"]
    assert env["ANTHROPIC_BASE_URL"] == running_gateway and env["ANTHROPIC_MODEL"] == "sonnet"
    assert env["ANTHROPIC_DEFAULT_HAIKU_MODEL"] == "sonnet" and env["ANTHROPIC_AUTH_TOKEN"]
    assert env["CLAUDE_CODE_AUTO_COMPACT_WINDOW"] == "100000"  # the gateway's limits reach the tool
    assert "ANTHROPIC_BASE_URL" not in os.environ  # for that process only


def test_opencode_and_codex_get_their_config_without_files(tools: Path, tmp_path: Path, running_gateway: str) -> None:
    proc = interlink_run(tools, tmp_path, "opencode", "--url", running_gateway, "--key", "sk-x", "--", "run", "hi")
    proc.communicate(timeout=60)
    seen = report(tmp_path)
    config = json.loads(seen["env"]["OPENCODE_CONFIG_CONTENT"])
    assert config["model"] == "interlink/sonnet" and seen["argv"] == ["run", "hi"]
    assert config["provider"]["interlink"]["options"] == {"baseURL": f"{running_gateway}/v1", "apiKey": "sk-x"}
    assert not (tmp_path / "data" / ".config").exists()

    proc = interlink_run(tools, tmp_path, "codex", "--url", running_gateway, "--key", "sk-x", "--", "exec", "hi")
    proc.communicate(timeout=60)
    seen = report(tmp_path)
    argv = seen["argv"]
    assert argv[-2:] == ["exec", "hi"] and seen["env"]["INTERLINK_API_KEY"] == "sk-x"
    overrides = dict(v.split("=", 1) for v in argv[1:-2:2])
    assert all(flag == "-c" for flag in argv[:-2:2])
    parsed = tomllib.loads("\n".join(f"{k} = {v}" for k, v in overrides.items()))
    assert parsed["model"] == "sonnet" and parsed["model_provider"] == "interlink"
    assert parsed["model_providers"]["interlink"]["base_url"] == f"{running_gateway}/v1"
    assert parsed["model_context_window"] == 100000


def test_a_gateway_is_started_for_the_run_and_stopped_after(tools: Path, tmp_path: Path) -> None:
    port = free_port()
    with run_emulator_in_thread() as emu:
        config = tmp_path / "interlink.yaml"
        config.write_text(
            f"providers:\n  emu: {{kind: anthropic, base_url: '{emu.base_url}'}}\n"
            "models:\n  emu-sonnet: {provider: emu, model: claude-sonnet-4-5}\n"
        )
        url = f"http://127.0.0.1:{port}"
        proc = interlink_run(tools, tmp_path, "claude", "--url", url, "-c", str(config), "--", "-p", "x", FAKE_EXIT="3")
        _, err = proc.communicate(timeout=180)
    assert proc.returncode == 3, err
    assert f"started a gateway at {url}" in err
    seen = report(tmp_path)
    assert seen["pid"] != proc.pid  # a child this time: the gateway had to be stopped afterwards
    assert seen["env"]["ANTHROPIC_MODEL"] == "emu-sonnet"
    assert not run_mod.answers(url)  # stopped with the tool
    assert (tmp_path / "data" / "run-gateway.log").read_text().count("interlink starting") == 1


def test_signals_reach_the_tool_and_its_status_comes_back(tools: Path, tmp_path: Path) -> None:
    port = free_port()
    with run_emulator_in_thread() as emu:
        config = tmp_path / "interlink.yaml"
        config.write_text(
            f"providers:\n  emu: {{kind: anthropic, base_url: '{emu.base_url}'}}\nmodels:\n  m: {{provider: emu}}\n"
        )
        proc = interlink_run(
            tools, tmp_path, "claude", "--url", f"http://127.0.0.1:{port}", "-c", str(config), FAKE_WAIT="1"
        )
        ready = tmp_path / "report.json.ready"
        deadline = time.monotonic() + 150
        while not ready.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert ready.exists(), proc.communicate(timeout=5)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert (tmp_path / "report.json.signal").read_text() == str(int(signal.SIGTERM))
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert not run_mod.answers(f"http://127.0.0.1:{port}")


def test_refusals(tools: Path, tmp_path: Path) -> None:
    proc = interlink_run(tools, tmp_path, "vim")
    assert proc.wait(60) == 2 and "choose one of: claude, opencode, codex, aider" in proc.stderr.read()
    proc = interlink_run(tools, tmp_path, "claude", "--url", "http://10.255.255.1:4000")
    assert proc.wait(60) == 1 and "no gateway answers" in proc.stderr.read()
    port = free_port()
    proc = interlink_run(tools, tmp_path, "claude", "--url", f"http://127.0.0.1:{port}", "--no-start")
    assert proc.wait(60) == 1 and "--no-start" in proc.stderr.read()


def test_a_tool_that_is_not_installed(tmp_path: Path, running_gateway: str) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    env = dict(os.environ)
    env["PATH"] = str(empty) + os.pathsep + "/usr/bin:/bin"
    done = subprocess.run(
        [sys.executable, "-m", "interlink.cli.main", "run", "opencode", "--url", running_gateway],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 127 and "opencode is not on PATH" in done.stderr
