"""The real clients the e2e suite drives, and how to read what they did.

Each `Case` is one client on one client API, routed by the gateway to an upstream of another API.
Its command line and environment come from `interlink.cli.connect`, the same functions behind
`interlink connect`, so the suite proves the text users paste. Only each client's headless switches
(prompt, auto-approval, sandbox) are added here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interlink.cli import connect

CACHE = Path(os.environ.get("INTERLINK_E2E_CACHE", Path.home() / ".cache" / "interlink-e2e"))
KEY = "sk-interlink-e2e"
PROMPT = "Run the shell command `echo hello` with your shell tool, then tell me what it printed."

# upstream provider name (as in tests/contract/conftest.write_config) → the path the emulator sees
UPSTREAM_PATH = {
    "emu-anthropic": "/v1/messages",
    "emu-chat": "/v1/chat/completions",
    "emu-responses": "/v1/responses",
    # the clouds (tests/contract/conftest.write_config): Bedrock's and Vertex's model ids are in the path
    "emu-bedrock": "/model/us.anthropic.claude-emu-v1:0/invoke-with-response-stream",
    "emu-vertex": "/v1/projects/emu-project/locations/us-east5/publishers/anthropic/models/claude-emu@20250929:streamRawPredict",
    "emu-azure": "/openai/deployments/gpt-emu-deployment/chat/completions",
}
# upstream provider → the upstream model id its e2e models use
UPSTREAM_MODEL = {
    "emu-anthropic": "claude-emu",
    "emu-chat": "gpt-emu",
    "emu-responses": "gpt-emu-responses",
    "emu-bedrock": "us.anthropic.claude-emu-v1:0",
    "emu-vertex": "claude-emu@20250929",
    "emu-azure": "gpt-emu-deployment",
}
CLIENT_PATH = {"anthropic": "/v1/messages", "openai-chat": "/v1/chat/completions", "openai-responses": "/v1/responses"}


@dataclass
class Run:
    """Where one client run happens: its own HOME and a working dir holding hello.txt."""

    home: Path
    work: Path
    gateway: str


@dataclass
class Case:
    id: str
    client: str  # the installed client it needs (install_clients.sh name)
    client_api: str  # what the client speaks to the gateway
    upstream: str  # the gateway provider the model is routed to (always another API)
    tools: bool  # Aider sends no tools: only its final answer is checked
    build: Callable[[Case, Run], tuple[list[str], dict[str, str]]]
    timeout: float = 150.0
    faults: bool = True  # the cloud cases run once, clean: the fault paths are the same code as above

    @property
    def model(self) -> str:
        return f"e2e-{self.id}"


def binary(client: str) -> str:
    if client == "aider":
        return str(CACHE / "aider" / "bin" / "aider")
    return str(CACHE / client / "node_modules" / ".bin" / client)


# -------------------------------------------------------------------------------- the clients
def _opencode(provider: str) -> Callable[[Case, Run], tuple[list[str], dict[str, str]]]:
    def build(case: Case, run: Run) -> tuple[list[str], dict[str, str]]:
        config = connect.opencode_config(run.gateway, KEY, [case.model], case.model)
        # headless: nobody is there to approve the shell call
        config["permission"] = {"bash": "allow", "edit": "allow", "read": "allow"}
        path = run.home / ".config" / "opencode" / "opencode.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(config, indent=2))
        argv = [binary("opencode"), "run", "-m", f"{provider}/{case.model}", PROMPT]
        return argv, dict(connect.OPENCODE_QUIET_ENV)

    return build


def _claude(case: Case, run: Run) -> tuple[list[str], dict[str, str]]:
    env = connect.claude_env(run.gateway, KEY, case.model)
    # --tools Bash: Claude Code lists Agent before Bash, and the emulator calls the first tool
    argv = [binary("claude"), "-p", PROMPT, "--tools", "Bash", "--allowedTools", "Bash"]
    return argv, env


def _codex(case: Case, run: Run) -> tuple[list[str], dict[str, str]]:
    path = run.home / ".codex" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(connect.codex_config(run.gateway, case.model))
    # the bypass: no one to approve, and Codex's own sandbox needs kernel features a container lacks
    argv = [binary("codex"), "exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", PROMPT]
    return argv, {connect.CODEX_ENV_KEY: KEY}


def _aider(api: str) -> Callable[[Case, Run], tuple[list[str], dict[str, str]]]:
    def build(case: Case, run: Run) -> tuple[list[str], dict[str, str]]:
        args, env = connect.aider_command(run.gateway, KEY, case.model, api)
        headless = [
            "--no-git",
            "--yes-always",
            "--no-pretty",
            "--no-auto-commits",
            "--no-gitignore",
            "--message",
            "Say hello.",
            "hello.txt",
        ]
        return [binary("aider"), *args, *headless], env

    return build


CASES = [
    Case("opencode-chat", "opencode", "openai-chat", "emu-responses", True, _opencode("interlink")),
    Case("opencode-anthropic", "opencode", "anthropic", "emu-chat", True, _opencode("anthropic")),
    Case("opencode-responses", "opencode", "openai-responses", "emu-anthropic", True, _opencode("openai")),
    Case("claude", "claude", "anthropic", "emu-chat", True, _claude),
    Case("codex", "codex", "openai-responses", "emu-anthropic", True, _codex),
    Case("aider-openai", "aider", "openai-chat", "emu-anthropic", False, _aider("openai")),
    Case("aider-anthropic", "aider", "anthropic", "emu-responses", False, _aider("anthropic")),
    # one run per cloud, each behind a client of another API than the cloud's own
    Case("claude-bedrock", "claude", "anthropic", "emu-bedrock", True, _claude, faults=False),
    Case("aider-vertex", "aider", "openai-chat", "emu-vertex", False, _aider("openai"), faults=False),
    Case("codex-azure", "codex", "openai-responses", "emu-azure", True, _codex, faults=False),
]


# ------------------------------------------------------------------------ reading the upstream
def tool_outputs(request: dict[str, Any]) -> list[str]:
    """The tool results a recorded upstream request carries, in whichever API it was sent."""
    body = request.get("body")
    if not isinstance(body, dict):
        return []
    found: list[Any] = []
    for message in body.get("messages") or []:
        if message.get("role") == "tool":  # Chat
            found.append(message.get("content"))
        elif isinstance(message.get("content"), list):  # Anthropic
            found += [
                b.get("content") for b in message["content"] if isinstance(b, dict) and b.get("type") == "tool_result"
            ]
    for item in body.get("input") or [] if isinstance(body.get("input"), list) else []:  # Responses
        if isinstance(item, dict) and item.get("type") == "function_call_output":
            found.append(item.get("output"))
    return [v if isinstance(v, str) else json.dumps(v) for v in found]
