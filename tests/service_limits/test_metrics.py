"""Prometheus metrics: values after calls, bounded labels, parseable exposition."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from interlink.core.errors import ErrorKind
from interlink.metrics import UNKNOWN, Metrics


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_request_counts_and_histograms() -> None:
    m = Metrics(models=["gpt-5"])
    m.request("openai-chat", "gpt-5", 200, 1.5, 0.2)
    m.request("openai-chat", "gpt-5", 200, 0.5, None)
    m.request("anthropic", "gpt-5", 529, 3.0)
    assert value(m, "interlink_requests_total", api="openai-chat", model="gpt-5", status="200") == 2
    assert value(m, "interlink_requests_total", api="anthropic", model="gpt-5", status="529") == 1
    assert value(m, "interlink_request_duration_seconds_count", api="openai-chat") == 2
    assert value(m, "interlink_request_duration_seconds_sum", api="openai-chat") == pytest.approx(2.0)
    assert value(m, "interlink_request_duration_seconds_bucket", api="openai-chat", le="1.0") == 1
    assert value(m, "interlink_time_to_first_token_seconds_count", api="openai-chat") == 1
    assert value(m, "interlink_time_to_first_token_seconds_count", api="anthropic") is None


def test_errors_retries_tokens_and_streams() -> None:
    m = Metrics(models=["claude"])
    m.error(ErrorKind.RATE_LIMIT)
    m.error("overloaded")
    m.error(ErrorKind.RATE_LIMIT)
    m.retry("anthropic")
    m.tokens("claude", "input", 120)
    m.tokens("claude", "input", 30)
    m.tokens("claude", "cache_read", 0)
    m.tokens("claude", "reasoning", None)
    m.stream_opened()
    m.stream_opened()
    m.stream_closed()
    assert value(m, "interlink_errors_total", kind="rate_limit") == 2
    assert value(m, "interlink_errors_total", kind="overloaded") == 1
    assert value(m, "interlink_retries_total", provider="anthropic") == 1
    assert value(m, "interlink_tokens_total", model="claude", kind="input") == 150
    assert value(m, "interlink_tokens_total", model="claude", kind="cache_read") is None
    assert value(m, "interlink_open_streams") == 1


def test_unknown_token_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="token kind"):
        Metrics().tokens("m", "prompt", 1)


def test_model_label_only_takes_configured_names() -> None:
    m = Metrics(models=["configured", "claude-*"])
    for i in range(10):
        m.request("anthropic", f"client-made-{i}" + "x" * 100_000, 200, 0.1)
    m.request("anthropic", "configured", 200, 0.1)
    m.request("anthropic", "claude-sonnet-4-5", 200, 0.1)
    m.tokens("client-made-0", "output", 5)
    assert value(m, "interlink_requests_total", api="anthropic", model=UNKNOWN, status="200") == 10
    assert value(m, "interlink_requests_total", api="anthropic", model="configured", status="200") == 1
    assert value(m, "interlink_requests_total", api="anthropic", model="claude-*", status="200") == 1
    assert value(m, "interlink_tokens_total", model=UNKNOWN, kind="output") == 5
    assert len(m.render()[0]) < 20_000  # nothing a client chose is kept
    m.set_models(["client-made-1" + "x" * 100_000])  # a reload that names it makes it a label
    m.request("anthropic", "client-made-1" + "x" * 100_000, 200, 0.1)
    assert value(m, "interlink_requests_total", api="anthropic", model=UNKNOWN, status="200") == 10


def test_registries_are_independent() -> None:
    a, b = Metrics(), Metrics()
    a.retry("p")
    assert value(a, "interlink_retries_total", provider="p") == 1
    assert value(b, "interlink_retries_total", provider="p") is None


def test_render_parses_as_prometheus_text() -> None:
    m = Metrics(models=["o3"])
    m.request("openai-responses", "o3", 200, 2.0, 0.4)
    m.tokens("o3", "output", 42)
    body, content_type = m.render()
    assert isinstance(body, bytes)
    assert content_type.startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    assert {
        "interlink_requests",
        "interlink_errors",
        "interlink_retries",
        "interlink_tokens",
        "interlink_request_duration_seconds",
        "interlink_time_to_first_token_seconds",
        "interlink_open_streams",
    } <= set(families)
    assert families["interlink_requests"].type == "counter"
    assert families["interlink_request_duration_seconds"].type == "histogram"
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in families["interlink_tokens"].samples}
    assert samples[("interlink_tokens_total", (("kind", "output"), ("model", "o3")))] == 42
