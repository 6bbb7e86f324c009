"""Model names → deployments: which provider, which upstream model, with which settings.

A public name is looked up exactly, then as `<provider>/<upstream-model>`, then against
patterns such as `claude-*`. An unknown name is a 404 that names close matches.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from interlink.config.settings import Config, ModelConfig, RetryConfig, TimeoutsConfig
from interlink.core import ErrorKind, GatewayError, quoted
from interlink.core.redact import Redactor
from interlink.providers import ClientPolicy, MissingExtra, Preset, ProviderCodec, ProviderSettings
from interlink.repair.capabilities import capabilities_for


@cache
def codec_for(kind: str) -> ProviderCodec:
    """The codec of an upstream API, found by package name (`openai-chat` → providers.openai_chat)."""
    try:
        module = importlib.import_module(f"interlink.providers.{kind.replace('-', '_')}")
    except MissingExtra as missing:
        raise GatewayError(ErrorKind.UNAVAILABLE, str(missing), retryable=False) from None
    codec: ProviderCodec = module.CODEC
    return codec


def preset_for(name: str | None) -> Preset:
    if not name:
        return Preset()
    presets = importlib.import_module("interlink.providers.openai_chat.presets")
    preset: Preset = presets.get_preset(name)
    return preset


@dataclass(slots=True)
class Deployment:
    provider: ProviderSettings
    upstream_model: str
    weight: float = 1.0
    idle_timeout: float = 90.0
    """Longest silence allowed between upstream chunks once streaming."""

    @property
    def codec(self) -> ProviderCodec:
        return codec_for(self.provider.kind)

    @property
    def api(self) -> str:
        """The wire API of this model's requests (repair rules, same-API relay)."""
        return self.codec.wire_api(self.upstream_model, self.provider)


@dataclass(slots=True)
class Route:
    public_name: str
    deployments: list[Deployment]
    retry: RetryConfig
    timeouts: TimeoutsConfig
    fallbacks: list[str] = field(default_factory=list)
    config: ModelConfig | None = None
    overrides: dict[str, object] | None = None
    """The model's capability overrides from the config (`max_output_tokens`, `supports`...)."""
    auto_cache: bool = True
    """Place prompt-cache breakpoints on requests that carry none (`auto_cache` in the config)."""


class Catalog:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.providers = {
            name: ProviderSettings(
                name=name,
                kind=p.kind,
                base_url=p.endpoint(),
                api_key=p.api_key,
                headers=dict(p.headers),
                preset=preset_for(p.preset),
                region=p.region,
                project=p.project,
                location=p.location,
                api_version=p.api_version,
                api=p.api,
                profile=p.profile,
                policy=ClientPolicy(**p.client_may_use.model_dump()),
            )
            for name, p in config.providers.items()
        }
        self.redactor = Redactor(config.secrets())
        """Scrubs configured secrets from upstream-derived text (errors, logs)."""
        # Providers whose models may be called as `<provider>/<upstream model>` without a models entry.
        self.unlisted = {name for name, p in config.providers.items() if p.allow_unlisted_models}
        self.exact = {k: v for k, v in config.models.items() if not _is_pattern(k)}
        self.patterns = [(k, v) for k, v in config.models.items() if _is_pattern(k)]
        # Routes are built from the config alone, which never changes under a Catalog (a reload
        # builds a new one): resolving the same name again is a dict lookup.
        self._routes: dict[str, Route] = {}

    def public_models(self) -> list[str]:
        return sorted(self.exact)

    def limits(self, name: str) -> tuple[int | None, int | None]:
        """(context window, max output tokens) of a public model as its first deployment has
        them (built-in table, then the config); None where unknown."""
        route = self.resolve(name)
        first = route.deployments[0]
        caps = capabilities_for(first.upstream_model, first.provider.kind, route.overrides)
        return caps.context_window, caps.max_output_tokens

    def resolve(self, name: str, visible: Callable[[str], bool] | None = None) -> Route:
        """The route for a requested model name. An unknown name is a 404 that lists the models
        `visible` admits (a key limited to some models never learns the others)."""
        route = self._routes.get(name)
        if route is None:
            try:
                route = self._resolve(name)
            except LookupError:
                raise self._unknown(name, visible) from None
            if len(self._routes) >= 10_000:  # names come from clients: bounded
                self._routes.clear()
            self._routes[name] = route
        return route

    def _resolve(self, name: str) -> Route:
        if name in self.exact:
            return self._route(name, self.exact[name])
        provider, _, upstream = name.partition("/")
        if upstream and provider in self.unlisted:
            return self._route(name, ModelConfig(provider=provider, model=upstream))
        for pattern, model in self.patterns:
            if fnmatch.fnmatchcase(name, pattern):
                return self._route(name, model)
        raise LookupError(name)

    def _route(self, name: str, model: ModelConfig) -> Route:
        defaults = self.config.defaults
        timeouts = model.timeouts or defaults.timeouts
        targets = [(d.provider, d.model, d.weight) for d in model.deployments] or [(model.provider or "", None, 1.0)]
        deployments = [Deployment(self.providers[p], m or model.model or name, w, timeouts.idle) for p, m, w in targets]
        return Route(
            public_name=name,
            deployments=deployments,
            retry=model.retry or defaults.retry,
            timeouts=timeouts,
            fallbacks=list(model.fallbacks),
            config=model,
            overrides=model.capability_overrides() or None,
            auto_cache=defaults.auto_cache if model.auto_cache is None else model.auto_cache,
        )

    def _unknown(self, name: str, visible: Callable[[str], bool] | None) -> GatewayError:
        shown = quoted(name)
        if not self.config.models:
            return GatewayError(
                ErrorKind.NOT_FOUND,
                f"model {shown} is not configured: this gateway has no models yet. Start it with "
                "--config FILE listing providers and models (see the README), or set ANTHROPIC_API_KEY "
                "or OPENAI_API_KEY.",
                param="model",
                code="model_not_found",
            )
        public = [n for n in self.public_models() if visible is None or visible(n)]
        known = public + [p for p, _ in self.patterns if visible is None]
        close = difflib.get_close_matches(name[:256], public, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        listing = f" Models you may use: {', '.join(known)}." if known else ""
        return GatewayError(
            ErrorKind.NOT_FOUND,
            f"model {shown} not found.{hint}{listing}",
            param="model",
            code="model_not_found",
        )


def _is_pattern(name: str) -> bool:
    return any(ch in name for ch in "*?[")
