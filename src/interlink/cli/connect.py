"""`interlink connect <tool>`: the configuration an AI coding tool needs to talk to this gateway.

This module owns what each supported client (OpenCode, Crush, Claude Code, Codex, Aider, Cline,
Cursor) must be told: base URL conventions (Anthropic clients without `/v1`, OpenAI clients with
it), where the key goes, which model to pick, and which switches keep each client from calling
home. The generation lives in plain functions (`opencode_config`, `claude_env`, `codex_config`,
...) so the unit tests and the end-to-end suite (`tests/e2e`) drive the real clients with exactly
the text a user pastes.

What gets printed: stdout holds only the ready-to-paste content (JSON, TOML or shell lines), so
`interlink connect opencode > opencode.json` works; where-to-put-it hints go to stderr.

Which models: those of `--config` when one is given; otherwise the running gateway's own list
(`GET <url>/v1/models`, with each model's context window and max output where known, so the
tools can budget their context), and when nothing answers there, what `interlink serve` would
serve with the same environment (the built-in `local/smollm2` when nothing is configured).
"""

from __future__ import annotations

import json
import os
import shlex
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class Limits:
    """A model's context window and max output tokens, as `/v1/models` reports them."""

    context_window: int | None = None
    max_output_tokens: int | None = None


LimitsMap = Mapping[str, Limits]


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
def opencode_config(
    url: str, key: str, models: list[str], model: str | None = None, limits: LimitsMap | None = None
) -> dict:
    """opencode.json with three providers, one per client API the gateway serves.

    - `interlink` (@ai-sdk/openai-compatible): Chat Completions, works with every model name;
    - `anthropic` (built in): Anthropic Messages, pointed at the gateway;
    - `openai` (built in): OpenAI Responses, pointed at the gateway.
    The gateway's models are listed under each, so `-m anthropic/<model>` or `-m openai/<model>`
    picks the API. Built-in providers need their models declared, or OpenCode only offers its
    catalogue's names.
    """
    model, names = _pick(models, model)
    entries: dict[str, dict] = {name: {"name": name, "tool_call": True} for name in names}
    for name, entry in entries.items():
        known = (limits or {}).get(name)
        if known and known.context_window and known.max_output_tokens:  # OpenCode compacts by `limit`
            entry["limit"] = {"context": known.context_window, "output": known.max_output_tokens}
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
def crush_config(
    url: str, key: str, models: list[str], model: str | None = None, limits: LimitsMap | None = None
) -> dict:
    """crush.json: one openai-compat provider and one anthropic provider on the gateway."""
    model, names = _pick(models, model)
    known = limits or {}
    entries = [
        {
            "id": n,
            "name": n,
            "context_window": known.get(n, Limits()).context_window or 200000,
            "default_max_tokens": min(known.get(n, Limits()).max_output_tokens or 32000, 32000),
        }
        for n in names
    ]
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
def claude_env(url: str, key: str, model: str, limits: Limits | None = None) -> dict[str, str]:
    """Environment for Claude Code. ANTHROPIC_AUTH_TOKEN (sent as Bearer) rather than
    ANTHROPIC_API_KEY, because the latter makes the interactive UI ask whether to trust the key.
    A model with a context window under the 200k Claude Code assumes for names it does not know
    gets CLAUDE_CODE_AUTO_COMPACT_WINDOW, so Claude Code compacts before the window overflows."""
    window = limits.context_window if limits else None
    extra = {"CLAUDE_CODE_AUTO_COMPACT_WINDOW": str(window)} if window and window < 200_000 else {}
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
        **extra,
        **CLAUDE_QUIET_ENV,
    }


