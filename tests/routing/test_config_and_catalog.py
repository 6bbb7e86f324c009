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
    assert catalog.resolve("deepseek-reasoner").deployments[0].provider.preset.name == "deepseek"
    # `<provider>/<model>` names reach unlisted models only where the provider opts in
    with pytest.raises(GatewayError) as info:
        catalog.resolve("ant/claude-opus-4-1")
    assert info.value.status == 404
    config = parse_config(GOOD, "good.yaml")
    config.providers["ant"].allow_unlisted_models = True
    assert Catalog(config).resolve("ant/claude-opus-4-1").deployments[0].upstream_model == "claude-opus-4-1"


def test_unknown_model_404_lists_only_what_the_key_may_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_KEY", "k")
    catalog = Catalog(parse_config(GOOD, "good.yaml"))
    with pytest.raises(GatewayError) as info:
        catalog.resolve("x" * 5000, visible=lambda name: name == "sonnet")
    message = info.value.message
    assert "sonnet" in message and "deepseek" not in message and "*" not in message
    assert len(message) < 300  # a client's long name is quoted as a short prefix


def test_limits_come_from_the_built_in_table_and_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_KEY", "k")
    data = {**GOOD, "models": {**GOOD["models"], "mine": {"provider": "ds", "model": "x", "context_window": 9000}}}
    catalog = Catalog(parse_config(data, "good.yaml"))
    assert catalog.limits("sonnet") == (200000, 64000)
    assert catalog.limits("mine") == (9000, None)


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
        parse_config(
            {"providers": {"p": {"kind": "openai-chat", "base_url": "http://x/v1", "preset": "deepsek"}}}, "f.yaml"
        )
    assert "providers.p.preset: unknown preset 'deepsek'" in info.value.problems[0]
    assert "deepseek" in info.value.problems[0]


BAD_CONFIGS = [
    (
        {"providers": {"p": {"kind": "gemini", "base_url": "http://x"}}},
        "providers.p.kind: Input should be 'anthropic', 'openai-chat', 'openai-responses', 'bedrock', 'vertex' or 'azure-openai'",
    ),
    (
        {"providers": {"p": {"kind": "anthropic", "base_url": "ftp://x"}}},
        "providers.p.base_url: Value error, must start with http:// or https://",
    ),
    (
        {"providers": {"p": {"kind": "anthropic", "base_url": "http://x"}}, "models": {"m": {"provider": "q"}}},
        "models.m.provider: unknown provider 'q' (defined: p)",
    ),
    ({"models": {"m": {}}}, "models.m: needs `provider` or `deployments` (hint: provider: <one of []>)"),
    (
        {"providers": {"p": {"kind": "anthropic", "base_url": "http://x", "api_key": "${NOPE_NOT_SET}"}}},
        "providers.p.api_key: environment variable NOPE_NOT_SET is not set (hint: export NOPE_NOT_SET=... or use ${NOPE_NOT_SET:-default})",
    ),
    (
        {"providers": {"p": {"kind": "anthropic", "base_url": "http://x", "colour": "blue"}}},
        "providers.p.colour: Extra inputs are not permitted",
    ),
    ({"defaults": {"retry": {"attempts": 0}}}, "defaults.retry.attempts: Input should be greater than or equal to 1"),
]


@pytest.mark.parametrize(("data", "message"), BAD_CONFIGS)
def test_bad_config_table(data: dict, message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_NOT_SET", raising=False)
    with pytest.raises(ConfigError) as info:
        parse_config(data, "bad.yaml")
    assert message in info.value.problems


def test_check_config_exits_non_zero_with_file_and_key_path(tmp_path) -> None:
    from typer.testing import CliRunner

    from interlink.cli.main import app

    bad = tmp_path / "bad.yaml"
    bad.write_text("providers:\n  p: {kind: gemini, base_url: http://x}\nmodels:\n  m: {provider: q}\n")
    result = CliRunner().invoke(app, ["check-config", str(bad)])
    assert result.exit_code == 2
    assert str(bad) in result.output and "providers.p.kind" in result.output
