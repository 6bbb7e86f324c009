"""The Messages API as the clouds serve it (Bedrock InvokeModel, Vertex rawPredict): what differs.

The body is the same Messages body (`request.build_body`), minus `model` (it goes in the URL),
with the platform's `anthropic_version` written by the gateway (a client's `anthropic-version` is
never forwarded: the clouds reject the first-party dates). Betas are the first source of 400s
there ("invalid beta flag"): only the ones the platform documents are sent, the others are
dropped and named. Without the mid-conversation-system beta, `role: system` turns move to the
top-level `system`, as the repair layer does for upstreams that lack it.
"""

from __future__ import annotations

from typing import Any

from interlink.core import ChatRequest
from interlink.providers import ClientPolicy
from interlink.providers.anthropic.request import build_body

# Betas Bedrock and Vertex document for Claude (AWS "Anthropic Claude Messages API" and Google's
# Claude pages); a beta not listed is dropped rather than failing the whole request.
CLOUD_BETAS = frozenset(
    {
        "computer-use-2024-10-22",
        "computer-use-2025-01-24",
        "computer-use-2025-11-24",
        "token-efficient-tools-2025-02-19",
        "fine-grained-tool-streaming-2025-05-14",
        "interleaved-thinking-2025-05-14",
        "output-128k-2025-02-19",
        "dev-full-thinking-2025-05-14",
        "context-1m-2025-08-07",
        "context-management-2025-06-27",
        "effort-2025-11-24",
        "tool-search-tool-2025-10-19",
        "tool-examples-2025-10-29",
    }
)
MID_CONVERSATION_SYSTEM = "mid-conversation-system"


def platform_body(
    request: ChatRequest,
    *,
    upstream_model: str,
    stream: bool,
    version: str,
    policy: ClientPolicy,
    allowed: frozenset[str] = CLOUD_BETAS,
) -> tuple[dict[str, Any], list[str], list[str]]:
    """(body without `model`, betas to send, dropped) for a cloud platform's Messages endpoint."""
    body, forwarded, dropped = build_body(request, upstream_model=upstream_model, stream=stream, policy=policy)
    body.pop("model", None)
    body["anthropic_version"] = version
    betas: list[str] = []
    for beta in (b.strip() for b in forwarded.get("anthropic-beta", "").split(",")):
        if not beta:
            continue
        if beta in allowed:
            betas.append(beta)
        elif f"anthropic-beta:{beta}" not in dropped:
            dropped.append(f"anthropic-beta:{beta}")
    if not any(b.startswith(MID_CONVERSATION_SYSTEM) for b in betas):
        _hoist_system(body)
    return body, betas, dropped


def _hoist_system(body: dict[str, Any]) -> None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not any(isinstance(m, dict) and m.get("role") == "system" for m in messages):
        return
    system = body.get("system")
    blocks: list[Any] = [{"type": "text", "text": system}] if isinstance(system, str) and system else []
    if isinstance(system, list):
        blocks += system
    kept = []
    for message in messages:
        if not (isinstance(message, dict) and message.get("role") == "system"):
            kept.append(message)
            continue
        content = message.get("content")
        if isinstance(content, str):
            blocks.append({"type": "text", "text": content})
        elif isinstance(content, list):
            blocks += [b for b in content if isinstance(b, dict) and b.get("type") == "text"]
    body["messages"] = kept
    body["system"] = blocks
