"""Config files are validated with every problem named; model names resolve or 404 with hints."""

from __future__ import annotations

import pytest

from interlink.config.loader import ConfigError, from_environment, load_config, parse_config
from interlink.core import ErrorKind, GatewayError
from interlink.routing.catalog import Catalog

GOOD = {
    "providers": {
        "ant": {"kind": "anthropic", "base_url": "http://127.0.0.1:9000/", "api_key": "${TEST_KEY}"},
        "ds": {"kind": "openai-chat", "base_url": "http://127.0.0.1:9000/v1", "preset": "deepseek"},
    },
    "models": {
        "sonnet": {"provider": "ant", "model": "claude-sonnet-4-5"},
        "deepseek-*": {"provider": "ds"},
    },
}


def test_env_interpolation_and_url_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_KEY", "sk-secret")
    config = parse_config(GOOD, "good.yaml")
    assert config.providers["ant"].api_key == "sk-secret"
    assert config.providers["ant"].base_url == "http://127.0.0.1:9000"


def test_every_problem_is_reported_with_its_key_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MISSING_VAR", raising=False)
    bad = {
        "providers": {"p": {"kind": "anthropic", "base_url": "http://x", "api_key": "${MISSING_VAR}"}},
        "models": {"m": {"provider": "nope"}, "n": {"provider": "p", "fallbacks": ["ghost"]}},
    }
    with pytest.raises(ConfigError) as info:
        parse_config(bad, "bad.yaml")
    text = "\n".join(info.value.problems)
    assert "providers.p.api_key: environment variable MISSING_VAR is not set" in text
    assert "models.m.provider: unknown provider 'nope'" in text
    assert "models.n.fallbacks: unknown model 'ghost'" in text


def test_wrong_kind_names_the_allowed_values() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"providers": {"p": {"kind": "gemini", "base_url": "http://x"}}}, "f.yaml")
    assert "providers.p.kind" in info.value.problems[0]
    assert "anthropic" in info.value.problems[0]


def test_missing_file_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")


def test_catalog_resolves_exact_provider_slash_and_patterns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_KEY", "k")
    catalog = Catalog(parse_config(GOOD, "good.yaml"))
    route = catalog.resolve("sonnet")
    assert (route.deployments[0].provider.name, route.deployments[0].upstream_model) == ("ant", "claude-sonnet-4-5")
    assert catalog.resolve("ant/claude-opus-4-1").deployments[0].upstream_model == "claude-opus-4-1"
    assert catalog.resolve("deepseek-reasoner").deployments[0].provider.preset.name == "deepseek"


def test_unknown_model_is_404_naming_close_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_KEY", "k")
    catalog = Catalog(parse_config(GOOD, "good.yaml"))
    with pytest.raises(GatewayError) as info:
        catalog.resolve("sonet")
    assert info.value.kind is ErrorKind.NOT_FOUND and info.value.status == 404
    assert "'sonnet'" in info.value.message


def test_no_config_and_no_keys_says_how_to_configure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(GatewayError) as info:
        Catalog(from_environment()).resolve("gpt-4o")
    assert "--config" in info.value.message and "ANTHROPIC_API_KEY" in info.value.message


def test_environment_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "a")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:1")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    route = Catalog(from_environment()).resolve("claude-sonnet-4-5")
    assert route.deployments[0].provider.base_url == "http://127.0.0.1:1"


def test_unknown_preset_names_the_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"providers": {"p": {"kind": "openai-chat", "base_url": "http://x/v1", "preset": "deepsek"}}}, "f.yaml")
    assert "providers.p.preset: unknown preset 'deepsek'" in info.value.problems[0]
    assert "deepseek" in info.value.problems[0]
