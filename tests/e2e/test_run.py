"""`interlink run <tool> -- <args>` with the real clients: Claude Code, OpenCode and Codex complete a
tool-call turn through the gateway with nothing configured but what `interlink run` sets for
their process, against a running gateway, and Claude Code also with a gateway that `interlink run`
starts for the run (and stops after)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.clients import CACHE, PROMPT, UPSTREAM_PATH, tool_outputs
from tests.e2e.conftest import DEFAULTS
from tests.e2e.test_clients import PASSED_ENV

pytestmark = pytest.mark.e2e

# tool → (installed client, the tool's headless arguments, the model the gateway routes elsewhere)
TOOLS = {
    "claude": ("claude", ["-p", PROMPT, "--tools", "Bash", "--allowedTools", "Bash"], "e2e-claude"),
    "opencode": ("opencode", ["run", PROMPT], "e2e-opencode-chat"),
    "codex": (
        "codex",
        ["exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", PROMPT],
        "e2e-codex",
    ),
}


def _interlink_run(
    tool: str, tmp_path: Path, gateway: str, *extra: str
) -> tuple[subprocess.CompletedProcess[str], str]:
    client, args, model = TOOLS[tool]
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir(exist_ok=True)
    work.mkdir(exist_ok=True)
    (work / "hello.txt").write_text("hello from the e2e suite\n")
    if tool == "opencode":  # the user's own project settings still apply: headless, bash needs no approval
        (work / "opencode.json").write_text('{"permission": {"bash": "allow", "edit": "allow", "read": "allow"}}')
    env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
    env.update(
        PATH=f"{CACHE / client / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}",
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        CI="true",
        NO_COLOR="1",
        INTERLINK_DATA_DIR=str(tmp_path / "data"),
        INTERLINK_LOCAL_MODEL="0",
    )
    argv = [
        sys.executable,
        "-m",
        "interlink.cli.main",
        "run",
        tool,
        "--url",
        gateway,
        "--model",
        model,
        *extra,
        "--",
        *args,
    ]
    try:
        done = subprocess.run(
            argv, cwd=work, env=env, capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"interlink run {tool} timed out\n{exc.stdout!r}\n{exc.stderr!r}")
    return done, f"exit {done.returncode}\n--- stdout ---\n{done.stdout}\n--- stderr ---\n{done.stderr[-5000:]}"


def _check_turn(done: subprocess.CompletedProcess[str], transcript: str, requests: list[dict], upstream: str) -> None:
    assert done.returncode == 0, transcript
    assert "Tool result received" in done.stdout, transcript
    model_calls = [r for r in requests if r["path"] in UPSTREAM_PATH.values()]
    assert UPSTREAM_PATH[upstream] in {r["path"] for r in model_calls}, transcript
    assert any("hello" in out for r in model_calls for out in tool_outputs(r)), transcript


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_interlink_run_completes_a_turn(tool: str, client_ready, e2e_stack, tmp_path: Path) -> None:
    client_ready(TOOLS[tool][0])
    e2e_stack.reset()
    done, transcript = _interlink_run(tool, tmp_path, e2e_stack.gateway)
    upstream = {"claude": "emu-chat", "opencode": "emu-responses", "codex": "emu-anthropic"}[tool]
    _check_turn(done, transcript + f"\n--- gateway ---\n{e2e_stack.log_tail()}", e2e_stack.requests(), upstream)


def test_interlink_run_starts_a_gateway_when_none_answers(client_ready, emulator_url: str, tmp_path: Path) -> None:
    client_ready("claude")
    httpx.post(f"{emulator_url}/_emu/reset").raise_for_status()
    config = tmp_path / "interlink.yaml"
    config.write_text(
        f"providers:\n  emu-chat: {{kind: openai-chat, base_url: '{emulator_url}/v1', api_key: sk-emu}}\n"
        f"models:\n  e2e-claude: {{provider: emu-chat, model: gpt-emu}}\n{DEFAULTS}"
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    done, transcript = _interlink_run("claude", tmp_path, url, "--config", str(config))
    assert f"started a gateway at {url}" in done.stderr, transcript
    _check_turn(done, transcript, httpx.get(f"{emulator_url}/_emu/requests").json(), "emu-chat")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health", timeout=2)  # stopped with the tool
