"""Azure OpenAI: the deployment and v1 URLs, the api-key header, the stream's annotation chunks,
the content filter's 400, and Entra ID through azure-identity's managed identity (the emulator's)."""

from __future__ import annotations

import orjson
import pytest

from interlink.core import ChatRequest, ErrorKind, Message, StopReason, TextBlock
from interlink.providers import ProviderSettings
from interlink.providers.azure_openai import CODEC, AzureChatSSE, auth, url_for
from interlink.providers.openai_chat.stream import ChatStreamDecoder
from interlink.routing.transport import Transport
from interlink.testing.emulator import run_emulator
from interlink.testing.emulator_clouds import AZURE_KEY

BASE = "https://my-res.openai.azure.com"
REQUEST = ChatRequest(model="gpt", messages=[Message("user", [TextBlock("hi")])], max_tokens=20)


def settings(**fields: object) -> ProviderSettings:
    return ProviderSettings(**{"name": "azure", "kind": "azure-openai", "base_url": BASE, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "url"),
    [
        ({"api_version": "2024-10-21"}, f"{BASE}/openai/deployments/my-gpt/chat/completions?api-version=2024-10-21"),
        ({}, f"{BASE}/openai/v1/chat/completions"),
        ({"api": "openai-responses"}, f"{BASE}/openai/v1/responses"),
        (
            {"api": "openai-responses", "api_version": "2025-04-01-preview"},
            f"{BASE}/openai/responses?api-version=2025-04-01-preview",
        ),
        ({"api_version": "preview"}, f"{BASE}/openai/v1/chat/completions?api-version=preview"),
    ],
)
def test_urls(fields: dict[str, str], url: str) -> None:
    assert url_for(settings(**fields), "my-gpt", fields.get("api", "openai-chat")) == url


def test_api_key_header_and_deployment_as_model() -> None:
    upstream = CODEC.build_request(
        REQUEST, upstream_model="my-gpt", settings=settings(api_key="k", api_version="2024-10-21"), stream=True
    )
    assert upstream.headers["api-key"] == "k"
    assert not any(k.lower() == "authorization" for k in upstream.headers)
    assert orjson.loads(upstream.body)["model"] == "my-gpt"
    assert upstream.framing is AzureChatSSE and upstream.sign is None
    assert url_for(settings(), "my-gpt", "openai-chat") == url_for(
        settings(base_url=f"{BASE}/openai/v1"), "my-gpt", "openai-chat"
    )


def test_annotation_chunks_are_left_out_and_content_filter_is_a_refusal() -> None:
    stream = (
        b"".join(
            b"data: " + orjson.dumps(chunk) + b"\n\n"
            for chunk in [
                {"id": "", "object": "", "created": 0, "model": "", "choices": [], "prompt_filter_results": [{}]},
                {
                    "id": "c1",
                    "model": "gpt-4o",
                    "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}],
                },
                {
                    "id": "",
                    "choices": [
                        {"index": 0, "delta": {}, "finish_reason": None, "content_filter_offsets": {"check_offset": 0}}
                    ],
                },
                {
                    "id": "c1",
                    "model": "gpt-4o",
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "content_filter"}],
                },
                {"id": "c1", "model": "gpt-4o", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 1}},
            ]
        )
        + b"data: [DONE]\n\n"
    )
    events = AzureChatSSE().feed(stream)
    assert len(events) == 4  # the prompt annotation and the annotation-only chunk are gone
    decoder = ChatStreamDecoder(settings())
    decoded = [e for sse in events for e in decoder.feed(sse)]
    start = decoded[0]
    assert start.id == "c1" and start.model == "gpt-4o"  # type: ignore[union-attr]
    stops = [e for e in decoded if type(e).__name__ == "ResponseDelta"]
    assert stops[-1].stop_reason is StopReason.REFUSAL  # type: ignore[attr-defined]


def test_content_filter_400_says_so_and_is_not_retried() -> None:
    body = orjson.dumps(
        {
            "error": {
                "code": "content_filter",
                "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
                "param": "prompt",
                "status": 400,
                "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": {}},
            }
        }
    )
    error = CODEC.map_error(400, {}, body, settings=settings())
    assert error.kind is ErrorKind.INVALID_REQUEST and not error.retryable and error.code == "content_filter"


async def test_through_the_emulator_with_a_key_and_with_entra_id(monkeypatch: pytest.MonkeyPatch) -> None:
    transport = Transport()
    async with run_emulator() as emu:
        keyed = ProviderSettings(
            name="a", kind="azure-openai", base_url=emu.base_url, api_key=AZURE_KEY, api_version="2024-10-21"
        )
        reply = await transport.send(CODEC.build_request(REQUEST, upstream_model="dep", settings=keyed, stream=False))
        assert reply.status == 200, await reply.read()
        assert emu.requests[-1].query == "api-version=2024-10-21"
        wrong = ProviderSettings(name="a", kind="azure-openai", base_url=emu.base_url, api_key="nope")
        reply = await transport.send(CODEC.build_request(REQUEST, upstream_model="dep", settings=wrong, stream=False))
        assert (
            CODEC.map_error(reply.status, reply.headers, await reply.read(), settings=wrong).kind
            is ErrorKind.AUTHENTICATION
        )

        # Entra ID: azure-identity's DefaultAzureCredential finds the (emulated) App Service managed identity
        for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("IDENTITY_ENDPOINT", f"{emu.base_url}/msi/token")
        monkeypatch.setenv("IDENTITY_HEADER", "interlink-emulator")
        auth._TOKENS.clear()
        entra = ProviderSettings(name="entra", kind="azure-openai", base_url=emu.base_url, api="openai-responses")
        for _ in range(2):
            upstream = CODEC.build_request(REQUEST, upstream_model="dep", settings=entra, stream=False)
            reply = await transport.send(upstream)
            body = await reply.read()
            assert reply.status == 200, body
        assert emu.requests[-1].path == "/openai/v1/responses"
        assert emu.requests[-1].headers["authorization"].startswith("Bearer eyJ0eXAi.emu")
        issued = [t for t in emu.clouds.tokens if t.startswith("eyJ0eXAi.emu")]
        assert len(issued) == 1  # the token is kept, not fetched per call
        for token in auth._TOKENS.values():
            await token.close()
        auth._TOKENS.clear()
    await transport.close()
