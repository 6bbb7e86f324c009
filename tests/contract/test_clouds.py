"""What a user of the cloud upstreams sees through a real gateway: betas a cloud does not take are
dropped and named, the cloud-only stream extras never reach the client, a content-filter refusal
is a 400 that is not retried."""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest

from tests.contract.conftest import Stack

BETAS = "claude-code-20250219,interleaved-thinking-2025-05-14"


def test_bedrock_takes_supported_betas_in_the_body_and_names_the_others(stack: Stack) -> None:
    stack.reset()
    body = {"model": "via-bedrock", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"anthropic-version": "2023-06-01", "anthropic-beta": BETAS, "x-api-key": "k"}
    reply = httpx.post(f"{stack.gateway}/v1/messages", json=body, headers=headers, timeout=30)
    assert reply.status_code == 200, reply.text
    assert "anthropic-beta:claude-code-20250219" in reply.headers["interlink-dropped"]
    sent = stack.upstream_requests()[-1]
    assert sent["body"]["anthropic_beta"] == ["interleaved-thinking-2025-05-14"]
    assert sent["body"]["anthropic_version"] == "bedrock-2023-05-31"
    assert sent["headers"]["authorization"].startswith("AWS4-HMAC-SHA256 Credential=")


@pytest.mark.parametrize("model", ["via-bedrock", "via-vertex"])
def test_cloud_stream_extras_never_reach_an_anthropic_client(stack: Stack, model: str) -> None:
    body = {"model": model, "max_tokens": 50, "stream": True, "messages": [{"role": "user", "content": "stream me"}]}
    headers = {"anthropic-version": "2023-06-01", "x-api-key": "k"}
    with httpx.stream("POST", f"{stack.gateway}/v1/messages", json=body, headers=headers, timeout=30) as reply:
        raw = reply.read().decode()
    assert "event: content_block_delta" in raw
    assert "vertex_event" not in raw and "invocationMetrics" not in raw
    assert raw.rstrip().endswith('data: {"type":"message_stop"}')
    client = anthropic.Anthropic(base_url=stack.gateway, api_key="k", max_retries=0)
    with client.messages.stream(model=model, max_tokens=50, messages=[{"role": "user", "content": "sdk"}]) as s:
        assert "sdk" in s.get_final_text()


def test_azure_content_filter_is_a_400_that_is_not_retried(stack: Stack) -> None:
    stack.reset()
    client = openai.OpenAI(base_url=f"{stack.gateway}/v1", api_key="k", max_retries=0)
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="via-azure", messages=[{"role": "user", "content": "[blocked] text"}])
    assert "content filter" in str(info.value).lower() or "content management policy" in str(info.value)
    assert len([r for r in stack.upstream_requests() if r["path"].startswith("/openai/")]) == 1
