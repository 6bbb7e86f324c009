"""`interlink connect <tool>`: the configuration an AI coding tool needs to talk to this gateway.

This module owns what each supported client (OpenCode, Crush, Claude Code, Codex, Aider, Cline,
Cursor) must be told: base URL conventions (Anthropic clients without `/v1`, OpenAI clients with
it), where the key goes, which model to pick, and which switches keep each client from calling
home. The generation lives in plain functions (`opencode_config`, `claude_env`, `codex_config`,
...) so the unit tests and the end-to-end suite (`tests/e2e`) drive the real clients with exactly
the text a user pastes.

What gets printed: stdout holds only the ready-to-paste content (JSON, TOML or shell lines), so
`interlink connect opencode > opencode.json` works; where-to-put-it hints go to stderr.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Callable
from typing import Annotated

import typer

DEFAULT_URL = "http://127.0.0.1:4000"
KEY_PLACEHOLDER = "REPLACE-WITH-A-KEY-FROM-interlink-keys-create"
MODEL_PLACEHOLDER = "YOUR-MODEL"
CODEX_ENV_KEY = "INTERLINK_API_KEY"
TOOLS = ("opencode", "crush", "claude", "codex", "aider", "cline", "cursor")

# Settings that stop each client from reaching hosts other than the gateway (update checks,
# telemetry, model catalogues): a gateway user usually wants all traffic to go through it, and
# offline machines otherwise print errors or stall on them.
CLAUDE_QUIET_ENV = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_ERROR_REPORTING": "1",
}
OPENCODE_QUIET_ENV = {
    "OPENCODE_DISABLE_AUTOUPDATE": "1",
    "OPENCODE_DISABLE_MODELS_FETCH": "1",
    "OPENCODE_DISABLE_SHARE": "1",
}
AIDER_QUIET_ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True"}
AIDER_QUIET_FLAGS = ["--no-check-update", "--analytics-disable", "--no-show-model-warnings"]


def openai_base(url: str) -> str:
    """OpenAI SDKs append `/chat/completions` or `/responses` to a base URL that ends in /v1."""
    url = url.rstrip("/")
    return url if url.endswith("/v1") else f"{url}/v1"


def anthropic_base(url: str) -> str:
    """Anthropic SDKs append `/v1/messages` themselves, so their base URL must not end in /v1."""
    url = url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def _pick(models: list[str], model: str | None) -> tuple[str, list[str]]:
    """The selected model and every name to declare (the selected one always among them)."""
    model = model or (models[0] if models else MODEL_PLACEHOLDER)
    return model, models if model in models else [model, *models]


# ------------------------------------------------------------------------------------- OpenCode
def opencode_config(url: str, key: str, models: list[str], model: str | None = None) -> dict:
    """opencode.json with three providers, one per client API the gateway serves.

    - `interlink` (@ai-sdk/openai-compatible): Chat Completions, works with every model name;
    - `anthropic` (built in): Anthropic Messages, pointed at the gateway;
    - `openai` (built in): OpenAI Responses, pointed at the gateway.
    The gateway's models are listed under each, so `-m anthropic/<model>` or `-m openai/<model>`
    picks the API. Built-in providers need their models declared, or OpenCode only offers its
    catalogue's names.
    """
    model, names = _pick(models, model)
    entries = {name: {"name": name, "tool_call": True} for name in names}
    base = openai_base(url)
    return {
        "$schema": "https://opencode.ai/config.json",
        "autoupdate": False,
        "share": "disabled",
        "model": f"interlink/{model}",
        # the title request goes to small_model; without one OpenCode picks a catalogue model the
        # gateway does not serve
        "small_model": f"interlink/{model}",
        "provider": {
            "interlink": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "Interlink",
                "options": {"baseURL": base, "apiKey": key},
                "models": entries,
            },
            "anthropic": {"options": {"baseURL": base, "apiKey": key}, "models": entries},
            "openai": {"options": {"baseURL": base, "apiKey": key}, "models": entries},
        },
    }


# ---------------------------------------------------------------------------------------- Crush
def crush_config(url: str, key: str, models: list[str], model: str | None = None) -> dict:
    """crush.json: one openai-compat provider and one anthropic provider on the gateway."""
    model, names = _pick(models, model)
    entries = [{"id": n, "name": n, "context_window": 200000, "default_max_tokens": 32000} for n in names]
    return {
        "$schema": "https://charm.land/crush.json",
        "providers": {
            "interlink": {
                "name": "Interlink",
                "type": "openai-compat",
                "base_url": openai_base(url),
                "api_key": key,
                "models": entries,
            },
            "interlink-anthropic": {
                "name": "Interlink (Anthropic API)",
                "type": "anthropic",
                "base_url": anthropic_base(url),
                "api_key": key,
                "models": entries,
            },
        },
        "models": {
            "large": {"model": model, "provider": "interlink"},
            "small": {"model": model, "provider": "interlink"},
        },
        "options": {"disable_provider_auto_update": True},
    }


# ---------------------------------------------------------------------------------- Claude Code
def claude_env(url: str, key: str, model: str) -> dict[str, str]:
    """Environment for Claude Code. ANTHROPIC_AUTH_TOKEN (sent as Bearer) rather than
    ANTHROPIC_API_KEY, because the latter makes the interactive UI ask whether to trust the key."""
    return {
        "ANTHROPIC_BASE_URL": anthropic_base(url),
        "ANTHROPIC_AUTH_TOKEN": key,
        "ANTHROPIC_MODEL": model,
        # background work (titles, summaries, sub-agents) uses these; unset, they name Anthropic
        # models the gateway may not serve
        "ANTHROPIC_SMALL_FAST_MODEL": model,
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": model,
        "ANTHROPIC_DEFAULT_SONNET_MODEL": model,
        "ANTHROPIC_DEFAULT_OPUS_MODEL": model,
        **CLAUDE_QUIET_ENV,
    }


# ---------------------------------------------------------------------------------------- Codex
def _toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def codex_config(url: str, model: str, env_key: str = CODEX_ENV_KEY) -> str:
    """~/.codex/config.toml. Codex speaks only the Responses API (`wire_api = "chat"` is refused
    since 0.16x) and reads the key from the environment variable named by `env_key`."""
    return "\n".join(
        [
            f"model = {_toml_str(model)}",
            'model_provider = "interlink"',
            "",
            "[model_providers.interlink]",
            'name = "Interlink"',
            f"base_url = {_toml_str(openai_base(url))}",
            f"env_key = {_toml_str(env_key)}",
            'wire_api = "responses"',
            "",
        ]
    )


# ---------------------------------------------------------------------------------------- Aider
def aider_command(url: str, key: str, model: str, api: str = "openai") -> tuple[list[str], dict[str, str]]:
    """Aider's flags and environment for the OpenAI path (Chat Completions) or the Anthropic path
    (Messages; litellm honours ANTHROPIC_BASE_URL without /v1)."""
    if api == "anthropic":
        args = ["--model", f"anthropic/{model}"]
        env = {"ANTHROPIC_BASE_URL": anthropic_base(url), "ANTHROPIC_API_KEY": key}
    else:
        args = ["--model", f"openai/{model}", "--openai-api-base", openai_base(url), "--openai-api-key", key]
        env = {}
    return [*args, *AIDER_QUIET_FLAGS], {**env, **AIDER_QUIET_ENV}


# ------------------------------------------------------------------------------------ rendering
def _exports(env: dict[str, str]) -> str:
    return "\n".join(f"export {name}={shlex.quote(value)}" for name, value in env.items())


def render_opencode(url: str, key: str, models: list[str], model: str) -> tuple[str, str]:
    body = json.dumps(opencode_config(url, key, models, model), indent=2)
    hint = (
        f"Save as ~/.config/opencode/opencode.json (or ./opencode.json in a project).\n"
        f"Pick the API with -m: interlink/{model} (Chat Completions), anthropic/{model} (Messages), "
        f"openai/{model} (Responses).\nOptional, to keep OpenCode off the network: "
        + " ".join(f"{k}={v}" for k, v in OPENCODE_QUIET_ENV.items())
    )
    return body, hint


def render_crush(url: str, key: str, models: list[str], model: str) -> tuple[str, str]:
    body = json.dumps(crush_config(url, key, models, model), indent=2)
    return body, "Save as ~/.config/crush/crush.json (or ./crush.json in a project)."


def render_claude(url: str, key: str, models: list[str], model: str) -> tuple[str, str]:
    body = '# Claude Code: paste into your shell (or put under "env" in ~/.claude/settings.json)\n'
    return body + _exports(claude_env(url, key, model)) + "\n", "Then run: claude"


def render_codex(url: str, key: str, models: list[str], model: str) -> tuple[str, str]:
    # The file names the variable, never the key: a config file gets copied, committed, shared.
    body = codex_config(url, model)
    return body, (f"Save as ~/.codex/config.toml, then in your shell: export {CODEX_ENV_KEY}={shlex.quote(key)}; codex")


def render_aider(url: str, key: str, models: list[str], model: str) -> tuple[str, str]:
    lines = []
    for api, title in (("openai", "OpenAI path (Chat Completions)"), ("anthropic", "Anthropic path (Messages)")):
        args, env = aider_command(url, key, model, api)
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        lines += [f"# {title}", f"{prefix} aider {shlex.join(args)}", ""]
    return "\n".join(lines), "Run either line in your project directory."


def render_cline(url: str, key: str, models: list[str], model: str) -> tuple[str, str]:
    body = f"""Cline → Settings (gear icon) → API Configuration
  API Provider:  OpenAI Compatible
  Base URL:      {openai_base(url)}
  API Key:       {key}
  Model ID:      {model}

