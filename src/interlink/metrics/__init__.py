"""Prometheus metrics for `GET /metrics`.

This package owns the metric names, their labels and the registry they live in. Each `Metrics`
has its own `CollectorRegistry` (never the process-global default), so tests and several apps in
one process do not collide on duplicate names.

Exported series:

    interlink_requests_total{api,model,status}          counter
    interlink_errors_total{kind}                        counter
    interlink_retries_total{provider}                   counter
    interlink_tokens_total{model,kind}                  counter  kind: input|output|cache_read|cache_write|reasoning
    interlink_request_duration_seconds{api}             histogram
    interlink_time_to_first_token_seconds{api}          histogram
    interlink_open_streams                              gauge
    interlink_ledger_rows_set_aside_total               counter

Label cardinality is bounded: every series is kept in Prometheus (and in this process) forever,
and `/metrics` needs no key. The `model` label only ever takes a configured model name (a
pattern entry such as "claude-*" for the names it matches); any other name a client sends is
"unknown". Other labels admit `max_values` distinct values, then collapse new ones to "other".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fnmatch import fnmatchcase
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["OTHER", "TOKEN_KINDS", "UNKNOWN", "Metrics"]

TOKEN_KINDS = frozenset({"input", "output", "cache_read", "cache_write", "reasoning"})
OTHER = "other"
UNKNOWN = "unknown"

# LLM calls run from a fraction of a second to many minutes; the default buckets stop at 10 s.
_DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 900)
_TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120)


class _BoundedLabel:
    """Admits a label value until `limit` distinct values were seen; later ones become "other"."""

    def __init__(self, known: Iterable[str] = (), limit: int = 200) -> None:
        self._known = {str(v) for v in known}
        self._seen: set[str] = set()
        self._limit = limit

    def __call__(self, value: object) -> str:
        text = UNKNOWN if value is None or value == "" else str(value)
        if text in self._known or text in self._seen:
            return text
        if len(self._seen) >= self._limit:
            return OTHER
        self._seen.add(text)
        return text


class _ModelLabel:
    """Configured names as themselves, names a configured pattern matches as the pattern, and
    anything else (a client's invention of any length) as "unknown"."""

    def __init__(self, models: Iterable[str]) -> None:
        self.set(models)

    def set(self, models: Iterable[str]) -> None:
        names = list(models)
        self._exact = {n for n in names if not any(ch in n for ch in "*?[")}
        self._patterns = [n for n in names if n not in self._exact]
        self._matched: dict[str, str] = {}

    def __call__(self, value: object) -> str:
        name = str(value) if value else ""
        if name in self._exact:
            return name
        found = self._matched.get(name)
        if found is None:
            found = next((p for p in self._patterns if fnmatchcase(name, p)), UNKNOWN)
            if len(self._matched) < 10_000:
                self._matched[name] = found
        return found


class Metrics:
    """The gateway's Prometheus metrics, in a registry of their own.

    `models` (the config's public model names) and `providers` are always admitted as label
    values; `max_values` caps how many other distinct values any one label admits.
    """

    def __init__(self, *, models: Iterable[str] = (), providers: Iterable[str] = (), max_values: int = 200) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._api = _BoundedLabel(("anthropic", "openai-chat", "openai-responses"), limit=20)
        self._model = _ModelLabel(models)
        self._provider = _BoundedLabel(providers, limit=max_values)
        self._status = _BoundedLabel(limit=60)
        self._kind = _BoundedLabel(limit=40)
        r = self.registry
        self._requests = Counter(
            "interlink_requests", "Requests answered, by client API, model and HTTP status.",
            ("api", "model", "status"), registry=r,
        )  # fmt: skip
        self._errors = Counter("interlink_errors", "Errors by kind.", ("kind",), registry=r)
        self._retries = Counter("interlink_retries", "Upstream retries by provider.", ("provider",), registry=r)
        self._tokens = Counter("interlink_tokens", "Tokens by model and kind.", ("model", "kind"), registry=r)
        self._duration = Histogram(
            "interlink_request_duration_seconds", "Whole request latency.", ("api",),
            buckets=_DURATION_BUCKETS, registry=r,
        )  # fmt: skip
        self._ttft = Histogram(
            "interlink_time_to_first_token_seconds", "Time to the first streamed token.", ("api",),
            buckets=_TTFT_BUCKETS, registry=r,
        )  # fmt: skip
        self._open_streams = Gauge("interlink_open_streams", "Streams being sent to clients now.", registry=r)
        self._set_aside = Counter(
            "interlink_ledger_rows_set_aside", "Usage rows the database refused, logged with their request id.",
            registry=r,
        )  # fmt: skip
        # (metric, raw label values) -> the labelled child. `labels()` validates and locks on
        # every call (a few µs each, several per request); the children never change.
        self._children: dict[tuple[object, ...], Any] = {}

    def _child(self, metric: Any, *raw: object, labels: tuple[Callable[[object], str], ...]) -> Any:
        key = (id(metric), *raw)
        child = self._children.get(key)
        if child is None:
            if len(self._children) >= 10_000:  # raw values may come from clients: bounded
                self._children.clear()
            child = self._children[key] = metric.labels(
                *(label(value) for label, value in zip(labels, raw, strict=True))
            )
        return child

    def request(self, api: str, model: str | None, status: int, latency_s: float, ttft_s: float | None = None) -> None:
        """One finished request; `ttft_s` only when a first token was streamed."""
        self._child(self._requests, api, model, status, labels=(self._api, self._model, self._status)).inc()
        self._child(self._duration, api, labels=(self._api,)).observe(max(0.0, latency_s))
        if ttft_s is not None:
            self._child(self._ttft, api, labels=(self._api,)).observe(max(0.0, ttft_s))

    def error(self, kind: object) -> None:
        """`kind` is an `ErrorKind` or its value."""
        self._errors.labels(self._kind(getattr(kind, "value", kind))).inc()

    def retry(self, provider: str | None) -> None:
        self._retries.labels(self._provider(provider)).inc()

    def tokens(self, model: str | None, kind: str, n: int | None) -> None:
        """Adds `n` tokens of `kind`; zero and None are skipped so absent usage adds no series."""
        if kind not in TOKEN_KINDS:
            # A programming error, not client input: fail loudly so it is caught in tests.
            raise ValueError(f"token kind must be one of {sorted(TOKEN_KINDS)}, not {kind!r}")
        if n:
            self._child(self._tokens, model, kind, labels=(self._model, str)).inc(max(0, n))

    def set_models(self, models: Iterable[str]) -> None:
        """The configured model names after a reload."""
        self._model.set(models)
        self._children.clear()

    def row_set_aside(self) -> None:
        self._set_aside.inc()

    def stream_opened(self) -> None:
        self._open_streams.inc()

    def stream_closed(self) -> None:
        self._open_streams.dec()

    def render(self) -> tuple[bytes, str]:
        """The exposition body and its content type, for `GET /metrics`."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