# ---------------------------------------------------------------------------------------- Codex
def _toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def codex_config(url: str, model: str, env_key: str = CODEX_ENV_KEY, limits: Limits | None = None) -> str:
    """~/.codex/config.toml. Codex speaks only the Responses API (`wire_api = "chat"` is refused
    since 0.16x) and reads the key from the environment variable named by `env_key`. Codex knows
    the context window of OpenAI's models only: for others it is told (`model_context_window`)."""
    sizes = []
    if limits and limits.context_window:
        sizes.append(f"model_context_window = {limits.context_window}")
    return "\n".join(
        [
            f"model = {_toml_str(model)}",
            'model_provider = "interlink"',
            *sizes,
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


def render_opencode(url: str, key: str, models: list[str], model: str, limits: LimitsMap) -> tuple[str, str]:
    body = json.dumps(opencode_config(url, key, models, model, limits), indent=2)
    hint = (
        f"Save as ~/.config/opencode/opencode.json (or ./opencode.json in a project).\n"
        f"Pick the API with -m: interlink/{model} (Chat Completions), anthropic/{model} (Messages), "
        f"openai/{model} (Responses).\nOptional, to keep OpenCode off the network: "
        + " ".join(f"{k}={v}" for k, v in OPENCODE_QUIET_ENV.items())
    )
    return body, hint


def render_crush(url: str, key: str, models: list[str], model: str, limits: LimitsMap) -> tuple[str, str]:
    body = json.dumps(crush_config(url, key, models, model, limits), indent=2)
    return body, "Save as ~/.config/crush/crush.json (or ./crush.json in a project)."


def render_claude(url: str, key: str, models: list[str], model: str, limits: LimitsMap) -> tuple[str, str]:
    body = '# Claude Code: paste into your shell (or put under "env" in ~/.claude/settings.json)\n'
    return body + _exports(claude_env(url, key, model, limits.get(model))) + "\n", "Then run: claude"


def render_codex(url: str, key: str, models: list[str], model: str, limits: LimitsMap) -> tuple[str, str]:
    # The file names the variable, never the key: a config file gets copied, committed, shared.
    body = codex_config(url, model, limits=limits.get(model))
    return body, (f"Save as ~/.codex/config.toml, then in your shell: export {CODEX_ENV_KEY}={shlex.quote(key)}; codex")


def render_aider(url: str, key: str, models: list[str], model: str, limits: LimitsMap) -> tuple[str, str]:
    lines = []
    for api, title in (("openai", "OpenAI path (Chat Completions)"), ("anthropic", "Anthropic path (Messages)")):
        args, env = aider_command(url, key, model, api)
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        lines += [f"# {title}", f"{prefix} aider {shlex.join(args)}", ""]
    return "\n".join(lines), "Run either line in your project directory."


def render_cline(url: str, key: str, models: list[str], model: str, limits: LimitsMap) -> tuple[str, str]:
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


def render_cursor(url: str, key: str, models: list[str], model: str, limits: LimitsMap) -> tuple[str, str]:
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


RENDERERS: dict[str, Callable[[str, str, list[str], str, LimitsMap], tuple[str, str]]] = {
    "opencode": render_opencode,
    "crush": render_crush,
    "claude": render_claude,
    "codex": render_codex,
    "aider": render_aider,
    "cline": render_cline,
    "cursor": render_cursor,
}


# ----------------------------------------------------------------------------- which models
@dataclass(slots=True)
class Discovered:
    models: list[str]
    limits: dict[str, Limits]
    source: str
    """Where the list came from, for the note on stderr."""


def gateway_models(url: str, key: str | None, timeout: float = 3.0) -> Discovered | str:
    """The running gateway's models (`GET /v1/models`), or why it could not be asked."""
    request = urllib.request.Request(f"{openai_base(url)}/models")
    if key and key != KEY_PLACEHOLDER:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            listed = json.loads(response.read())["data"]
    except urllib.error.HTTPError as error:
        if error.code in (401, 403):
            return f"the gateway at {url} refused to list its models (HTTP {error.code}): pass --key"
        return f"the gateway at {url} answered HTTP {error.code} to GET /v1/models"
    except (OSError, ValueError, KeyError, TypeError) as error:
        return f"no gateway answers at {url} ({getattr(error, 'reason', error)})"
    models = [m["id"] for m in listed if isinstance(m, dict) and isinstance(m.get("id"), str)]
    limits = {
        m["id"]: Limits(_int(m.get("context_window")), _int(m.get("max_output_tokens")))
        for m in listed
        if isinstance(m, dict) and isinstance(m.get("id"), str)
    }
    return Discovered(models, limits, f"the gateway at {url}")


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def configured_models(config: str | None) -> list[str]:
    """Concrete public model names of the config (patterns like `claude-*` cannot be asked for)."""
    return config_models(config).models


def config_models(config: str | None) -> Discovered:
    """What `interlink serve` with this config (and environment) would list: its concrete model
    names, plus the built-in `local/smollm2` when the config leaves it to start."""
    from interlink.cli.main import _load  # the same config handling as every other command
    from interlink.local import PUBLIC_NAME, missing, wanted
    from interlink.local.server import CONTEXT
    from interlink.routing.catalog import Catalog

    settings = _load(config)
    models = [name for name in settings.models if not any(ch in name for ch in "*?[")]
    catalog = Catalog(settings)
    limits = {name: Limits(*catalog.limits(name)) for name in models}
    choice = wanted(settings)
    if (choice or (choice is None and not settings.models and not settings.providers)) and missing() is None:
        models.append(PUBLIC_NAME)
        limits[PUBLIC_NAME] = Limits(CONTEXT, CONTEXT // 2)
    return Discovered(models, limits, settings.source or "the environment")


def discover(url: str, key: str | None, config: str | None) -> tuple[Discovered, str | None]:
    """The models to offer and a note for stderr: `--config`'s when given, else the running
    gateway's, else what `serve` would have with the current environment."""
    if config:
        return config_models(config), None
    found = gateway_models(url, key)
    if isinstance(found, Discovered):
        return found, None
    return config_models(None), found


# ------------------------------------------------------------------------------------------ CLI
def connect(
    tool: Annotated[str, typer.Argument(help=f"One of: {', '.join(TOOLS)}.")],
    url: Annotated[str, typer.Option(help="The gateway's URL, as the tool will reach it.")] = DEFAULT_URL,
    key: Annotated[
        str | None,
        typer.Option(help="API key (default: $INTERLINK_API_KEY, else a placeholder).", show_default=False),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(help="Model to select (default: the first model listed).", show_default=False),
    ] = None,
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            "-c",
            help="Take the models from this config instead of asking the gateway at --url.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Print the configuration for an AI coding tool (stdout: ready to paste; stderr: where it goes).

    The models offered are the running gateway's (GET <url>/v1/models), or --config's."""
    render = RENDERERS.get(tool.lower())
    if render is None:
        typer.echo(f"error: unknown tool {tool!r}; choose one of: {', '.join(TOOLS)}", err=True)
        raise typer.Exit(2)
    key = key or os.environ.get("INTERLINK_API_KEY") or KEY_PLACEHOLDER
    found, problem = discover(url, key, config)
    if problem:
        typer.echo(f"note: {problem}; listing the models of {found.source} instead", err=True)
    chosen = model or (found.models[0] if found.models else MODEL_PLACEHOLDER)
    if chosen == MODEL_PLACEHOLDER:
        typer.echo("note: no models found; pass --model or --config (placeholder used)", err=True)
    if key == KEY_PLACEHOLDER:
        typer.echo("note: no key given; create one with `interlink keys create` and replace the placeholder", err=True)
    body, hint = render(url, key, found.models, chosen, found.limits)
    typer.echo(body.rstrip("\n"))
    typer.echo(hint, err=True)


def register(app: typer.Typer) -> None:
    app.command("connect")(connect)
