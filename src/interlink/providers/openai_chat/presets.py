"""OpenAI-compatible servers as data: one `Preset` per dialect of the Chat Completions API.

Facts come from ../shared/protocols/NOTES.md §2.7 (DeepSeek reasoning echo, vLLM/Groq/OpenRouter
`reasoning`, xAI usage); everything else is the conservative default: `max_tokens` (which every
compatible server accepts) instead of `max_completion_tokens`, and no `reasoning_effort` where a
server's support is unknown. Both reasoning fields are always read, whatever the preset says.
"""

from __future__ import annotations

from dataclasses import replace

from interlink.providers import Preset

PRESETS: dict[str, Preset] = {
    "openai": Preset(name="openai"),
    # D-DS: reasoning_content must come back on assistant turns with tool calls (400 otherwise);
    # accepts reasoning_effort.
    "deepseek": Preset(
        name="deepseek",
        reasoning_field="reasoning_content",
        max_tokens_field="max_tokens",
        reasoning_echo=True,
    ),
    # D-VLLM: `reasoning` since ~v0.11 (older builds `reasoning_content`, still read).
    "vllm": Preset(
        name="vllm",
        reasoning_field="reasoning",
        max_tokens_field="max_tokens",
        supports_reasoning_effort=False,
    ),
    "sglang": Preset(
        name="sglang",
        max_tokens_field="max_tokens",
        supports_reasoning_effort=False,
    ),
    "llamacpp": Preset(
        name="llamacpp",
        max_tokens_field="max_tokens",
        stream_usage=False,
        supports_reasoning_effort=False,
        null_content_with_tool_calls=False,  # its server answers `content: null` with a 500
    ),
    "ollama": Preset(
        name="ollama",
        max_tokens_field="max_tokens",
        supports_reasoning_effort=False,
    ),
    "groq": Preset(
        name="groq",
        reasoning_field="reasoning",
        supports_reasoning_effort=False,
    ),
    "openrouter": Preset(
        name="openrouter",
        reasoning_field="reasoning",
        max_tokens_field="max_tokens",
        supports_reasoning_effort=False,
    ),
    # AI fixture xai-tool-call: completion_tokens excludes reasoning_tokens.
    "xai": Preset(
        name="xai",
        max_tokens_field="max_tokens",
        completion_excludes_reasoning=True,
        supports_reasoning_effort=False,
    ),
    "moonshot": Preset(
        name="moonshot",
        max_tokens_field="max_tokens",
        reasoning_echo=True,
        supports_reasoning_effort=False,
    ),
    "together": Preset(
        name="together",
        max_tokens_field="max_tokens",
        stream_usage=False,
        supports_reasoning_effort=False,
    ),
    "lmstudio": Preset(
        name="lmstudio",
        max_tokens_field="max_tokens",
        stream_usage=False,
        supports_reasoning_effort=False,
    ),
    "mistral": Preset(
        name="mistral",
        max_tokens_field="max_tokens",
        stream_usage=False,
        supports_reasoning_effort=False,
    ),
}

ALIASES = {"kimi": "moonshot", "llama.cpp": "llamacpp", "llama-cpp": "llamacpp", "x-ai": "xai"}


def get_preset(name: str) -> Preset:
    """The preset called `name` (case-insensitive, aliases such as "kimi" allowed).

    Raises KeyError naming the known presets, so a configuration typo fails at startup.
    Returns a copy of the shared entry.
    """
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; known: {', '.join(sorted(PRESETS))}")
    preset = PRESETS[key]
    # A copy, so one provider's settings cannot change another's preset.
    return replace(preset, default_headers=dict(preset.default_headers))
