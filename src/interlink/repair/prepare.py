"""One request made ready for one deployment: thinking variant, restored reasoning, repaired
history, clamped max_tokens, automatic prompt caching asked for (the provider codec places the
breakpoints). Runs before every attempt, since a failover may change the rules."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

from interlink.core import ChatRequest, ReasoningConfig, ToolSpec
from interlink.repair.capabilities import Capabilities, capabilities_for
from interlink.repair.history import repair_history
from interlink.repair.limits import clamp_max_tokens, reconcile_thinking
from interlink.repair.reasoning_store import ReasoningStore, conversation_scope
from interlink.repair.schemas import normalize_tool_schema


@dataclass(slots=True)
class Prepared:
    request: ChatRequest
    repairs: Counter[str] = field(default_factory=Counter)
    clamped: str | None = None
    """"64000->8192" when max_tokens was lowered."""

    def header(self) -> str:
        return ",".join(f"{name}={count}" for name, count in sorted(self.repairs.items()))


def prepare(
    request: ChatRequest,
    *,
    upstream_model: str,
    upstream_kind: str,
    model_overrides: dict[str, object] | None = None,
    thinking: ReasoningConfig | None = None,
    store: ReasoningStore | None = None,
    auto_cache: bool = False,
) -> Prepared:
    caps: Capabilities = capabilities_for(upstream_model, upstream_kind, model_overrides)
    repairs: Counter[str] = Counter()
    changed: set[str] = set()
    out = request
    if thinking is not None and (request.reasoning is None or not request.reasoning.enabled):
        out = replace(out, reasoning=thinking)
        changed.add("reasoning")
    messages = out.messages
    if store is not None:
        messages = store.restore(messages, upstream_kind, repairs, conversation_scope(request))
    messages, moved_system = repair_history(
        messages, caps, upstream_kind, repairs, system_in_messages=_mid_conversation_system(request, upstream_kind)
    )
    if repairs:
        out = replace(out, messages=messages, system=[*out.system, *moved_system])
        changed.add("messages")
    tools, reshaped = _normalized_tools(out.tools, upstream_kind)
    if reshaped:
        repairs["tool_schema"] += reshaped
        out = replace(out, tools=tools)
        changed.add("tools")
    if not caps.tools and out.tools:
        repairs["tools_unsupported"] += 1
        out = replace(out, tools=[], tool_choice=None)
        changed.add("tools")
    if not caps.parallel_tools and out.tools and out.parallel_tool_calls is not False:
        out = replace(out, parallel_tool_calls=False)
        changed.add("tools")
    before = out.reasoning
    out = reconcile_thinking(out, caps, repairs)
    if out.reasoning is not before:
        changed.add("reasoning")
    out, clamped = clamp_max_tokens(out, caps)
    if clamped:
        changed.add("max_tokens")
    if auto_cache and not out.auto_cache:
        out = replace(out, auto_cache=True)  # the codec places them on the wire body, passthrough or not
    if changed and out.passthrough is not None:
        out = replace(out, passthrough=replace(out.passthrough, overrides=frozenset(changed)))
    return Prepared(out, repairs, clamped)


def _mid_conversation_system(request: ChatRequest, upstream_kind: str) -> bool:
    """Claude Code sends `role: system` turns with Anthropic's mid-conversation-system beta;
    an Anthropic upstream given that beta takes them where they are."""
    passthrough = request.passthrough
    if upstream_kind != "anthropic" or passthrough is None or passthrough.api != "anthropic":
        return False
    betas = next((v for k, v in passthrough.headers.items() if k.lower() == "anthropic-beta"), "")
    return "mid-conversation-system" in betas


def _normalized_tools(tools: list[ToolSpec], kind: str) -> tuple[list[ToolSpec], int]:
    out, count = [], 0
    for tool in tools:
        if tool.raw is not None:
            out.append(tool)
            continue
        schema, changed = normalize_tool_schema(tool.parameters, kind)
        count += changed
        out.append(replace(tool, parameters=schema) if changed else tool)
    return out, count
