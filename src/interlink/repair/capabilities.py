"""What a model accepts: limits and features, from config over built-in defaults.

Built-in entries cover well-known model families by name pattern (first match wins); a model's
config entry (`max_output_tokens`, `context_window`, `supports: {...}`) overrides them field by
field. Unknown models get the permissive defaults of their upstream API, except for prefill on
Anthropic-kind upstreams: recent Claude models reject a trailing assistant turn, and a session
that sends one is stuck on the same 400 forever, so the safe default is "no prefill".
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, replace
from typing import Any

from interlink.core.model_ids import base_model_id

ANTHROPIC_TOOL_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Capabilities:
    max_output_tokens: int | None = None
    context_window: int | None = None
    prefill: bool = True
    thinking: bool = True
    tools: bool = True
    images: bool = True
    parallel_tools: bool = True
    tool_id_pattern: re.Pattern[str] | None = None


# (pattern, fields) — checked in order; values from the vendors' model pages.
# Any: the values are the field types of `Capabilities`, checked by its tests, not by a TypedDict per row.
_BUILTIN: list[tuple[str, dict[str, Any]]] = [
    ("claude-opus-4-[5-9]*", {"max_output_tokens": 64000, "context_window": 200000, "prefill": False}),
    ("claude-sonnet-4-[6-9]*", {"max_output_tokens": 64000, "context_window": 200000, "prefill": False}),
    ("claude-opus-4*", {"max_output_tokens": 32000, "context_window": 200000, "prefill": True}),
    ("claude-sonnet-4*", {"max_output_tokens": 64000, "context_window": 200000, "prefill": True}),
    ("claude-haiku-4*", {"max_output_tokens": 64000, "context_window": 200000, "prefill": True}),
    ("claude-fable-*", {"max_output_tokens": 64000, "context_window": 200000, "prefill": False}),
    ("claude-3-7-sonnet*", {"max_output_tokens": 64000, "context_window": 200000, "prefill": True}),
    ("claude-3-5-haiku*", {"max_output_tokens": 8192, "context_window": 200000, "thinking": False, "prefill": True}),
    ("claude-3-5-sonnet*", {"max_output_tokens": 8192, "context_window": 200000, "thinking": False, "prefill": True}),
    ("claude-3-haiku*", {"max_output_tokens": 4096, "context_window": 200000, "thinking": False, "prefill": True}),
    ("gpt-4o*", {"max_output_tokens": 16384, "context_window": 128000, "thinking": False}),
    ("gpt-4.1*", {"max_output_tokens": 32768, "context_window": 1047576, "thinking": False}),
    ("gpt-5*", {"max_output_tokens": 128000, "context_window": 400000}),
    ("o3*", {"max_output_tokens": 100000, "context_window": 200000}),
    ("o4-mini*", {"max_output_tokens": 100000, "context_window": 200000}),
    ("deepseek-chat*", {"max_output_tokens": 8192, "context_window": 128000, "thinking": False}),
    ("deepseek-reasoner*", {"max_output_tokens": 65536, "context_window": 128000}),
]


_KNOWN: dict[tuple[str, str, frozenset[tuple[str, object]] | None], Capabilities] = {}


def capabilities_for(
    upstream_model: str, upstream_kind: str, overrides: dict[str, object] | None = None
) -> Capabilities:
    """What the upstream model accepts: built-ins matched by name, then the config's overrides.
    Asked before every attempt, so answers are remembered (they depend on nothing else)."""
    key = (upstream_model, upstream_kind, frozenset(overrides.items()) if overrides else None)
    found = _KNOWN.get(key)
    if found is None:
        found = _capabilities(upstream_model, upstream_kind, overrides)
        if len(_KNOWN) >= 10_000:  # model names may come from clients (`provider/model`)
            _KNOWN.clear()
        _KNOWN[key] = found
    return found


def _capabilities(upstream_model: str, upstream_kind: str, overrides: dict[str, object] | None) -> Capabilities:
    base = Capabilities()
    if upstream_kind == "anthropic":
        base = replace(base, prefill=False, tool_id_pattern=ANTHROPIC_TOOL_ID)
    elif upstream_kind == "bedrock-converse":  # Converse's toolUseId has Anthropic's pattern
        base = replace(base, tool_id_pattern=ANTHROPIC_TOOL_ID)
    name = base_model_id(upstream_model)  # the vendor's name inside a Bedrock or Vertex id
    for pattern, fields in _BUILTIN:
        if fnmatch.fnmatchcase(name, pattern):
            base = replace(base, **fields)
            break
    if overrides:
        changes: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
        base = replace(base, **changes)
    return base
