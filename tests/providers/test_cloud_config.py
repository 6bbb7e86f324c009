"""Cloud providers in the config: each kind's fields with hints, regional defaults, and a clear
error naming the extra when the cloud's optional dependency is missing."""

from __future__ import annotations

import sys

import pytest
from typer.testing import CliRunner

from interlink.cli.main import app
from interlink.config.loader import ConfigError, parse_config
from interlink.routing.catalog import Catalog

ISSUE_EXAMPLE = {
    "providers": {
        "bedrock": {"kind": "bedrock", "region": "us-east-1"},
        "vertex": {"kind": "vertex", "project": "my-proj", "location": "us-east5"},
        "azure": {
            "kind": "azure-openai",
            "base_url": "https://my-res.openai.azure.com",
            "api_key": "k",
            "api_version": "2024-10-21",
        },
    },
    "models": {
        "sonnet-bedrock": {"provider": "bedrock", "model": "anthropic.claude-sonnet-4-5-20250929-v1:0"},
        "sonnet-vertex": {"provider": "vertex", "model": "claude-sonnet-4-5@20250929"},
        "gpt-azure": {"provider": "azure", "model": "my-gpt-deployment"},
    },
}


def test_the_issue_example_loads_with_regional_endpoints() -> None:
    catalog = Catalog(parse_config(ISSUE_EXAMPLE, "clouds.yaml"))
    assert catalog.providers["bedrock"].base_url == "https://bedrock-runtime.us-east-1.amazonaws.com"
    assert catalog.providers["vertex"].base_url == "https://us-east5-aiplatform.googleapis.com"
    assert catalog.resolve("sonnet-bedrock").deployments[0].api == "anthropic"
    assert catalog.resolve("gpt-azure").deployments[0].api == "openai-chat"


@pytest.mark.parametrize(
    ("provider", "problem"),
    [
        ({"kind": "bedrock"}, "providers.p: Value error, kind: bedrock needs `region` (e.g. region: us-east-1"),
        (
            {"kind": "vertex", "project": "x"},
            "providers.p: Value error, kind: vertex needs `location` (e.g. location: us-east5",
        ),
        ({"kind": "azure-openai", "api_key": "k"}, "providers.p: Value error, kind: azure-openai needs `base_url`"),
        (
            {"kind": "vertex", "project": "x", "location": "global", "api_key": "k"},
            "providers.p: Value error, kind: vertex takes no api_key: it authenticates with Application Default Credentials",
        ),
        (
            {"kind": "anthropic", "base_url": "http://x", "region": "us-east-1"},
            "providers.p: Value error, `region` is for kind: bedrock, not anthropic",
        ),
        (
            {"kind": "bedrock", "region": "eu-west-1", "api": "openai-chat"},
            "providers.p: Value error, `api: openai-chat` is not one of ['anthropic', 'converse'] for kind: bedrock",
        ),
    ],
)
def test_each_kind_says_what_it_needs(provider: dict, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"providers": {"p": provider}}, "bad.yaml")
    assert any(p.startswith(problem) for p in info.value.problems), info.value.problems


def test_a_missing_extra_is_named_by_check_config(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "botocore", None)  # as if `interlink[bedrock]` were not installed
    monkeypatch.setitem(sys.modules, "google.auth", None)
    config = tmp_path / "clouds.yaml"
    config.write_text(
        "providers:\n  aws: {kind: bedrock, region: us-east-1}\n  gcp: {kind: vertex, project: p, location: global}\n"
        "  az: {kind: azure-openai, base_url: 'https://r.openai.azure.com', api_key: k}\n"
    )
    result = CliRunner().invoke(app, ["check-config", str(config)])
    assert result.exit_code != 0
    assert (
        "providers.aws.kind: kind: bedrock needs the optional dependency botocore: pip install 'interlink[bedrock]'"
        in result.output
    )
    assert "pip install 'interlink[vertex]'" in result.output
    assert "providers.az" not in result.output  # with an api-key Azure needs nothing extra


def test_codec_import_without_its_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from interlink.core import GatewayError
    from interlink.routing import catalog

    monkeypatch.setitem(sys.modules, "botocore", None)
    monkeypatch.delitem(sys.modules, "interlink.providers.bedrock", raising=False)
    catalog.codec_for.cache_clear()
    try:
        with pytest.raises(GatewayError, match=r"pip install 'interlink\[bedrock\]'"):
            catalog.codec_for("bedrock")
    finally:
        catalog.codec_for.cache_clear()


@pytest.mark.parametrize(
    "model", ["us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5@20250929", "claude-sonnet-4-5"]
)
def test_cloud_ids_get_the_vendor_models_prices_and_limits(model: str) -> None:
    from interlink.repair.capabilities import capabilities_for
    from interlink.usage.pricing import Pricing

    price = Pricing().price([f"public-{model}", model])
    assert price is not None and (price.input, price.output) == (3.0, 15.0)
    assert capabilities_for(model, "anthropic").max_output_tokens == 64000