Or, for the Anthropic Messages API:
  API Provider:  Anthropic
  API Key:       {key}
  [x] Use custom base URL: {anthropic_base(url)}
  Model:         {model}
"""
    return body, "Cline runs in your editor, so the URL must be reachable from it."


def render_cursor(url: str, key: str, models: list[str], model: str) -> tuple[str, str]:
    body = f"""Cursor → Settings → Models
  OpenAI API Key:            {key}
  [x] Override OpenAI Base URL: {openai_base(url)}
  Add model:                 {model}   (and enable it; disable the others while testing)
"""
    hint = (
        "Cursor sends requests from its own servers, not from your machine: the URL must be public "
        "(a tunnel or a deployed gateway); 127.0.0.1 will not work."
    )
    return body, hint


RENDERERS: dict[str, Callable[[str, str, list[str], str], tuple[str, str]]] = {
    "opencode": render_opencode,
    "crush": render_crush,
    "claude": render_claude,
    "codex": render_codex,
    "aider": render_aider,
    "cline": render_cline,
    "cursor": render_cursor,
}


# ------------------------------------------------------------------------------------------ CLI
def configured_models(config: str | None) -> list[str]:
    """Concrete public model names of the config (patterns like `claude-*` cannot be asked for)."""
    from interlink.cli.main import _load  # the same config handling as every other command

    settings = _load(config)
    return [name for name in settings.models if not any(ch in name for ch in "*?[")]


def connect(
    tool: Annotated[str, typer.Argument(help=f"One of: {', '.join(TOOLS)}.")],
    url: Annotated[str, typer.Option(help="The gateway's URL, as the tool will reach it.")] = DEFAULT_URL,
    key: Annotated[
        str | None,
        typer.Option(help="API key (default: $INTERLINK_API_KEY, else a placeholder).", show_default=False),
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Model to select (default: the first configured model).", show_default=False)
    ] = None,
    config: Annotated[
        str | None,
        typer.Option(
            "--config", "-c", help="Config whose models to list (default: $INTERLINK_CONFIG).", show_default=False
        ),
    ] = None,
) -> None:
    """Print the configuration for an AI coding tool (stdout: ready to paste; stderr: where it goes)."""
    render = RENDERERS.get(tool.lower())
    if render is None:
        typer.echo(f"error: unknown tool {tool!r}; choose one of: {', '.join(TOOLS)}", err=True)
        raise typer.Exit(2)
    models = configured_models(config)
    chosen = model or (models[0] if models else MODEL_PLACEHOLDER)
    if chosen == MODEL_PLACEHOLDER:
        typer.echo("note: no models configured; pass --model or --config (placeholder used)", err=True)
    key = key or os.environ.get("INTERLINK_API_KEY") or KEY_PLACEHOLDER
    if key == KEY_PLACEHOLDER:
        typer.echo("note: no key given; create one with `interlink keys create` and replace the placeholder", err=True)
    body, hint = render(url, key, models, chosen)
    typer.echo(body.rstrip("\n"))
    typer.echo(hint, err=True)


def register(app: typer.Typer) -> None:
    app.command("connect")(connect)
