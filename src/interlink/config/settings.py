"""The config file's schema, validated once at start-up.

```yaml
providers:
  <name>: {kind: anthropic|openai-chat|openai-responses, base_url: URL, api_key: ${ENV_VAR}, preset: deepseek}
  bedrock: {kind: bedrock, region: us-east-1}                     # clouds: base_url optional
  vertex:  {kind: vertex, project: my-proj, location: us-east5}
  azure:   {kind: azure-openai, base_url: https://my-res.openai.azure.com, api_key: ${AZURE_OPENAI_API_KEY}}
models:
  <public-name>: {provider: <name>, model: <upstream model id>}
  "claude-*":    {provider: anthropic}          # a pattern: the requested name is the upstream model
defaults:
  retry: {attempts: 4, budget_seconds: 60}
  timeouts: {connect: 10, first_token: 120, idle: 90, total: 900}
  keepalive_seconds: 15
```
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ProviderKind = Literal["anthropic", "openai-chat", "openai-responses", "bedrock", "vertex", "azure-openai"]
CLOUD_KINDS = ("bedrock", "vertex", "azure-openai")


def _is_secret_header(name: str) -> bool:
    lowered = name.lower()
    return lowered in ("authorization", "proxy-authorization", "cookie") or any(
        word in lowered for word in ("key", "token", "secret", "auth", "password")
    )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClientPolicyConfig(_Strict):
    """What clients may turn on at the operator's expense on a provider (all off by default:
    dropped, and named in `interlink-dropped`)."""

    hosted_tools: bool = False
    """Tools the upstream runs and bills: web search, web fetch, code execution, file search, MCP."""
    service_tier: bool = False
    """A service tier that may cost more (e.g. priority); standard_only, default and flex always pass."""
    store: bool = False
    """Chat Completions `store: true` (stored completions on the upstream's side)."""


class ProviderConfig(_Strict):
    kind: ProviderKind
    base_url: str | None = None
    """Required, except for bedrock and vertex, where it overrides the regional endpoint."""
    api_key: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    preset: str | None = None
    """OpenAI-compatible dialect (deepseek, vllm, groq, openrouter, ollama, llamacpp, ...)."""
    region: str | None = None
    """bedrock: the AWS region (us-east-1, eu-central-1, ...)."""
    profile: str | None = None
    """bedrock: the AWS profile whose credentials to use (default: the standard chain)."""
    project: str | None = None
    """vertex: the Google Cloud project id."""
    location: str | None = None
    """vertex: the region (us-east5, europe-west1, global, ...)."""
    api_version: str | None = None
    """azure-openai: a dated api-version (deployment URLs); unset, the v1 API (/openai/v1/...)."""
    api: Literal["openai-chat", "openai-responses", "anthropic", "converse"] | None = None
    """azure-openai: the API the deployments are called with (default openai-chat).
    bedrock: anthropic (InvokeModel) or converse, for model ids that do not say (default: by id)."""
    client_may_use: ClientPolicyConfig = Field(default_factory=ClientPolicyConfig)
    allow_unlisted_models: bool = False
    """Let callers name any model of this provider as `<provider>/<upstream model>`, without a
    `models` entry. Off by default: it lets any caller reach every model the upstream key can,
    including ones the operator never priced or meant to offer."""

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _kind_fields(self) -> ProviderConfig:
        """Each kind's own required fields, and none of another kind's (a typo is not ignored)."""
        needs = {"bedrock": ("region",), "vertex": ("project", "location"), "azure-openai": ("base_url",)}
        for name in needs.get(self.kind, ("base_url",)):
            if getattr(self, name) is None:
                raise ValueError(f"kind: {self.kind} needs `{name}`{_HINTS.get(name, '')}")
        owners = {"region": "bedrock", "profile": "bedrock", "project": "vertex", "location": "vertex"}
        owners["api_version"] = "azure-openai"
        for name, owner in owners.items():
            if getattr(self, name) is not None and self.kind != owner:
                raise ValueError(f"`{name}` is for kind: {owner}, not {self.kind}")
        allowed = {"azure-openai": ("openai-chat", "openai-responses"), "bedrock": ("anthropic", "converse")}
        if self.api is not None and self.api not in allowed.get(self.kind, ()):
            raise ValueError(
                f"`api: {self.api}` is not one of {list(allowed.get(self.kind, ()))} for kind: {self.kind}"
            )
        if self.kind == "vertex" and self.api_key:
            raise ValueError("kind: vertex takes no api_key: it authenticates with Application Default Credentials")
        return self

    def endpoint(self) -> str:
        """base_url, or the cloud's regional default."""
        if self.base_url:
            return self.base_url
        if self.kind == "bedrock":
            return f"https://bedrock-runtime.{self.region}.amazonaws.com"
        if self.kind == "vertex":
            if self.location == "global":
                return "https://aiplatform.googleapis.com"
            if self.location in ("us", "eu"):
                return f"https://aiplatform.{self.location}.rep.googleapis.com"
            return f"https://{self.location}-aiplatform.googleapis.com"
        return ""


_HINTS = {
    "region": " (e.g. region: us-east-1, the region whose Bedrock models you enabled)",
    "project": " (your Google Cloud project id, e.g. project: my-proj)",
    "location": " (e.g. location: us-east5, where Claude is served; or global)",
    "base_url": " (the upstream URL, e.g. https://api.example.com/v1; for azure-openai https://<resource>.openai.azure.com)",
}


class RetryConfig(_Strict):
    attempts: int = Field(default=4, ge=1, le=20)
    budget_seconds: float = Field(default=60.0, gt=0)
    backoff_base: float = Field(default=0.5, gt=0)
    backoff_max: float = Field(default=8.0, gt=0)
    max_retry_after: float = Field(default=60.0, ge=0)


class TimeoutsConfig(_Strict):
    connect: float = Field(default=10.0, gt=0)
    first_token: float = Field(default=120.0, gt=0)
    idle: float = Field(default=90.0, gt=0)
    total: float = Field(default=900.0, gt=0)


class DeploymentConfig(_Strict):
    provider: str
    model: str | None = None
    weight: float = Field(default=1.0, gt=0)


class SupportsConfig(_Strict):
    """What the model accepts; unset fields keep the built-in default for the model."""

    prefill: bool | None = None
    thinking: bool | None = None
    tools: bool | None = None
    images: bool | None = None
    parallel_tools: bool | None = None


class ThinkingConfig(_Strict):
    """Force extended thinking for this model name (a "-thinking" variant of an upstream model)."""

    budget_tokens: int | None = Field(default=None, ge=1024)
    effort: Literal["minimal", "low", "medium", "high", "xhigh", "max"] | None = None


class ModelConfig(_Strict):
    provider: str | None = None
    model: str | None = None
    """Upstream model id; defaults to the public name."""
    deployments: list[DeploymentConfig] = Field(default_factory=list)
    fallbacks: list[str] = Field(default_factory=list)
    retry: RetryConfig | None = None
    timeouts: TimeoutsConfig | None = None
    resume: bool = False
    max_output_tokens: int | None = Field(default=None, gt=0)
    context_window: int | None = Field(default=None, gt=0)
    supports: SupportsConfig | None = None
    thinking: ThinkingConfig | None = None
    auto_cache: bool | None = None
    """Prompt-cache breakpoints placed for requests that carry none (Anthropic upstreams);
    unset: `defaults.auto_cache`."""

    def capability_overrides(self) -> dict[str, object]:
        fields: dict[str, object] = {"max_output_tokens": self.max_output_tokens, "context_window": self.context_window}
        if self.supports is not None:
            fields.update(self.supports.model_dump())
        return {k: v for k, v in fields.items() if v is not None}


class DefaultsConfig(_Strict):
    retry: RetryConfig = Field(default_factory=RetryConfig)
    timeouts: TimeoutsConfig = Field(default_factory=TimeoutsConfig)
    keepalive_seconds: float = Field(default=15.0, gt=0)
    auto_cache: bool = True
    """Automatic prompt-cache breakpoints on Anthropic requests that carry none (README "Prompt caching")."""


class ConnectionLimits(_Strict):
    """Per-connection limits of the HTTP server (seconds, bytes, connections)."""

    header_timeout: float = Field(default=10.0, gt=0)
    """The request line and headers must arrive within this long (slow-header clients are cut)."""
    max_header_bytes: int = Field(default=64 * 1024, ge=1024)
    """More header bytes than this get a 431 before anything else is read."""
    keep_alive: float = Field(default=5.0, gt=0)
    """An idle keep-alive connection is closed after this long."""
    write_timeout: float = Field(default=30.0, gt=0)
    """A client that stops reading for this long while we write to it is disconnected."""
    max_connections: int = Field(default=4096, ge=1)
    """Connections and requests in progress at once; more get a 503."""


class ServerConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = 4000
    allow_open: bool = False
    """Serve without API keys on an address other than 127.0.0.1 (otherwise refused at start)."""
    max_streams: int = Field(default=2000, ge=1)
    """Open streams this process serves at once; more get a 503 that clients retry."""
    drain_seconds: float = Field(default=30.0, ge=0)
    """On SIGTERM, how long streams in flight may finish before they get a terminal error event."""
    auth: Literal["auto", "keys", "open"] = "auto"
    """keys: every request needs a key (with none active, a 401 says how to create one). open: no
    key needed for model calls (never for the admin API). auto: keys once the store has ever held
    a key, else open. Decided at start and on reload, never per request."""
    limits: ConnectionLimits = Field(default_factory=ConnectionLimits)
    hosts: list[str] = Field(default_factory=list)
    """The `Host` names this gateway answers to ("*": any). Default: on a loopback address, the
    loopback names; elsewhere any. Refusing other names stops DNS rebinding from a browser."""


class PriceConfig(_Strict):
    """USD per million tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_read: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)


class ReasoningStoreConfig(_Strict):
    """The gateway's reasoning store (README "Thinking across replicas"): in Redis when
    `redis_url` is set, else in each process."""

    ttl_seconds: float = Field(default=86_400.0, gt=0)
    max_entries: int = Field(default=10_000, ge=1)
    max_entry_bytes: int = Field(default=256 * 1024, ge=1024)


class Config(_Strict):
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: dict[str, ModelConfig] = Field(default_factory=dict)
    defaults: DefaultsConfig = Field(default_factory=DefaultsConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    database_url: str | None = None
    """SQLAlchemy async URL (postgresql+asyncpg://...); default SQLite in `data_dir`. Env: INTERLINK_DATABASE_URL."""
    redis_url: str | None = None
    """Shared rate limits and reasoning store across replicas (redis://...). Env: INTERLINK_REDIS_URL."""
    reasoning_store: ReasoningStoreConfig = Field(default_factory=ReasoningStoreConfig)
    data_dir: str | None = None
    """Where the SQLite database lives. Env: INTERLINK_DATA_DIR; default a per-user data dir."""
    pricing: dict[str, PriceConfig] = Field(default_factory=dict)
    """Model name or pattern (upstream id or public name) → prices; overrides the built-in table."""
    local_model: bool | None = None
    """The built-in local model (`local/smollm2`, SmolLM2-135M on llama.cpp; needs the `local` extra).
    Unset (default): served when the config has no providers and no models (no file and no API
    keys), if installed.
    true: served alongside the configured models (an error if not installed). false: never.
    Env INTERLINK_LOCAL_MODEL=0/1 applies when this is unset."""
    source: str | None = Field(default=None, exclude=True)
    """Where this config came from (a file path or "environment"), for messages."""

    def secrets(self) -> list[str]:
        """Every credential this config holds (upstream keys and auth headers, database and
        Redis passwords): what must never be echoed back from anywhere."""
        values = [p.api_key for p in self.providers.values()]
        for provider in self.providers.values():
            for name, value in provider.headers.items():
                if _is_secret_header(name):
                    values += [value, value.partition(" ")[2]]  # "Bearer <token>": the token alone too
        for url in (self.database_url, self.redis_url):
            if url:
                values.append(urlsplit(url).password)
        return [v for v in values if v]
