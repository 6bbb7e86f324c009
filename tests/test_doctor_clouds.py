"""`interlink doctor` on the clouds: credentials found and accepted by the (emulated) regional
endpoint, a one-token call with --call, and a fix that says what to do when they are not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from interlink.cli.main import app
from interlink.providers.bedrock import auth as bedrock_auth
from interlink.providers.vertex import auth as vertex_auth
from interlink.testing import emulator_aws as aws
from interlink.testing.emulator import Emulator, run_emulator_in_thread
from interlink.testing.emulator_clouds import AZURE_KEY
from tests.contract.conftest import GOOGLE_ADC, cloud_env, write_google_adc


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with run_emulator_in_thread() as emu:
        yield emu


@pytest.fixture
def clouds(emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_google_adc(tmp_path / GOOGLE_ADC, emulator.base_url)
    for name, value in cloud_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    bedrock_auth._CREDENTIALS.clear()
    vertex_auth._CREDENTIALS.clear()
    config = tmp_path / "clouds.yaml"
    config.write_text(
        f"""
providers:
  aws: {{kind: bedrock, region: us-east-1, base_url: "{emulator.base_url}"}}
  gcp: {{kind: vertex, project: emu-project, location: us-east5, base_url: "{emulator.base_url}"}}
  az: {{kind: azure-openai, base_url: "{emulator.base_url}", api_key: "${{AZ_KEY:-{AZURE_KEY}}}", api_version: "2024-10-21"}}
models:
  sonnet-bedrock: {{provider: aws, model: "anthropic.claude-sonnet-4-5-20250929-v1:0"}}
  sonnet-vertex: {{provider: gcp, model: "claude-sonnet-4-5@20250929"}}
  gpt-azure: {{provider: az, model: my-deployment}}
"""
    )
    return config


def run(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["doctor", "-c", str(config), *args])
    return result.exit_code, result.output


def test_every_cloud_passes_with_a_call(clouds: Path) -> None:
    code, output = run(clouds, "--call")
    assert code == 0, output
    assert output.count("credentials accepted") == 3
    assert "all 3 provider(s) ok" in output


def test_bad_credentials_say_what_to_fix_and_never_show_secrets(clouds: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-value-123")
    monkeypatch.setenv("AZ_KEY", "wrong-azure-key-456")
    bedrock_auth._CREDENTIALS.clear()
    code, output = run(clouds)
    assert code == 1
    flat = " ".join(output.split())
    assert "aws refused the credentials in region us-east-1" in flat
    assert "az refused the credentials" in flat and "check api_key" in flat
    assert "wrong-secret-value-123" not in output and "wrong-azure-key-456" not in output
    assert aws.SECRET_KEY not in output


def test_no_aws_credentials_at_all(clouds: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        monkeypatch.delenv(name, raising=False)
    bedrock_auth._CREDENTIALS.clear()
    code, output = run(clouds)
    assert code == 1
    assert "no AWS credentials found" in " ".join(output.split())
