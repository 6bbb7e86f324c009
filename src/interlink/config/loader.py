"""Reading the config: YAML file with `${VAR}` interpolation, or providers from the environment.

Every problem is reported at once, each with its key path and a hint, as one `ConfigError`.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml
from pydantic import ValidationError

from interlink.config.settings import Config, ModelConfig, ProviderConfig

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """The config cannot be used. `problems` lists one line per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def _interpolate(value: Any, path: str, problems: list[str]) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, f"{path}.{k}" if path else str(k), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, f"{path}[{i}]", problems) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        problems.append(
            f"{path}: environment variable {name} is not set (hint: export {name}=... or use ${{{name}:-default}})"
        )
        return ""

    return _VAR.sub(replace, value)


# kind → (module it imports, the extra that installs it); azure-openai needs its extra for Entra ID only.
EXTRAS = {
    "bedrock": ("botocore", "bedrock"),
    "vertex": ("google.auth", "vertex"),
    "azure-openai": ("azure.identity", "azure"),
}


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing_extra(provider: ProviderConfig) -> str | None:
    """Why this provider cannot run here (its optional dependency is not installed), or None."""
    if provider.kind not in EXTRAS or (provider.kind == "azure-openai" and provider.api_key):
        return None
    module, extra = EXTRAS[provider.kind]
    if installed(module):
        return None
    why = " for Entra ID (no api_key)" if provider.kind == "azure-openai" else ""
    return f"kind: {provider.kind} needs the optional dependency {module}{why}: pip install 'interlink[{extra}]'"


def _check_references(config: Config, problems: list[str]) -> None:
    for name, provider in config.providers.items():
        missing = missing_extra(provider)
        if missing:
            problems.append(f"providers.{name}.kind: {missing}")
        if provider.preset is None:
            continue
        if provider.kind not in ("openai-chat", "azure-openai"):
            problems.append(
                f"providers.{name}.preset: presets describe OpenAI-compatible servers; use kind: openai-chat"
            )
            continue
        try:
            preset_module().get_preset(provider.preset)
        except KeyError as exc:
            problems.append(f"providers.{name}.preset: {exc.args[0]}")
    for name, model in config.models.items():
        targets: list[str] = [d.provider for d in model.deployments] or ([model.provider] if model.provider else [])
        if not targets:
            problems.append(
                f"models.{name}: needs `provider` or `deployments` (hint: provider: <one of {sorted(config.providers)}>)"
            )
        for target in targets:
            if target not in config.providers:
                problems.append(
                    f"models.{name}.provider: unknown provider {target!r} (defined: {', '.join(sorted(config.providers)) or 'none'})"
                )
        for fallback in model.fallbacks:
            if fallback not in config.models:
                problems.append(f"models.{name}.fallbacks: unknown model {fallback!r}")


def preset_module() -> ModuleType:
    """The presets table lives with the openai-chat provider; imported late to keep config light."""
    import importlib

    return importlib.import_module("interlink.providers.openai_chat.presets")


def parse_config(data: Any, source: str) -> Config:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, ["the file must hold a mapping (providers:, models:, ...)"])
    problems: list[str] = []
    data = _interpolate(data, "", problems)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            problems.append(f"{loc}: {err['msg']}")
        raise ConfigError(source, problems) from None
    _check_references(config, problems)
    if problems:
        raise ConfigError(source, problems)
    config.source = source
    return with_service_defaults(config)


def default_data_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "interlink")


def with_service_defaults(config: Config) -> Config:
    """Fill the store settings from INTERLINK_* variables, then defaults, so every command
    that takes the same config acts on the same store."""
    config.database_url = config.database_url or os.environ.get("INTERLINK_DATABASE_URL") or None
    config.redis_url = config.redis_url or os.environ.get("INTERLINK_REDIS_URL") or None
    config.data_dir = config.data_dir or os.environ.get("INTERLINK_DATA_DIR") or default_data_dir()
    return config


def from_environment() -> Config:
    """Providers from ANTHROPIC_API_KEY / OPENAI_API_KEY (+ *_BASE_URL), models by pattern."""
    providers: dict[str, ProviderConfig] = {}
    models: dict[str, ModelConfig] = {}
    if os.environ.get("ANTHROPIC_API_KEY"):
        providers["anthropic"] = ProviderConfig(
            kind="anthropic",
            base_url=os.environ.get("ANTHROPIC_BASE_URL", "https://api.anthropic.com"),
            api_key=os.environ["ANTHROPIC_API_KEY"],
        )
        models["claude-*"] = ModelConfig(provider="anthropic")
    if os.environ.get("OPENAI_API_KEY"):
        providers["openai"] = ProviderConfig(
            kind="openai-chat",
            base_url=os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1"),
            api_key=os.environ["OPENAI_API_KEY"],
        )
        for pattern in ("gpt-*", "o1*", "o3*", "o4*", "chatgpt-*"):
            models[pattern] = ModelConfig(provider="openai")
    return with_service_defaults(Config(providers=providers, models=models, source="environment"))


def yaml_problem(exc: yaml.YAMLError) -> str:
    """Where the YAML is broken and why, without quoting the line: it may hold an inline secret."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or type(exc).__name__
    context = getattr(exc, "context", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"invalid YAML{where}: {problem}" + (f" ({context})" if context else "")


def load_config(path: str | os.PathLike[str] | None) -> Config:
    """The config at `path`, or `INTERLINK_CONFIG`, or one built from the environment."""
    path = path or os.environ.get("INTERLINK_CONFIG")
    if not path:
        return from_environment()
    file = Path(path)
    try:
        text = file.read_text()
    except OSError as exc:
        raise ConfigError(str(file), [f"cannot read the file: {exc.strerror}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(str(file), [yaml_problem(exc)]) from None
    return parse_config(data, str(file))
