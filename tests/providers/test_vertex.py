"""Vertex AI: the rawPredict body and URL, Google's error shapes, and ADC tokens from a service
account whose token endpoint is the emulator's (google-auth signs the JWT, the emulator checks it
with the public key), refreshed before they expire without blocking the event loop."""

from __future__ import annotations

import asyncio
import datetime
import threading
from pathlib import Path

import orjson
import pytest

from interlink.core import ChatRequest, ErrorKind, Message, Passthrough, TextBlock
from interlink.providers import ProviderSettings
from interlink.providers.vertex import CODEC, VertexSSE, auth
from interlink.routing.transport import Transport
from interlink.testing.emulator import run_emulator
from tests.contract.conftest import write_google_adc

SETTINGS = ProviderSettings(
    name="vertex",
    kind="vertex",
    base_url="https://us-east5-aiplatform.googleapis.com",
    project="my-proj",
    location="us-east5",
)


def request(text: str = "hi", betas: str | None = None) -> ChatRequest:
    body = {"model": "sonnet", "max_tokens": 50, "messages": [{"role": "user", "content": text}]}
    headers = {"anthropic-beta": betas} if betas else {}
    return ChatRequest(
        model="sonnet",
        messages=[Message("user", [TextBlock(text)])],
        max_tokens=50,
        passthrough=Passthrough("anthropic", body, headers),
    )


def test_body_and_url_follow_vertex_rules() -> None:
    upstream = CODEC.build_request(
        request(betas="claude-code-20250219,context-1m-2025-08-07"),
        upstream_model="claude-sonnet-4-5@20250929",
        settings=SETTINGS,
        stream=True,
    )
    assert upstream.url == (
        "https://us-east5-aiplatform.googleapis.com/v1/projects/my-proj/locations/us-east5/publishers/anthropic/"
        "models/claude-sonnet-4-5@20250929:streamRawPredict"
    )
    body = orjson.loads(upstream.body)
    assert "model" not in body and body["stream"] is True  # stream stays in the body on Vertex
    assert body["anthropic_version"] == "vertex-2023-10-16"
    assert upstream.headers["anthropic-beta"] == "context-1m-2025-08-07"
    assert upstream.dropped == ["anthropic-beta:claude-code-20250219"]
    assert upstream.sign is not None


@pytest.mark.parametrize(
    ("status", "body", "kind", "retryable"),
    [
        (
            429,
            b'[{"error":{"code":429,"message":"Quota exceeded for aiplatform.googleapis.com","status":"RESOURCE_EXHAUSTED"}}]',
            ErrorKind.RATE_LIMIT,
            True,
        ),
        (
            400,
            b'{"error":{"code":400,"message":"Project is not allowed to use Publisher Model","status":"FAILED_PRECONDITION"}}',
            ErrorKind.INVALID_REQUEST,
            False,
        ),
        (
            400,
            b'{"type":"error","error":{"type":"invalid_request_error","message":"invalid beta flag"},"request_id":"req_vrtx_1"}',
            ErrorKind.INVALID_REQUEST,
            False,
        ),
        (
            529,
            b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
            ErrorKind.OVERLOADED,
            True,
        ),
    ],
)
def test_errors_in_every_shape(status: int, body: bytes, kind: ErrorKind, retryable: bool) -> None:
    error = CODEC.map_error(status, {}, body, settings=SETTINGS)
    assert (error.kind, error.retryable) == (kind, retryable)
    assert "RESOURCE_EXHAUSTED" in error.message if status == 429 else error.message


def test_vertex_events_never_reach_the_decoder_or_a_client() -> None:
    sse = VertexSSE()
    events = sse.feed(b'event: vertex_event\ndata: {"type":"vertex_event"}\n\nevent: ping\ndata: {"type":"ping"}\n\n')
    assert [e.event for e in events] == ["ping"]


@pytest.fixture
def adc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    auth._CREDENTIALS.clear()
    yield lambda url: _adc(tmp_path, monkeypatch, url)
    auth._CREDENTIALS.clear()


def _adc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator: str) -> str:
    path = tmp_path / "sa.json"
    public = write_google_adc(path, emulator)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    return public


async def test_service_account_token_from_adc_is_accepted(adc) -> None:  # type: ignore[no-untyped-def]
    transport = Transport()
    async with run_emulator() as emu:
        emu.clouds.google_certs = adc(emu.base_url)  # the emulator verifies the JWT's signature
        settings = ProviderSettings(name="v", kind="vertex", base_url=emu.base_url, project="p", location="us-east5")
        for stream in (False, False, True):
            upstream = CODEC.build_request(
                request("ping vertex"), upstream_model="claude-x@1", settings=settings, stream=stream
            )
            reply = await transport.send(upstream)
            body = await reply.read()
            assert reply.status == 200, body
        assert b"vertex_event" in body  # the emulator sends them; VertexSSE drops them
        assert emu.clouds.token_grants == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]  # one token, reused
        emu.clouds.tokens.clear()  # revoked upstream: the gateway's token is refused, as Google would
        reply = await transport.send(
            CODEC.build_request(request(), upstream_model="m", settings=settings, stream=False)
        )
        error = CODEC.map_error(reply.status, reply.headers, await reply.read(), settings=settings)
        assert error.kind is ErrorKind.AUTHENTICATION
    await transport.close()


async def test_tokens_are_refreshed_early_in_the_background_and_never_block_the_loop(adc) -> None:  # type: ignore[no-untyped-def]
    async with run_emulator() as emu:
        adc(emu.base_url)
        credentials = auth.GoogleCredentials()
        threads: list[int] = []
        refresh = credentials._refresh

        def recorded() -> None:
            threads.append(threading.get_ident())
            refresh()

        credentials._refresh = recorded  # type: ignore[method-assign]
        first = await asyncio.gather(*(credentials.headers() for _ in range(20)))
        assert credentials.refreshes == 1 and len({h["authorization"] for h in first}) == 1
        # nine minutes left: still valid, so it is served at once while a new one is fetched
        credentials._credentials.expiry = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) + datetime.timedelta(
            minutes=9
        )
        served = await credentials.headers()
        background = credentials._background
        assert served == first[0] and credentials.refreshes == 1 and background is not None  # not waited for
        await background
        assert credentials.refreshes == 2
        assert (await credentials.headers())["authorization"] != first[0]["authorization"]
        assert threads and threading.get_ident() not in threads  # every refresh ran off the event loop
        assert len(emu.clouds.token_grants) == 2
