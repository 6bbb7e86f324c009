"""Bedrock: the event-stream framing (the emulator's frames judged by botocore's own parser, the
gateway's decoder by the frames), the InvokeModel body, SigV4 as AWS checks it, error mapping."""

from __future__ import annotations

import asyncio
import base64
import json
import threading

import orjson
import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer

from interlink.core import ChatRequest, ErrorKind, GatewayError, Message, Passthrough, TextBlock
from interlink.providers import ProviderSettings
from interlink.providers.bedrock import CODEC, auth
from interlink.providers.bedrock.eventstream import EventStreamDecoder, InvokeDeframer
from interlink.routing.transport import Transport
from interlink.testing import emulator_aws as aws
from interlink.testing.emulator import run_emulator
from interlink.testing.emulator_script import Answer, Ids, ToolCall
from interlink.testing.emulator_wire import AnthropicStream

# The decoded example frame of CLOUDS.md §1.4 (real CRCs): a message_stop chunk with padding `p`.
EXAMPLE = bytes.fromhex(
    "00000092 0000004b 2fea3301 0b3a6576 656e742d 74797065 07000563 68756e6b"
    "0d3a636f 6e74656e 742d7479 70650700 10617070 6c696361 74696f6e 2f6a736f"
    "6e0d3a6d 65737361 67652d74 79706507 00056576 656e747b 22627974 6573223a"
    "2265794a 30655842 6c496a6f 69625756 7a633246 6e5a5639 7a644739 77496e30"
    "3d222c22 70223a22 61626364 227d42b7 2480".replace(" ", "")
)


def answer() -> Answer:
    call = ToolCall("toolu_1", "bash", {"command": "echo hello"})
    return Answer("Hello from the emulator", thinking="hmm", signature="sig", tool_call=call, input_tokens=5)


def test_emulator_frames_pass_botocores_event_stream_parser() -> None:
    stream = aws.InvokeStream(AnthropicStream(answer(), "claude-emu", Ids(), {}))
    buffer = EventStreamBuffer()
    wire = b"".join(f.data for f in stream.frames())
    buffer.add_data(wire)
    messages = list(buffer)  # botocore checks prelude and message CRCs, and raises on a bad one
    assert messages and all(m.headers[":message-type"] == "event" for m in messages)
    events = [json.loads(base64.b64decode(json.loads(m.payload)["bytes"])) for m in messages]
    assert events[0]["type"] == "message_start" and events[-1]["type"] == "message_stop"
    assert "amazon-bedrock-invocationMetrics" in events[-1]
    converse = aws.ConverseStream(answer(), "nova", Ids(), {})
    buffer = EventStreamBuffer()
    buffer.add_data(b"".join(f.data for f in converse.frames()))
    kinds = [m.headers[":event-type"] for m in buffer]
    assert kinds[0] == "messageStart" and kinds[-2:] == ["messageStop", "metadata"]


def test_corrupt_frame_fails_botocore_and_the_gateway_alike() -> None:
    bad = aws.corrupt(aws.event_frame("chunk", {"bytes": "e30="}))
    buffer = EventStreamBuffer()
    buffer.add_data(bad)
    with pytest.raises(ChecksumMismatch):
        list(buffer)
    with pytest.raises(GatewayError, match="CRC"):
        EventStreamDecoder().feed(bad)


def test_decoder_reads_the_reference_frame_split_anywhere() -> None:
    for cut in range(1, len(EXAMPLE)):
        deframer = InvokeDeframer()
        events = deframer.feed(EXAMPLE[:cut]) + deframer.feed(EXAMPLE[cut:] + EXAMPLE)
        assert [(e.event, e.data) for e in events] == [("message_stop", '{"type":"message_stop"}')] * 2
        assert deframer.flush() == []


def test_metrics_are_stripped_and_a_cut_frame_is_an_error() -> None:
    wire = b"".join(f.data for f in aws.InvokeStream(AnthropicStream(answer(), "m", Ids(), {})).frames())
    deframer = InvokeDeframer()
    events = deframer.feed(wire)
    assert events[-1].event == "message_stop" and "invocationMetrics" not in events[-1].data
    deframer.feed(wire[:30])
    with pytest.raises(GatewayError, match="middle of an event-stream frame"):
        deframer.flush()


def test_exception_frames_become_anthropic_error_events() -> None:
    deframer = InvokeDeframer()
    [event] = deframer.feed(aws.exception_frame("throttlingException", "Too many tokens"))
    assert event.event == "error"
    assert orjson.loads(event.data)["error"] == {
        "type": "rate_limit_error",
        "message": "ThrottlingException: Too many tokens",
    }


SETTINGS = ProviderSettings(
    name="bedrock", kind="bedrock", base_url="https://bedrock-runtime.us-east-1.amazonaws.com", region="us-east-1"
)


def claude_code_request() -> ChatRequest:
    body = {
        "model": "sonnet",
        "max_tokens": 100,
        "stream": True,
        "service_tier": "auto",
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "system", "content": "mid-conversation note"},
            {"role": "user", "content": "go on"},
        ],
    }
    betas = "claude-code-20250219,interleaved-thinking-2025-05-14,mid-conversation-system-2026-04-07"
    passthrough = Passthrough("anthropic", body, {"anthropic-beta": betas, "anthropic-version": "2023-06-01"})
    return ChatRequest(model="sonnet", messages=[Message("user", [TextBlock("hi")])], passthrough=passthrough)


def test_invoke_body_is_the_messages_body_as_bedrock_wants_it() -> None:
    model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    upstream = CODEC.build_request(claude_code_request(), upstream_model=model, settings=SETTINGS, stream=True)
    assert upstream.url.endswith("/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke-with-response-stream")
    body = orjson.loads(upstream.body)
    assert "model" not in body and "stream" not in body and "service_tier" not in body
    assert body["anthropic_version"] == "bedrock-2023-05-31"
    assert body["anthropic_beta"] == ["interleaved-thinking-2025-05-14"]
    assert "anthropic-beta" not in {k.lower() for k in upstream.headers}
    assert [m["role"] for m in body["messages"]] == ["user", "user"]  # no beta for it: system hoisted
    assert body["system"] == [{"type": "text", "text": "mid-conversation note"}]
    assert {"anthropic-beta:claude-code-20250219", "anthropic-beta:mid-conversation-system-2026-04-07"} <= set(
        upstream.dropped
    )
    assert "service_tier" in upstream.dropped
    assert upstream.sign is not None  # SigV4, no key


def test_arn_model_ids_keep_colons_and_escape_slashes() -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123"
    request = ChatRequest(model="m", messages=[Message("user", [TextBlock("hi")])], max_tokens=5)
    settings = ProviderSettings(
        name="b", kind="bedrock", base_url=SETTINGS.base_url, region="us-east-1", api="anthropic"
    )
    upstream = CODEC.build_request(request, upstream_model=arn, settings=settings, stream=False)
    assert upstream.url.endswith(
        "/model/arn:aws:bedrock:us-east-1:123456789012:application-inference-profile%2Fabc123/invoke"
    )


def test_api_key_is_a_bearer_token_and_nothing_is_signed() -> None:
    settings = ProviderSettings(name="b", kind="bedrock", base_url=SETTINGS.base_url, region="us-east-1", api_key="k")
    request = ChatRequest(model="m", messages=[Message("user", [TextBlock("hi")])], max_tokens=5)
    upstream = CODEC.build_request(request, upstream_model="anthropic.claude-x", settings=settings, stream=False)
    assert upstream.headers["authorization"] == "Bearer k" and upstream.sign is None


@pytest.mark.parametrize(
    ("code", "status", "kind", "retryable", "param"),
    [
        ("ThrottlingException", 429, ErrorKind.RATE_LIMIT, True, None),
        ("ModelNotReadyException", 429, ErrorKind.UNAVAILABLE, True, None),
        ("ServiceUnavailableException", 503, ErrorKind.UNAVAILABLE, True, None),
        ("AccessDeniedException", 403, ErrorKind.PERMISSION, False, None),
        ("ValidationException", 400, ErrorKind.INVALID_REQUEST, False, "messages[1].content"),
    ],
)
def test_errors_map_by_their_aws_code(
    code: str, status: int, kind: ErrorKind, retryable: bool, param: str | None
) -> None:
    headers = {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/"}
    message = "messages.1.content: Field required" if code == "ValidationException" else "nope"
    error = CODEC.map_error(status, headers, json.dumps({"message": message}).encode(), settings=SETTINGS)
    assert (error.kind, error.retryable, error.param) == (kind, retryable, param)
    assert error.message.startswith(code)
    assert error.status == {ErrorKind.INVALID_REQUEST: 400, ErrorKind.PERMISSION: 403}.get(kind, error.status)


def test_extraneous_key_is_named() -> None:
    body = b'{"message":"Malformed input request: #: extraneous key [top_k] is not permitted, please reformat"}'
    error = CODEC.map_error(400, {"x-amzn-ErrorType": "ValidationException"}, body, settings=SETTINGS)
    assert error.param == "top_k"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", aws.ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", aws.SECRET_KEY)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    auth._CREDENTIALS.clear()
    yield
    auth._CREDENTIALS.clear()


async def test_sigv4_signed_requests_pass_the_emulators_check_and_bad_secrets_do_not(
    aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = ChatRequest(model="m", messages=[Message("user", [TextBlock("say hi")])], max_tokens=20)
    transport = Transport()
    async with run_emulator() as emu:
        settings = ProviderSettings(name="b", kind="bedrock", base_url=emu.base_url, region="us-east-1")
        model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
        upstream = CODEC.build_request(request, upstream_model=model, settings=settings, stream=False)
        reply = await transport.send(upstream)
        body = await reply.read()
        assert reply.status == 200, body
        assert "say hi" in CODEC.parse_response(body, settings=settings).content[0].text  # type: ignore[union-attr]
        assert emu.requests[-1].path == f"/model/{model}/invoke"
        # a retry is signed anew, so a request waiting out a backoff never carries a stale date
        reply = await transport.send(upstream)
        await reply.read()
        assert reply.status == 200

        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
        auth._CREDENTIALS.clear()
        upstream = CODEC.build_request(request, upstream_model=model, settings=settings, stream=False)
        reply = await transport.send(upstream)
        error = CODEC.map_error(reply.status, reply.headers, await reply.read(), settings=settings)
        assert error.kind is ErrorKind.AUTHENTICATION and "signature" in error.message.lower()
    await transport.close()


async def test_credentials_resolve_off_the_event_loop_once(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[int] = []
    credentials = auth.AwsCredentials()
    real = credentials._resolve

    def recorded() -> object:
        threads.append(threading.get_ident())
        return real()

    monkeypatch.setattr(credentials, "_resolve", recorded)
    frozen = await asyncio.gather(*(credentials.frozen() for _ in range(10)))
    assert len(threads) == 1 and threading.get_ident() not in threads  # once, and in a thread
    assert all(f.access_key == aws.ACCESS_KEY for f in frozen)


async def test_missing_credentials_is_a_clear_authentication_error(
    aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    with pytest.raises(GatewayError) as info:
        await auth.AwsCredentials().frozen()
    assert info.value.kind is ErrorKind.AUTHENTICATION and "AWS_ACCESS_KEY_ID" in info.value.message


@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEXAMPLE//token=="])
@pytest.mark.parametrize(
    "url",
    [
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke",
        "http://127.0.0.1:8123/model/arn:aws:bedrock:us-east-1:1:application-inference-profile%2Fab/converse?x=1&a=b%20c",
    ],
)
def test_sigv4_matches_botocores_signer_byte_for_byte(url: str, token: str | None) -> None:
    import datetime

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from interlink.providers import UpstreamRequest

    credentials = Credentials(aws.ACCESS_KEY, aws.SECRET_KEY, token).get_frozen_credentials()
    headers = {"content-type": "application/json", "X-Amzn-Bedrock-Accept": "  application/json ", "user-agent": "x"}
    request = UpstreamRequest(url=url, headers=headers, body=b'{"messages":[]}', stream=False)
    when = datetime.datetime(2026, 12, 2, 3, 4, 5, tzinfo=datetime.UTC)
    ours = auth.sigv4_headers(credentials, "us-east-1", request, now=when)

    reference = AWSRequest(method="POST", url=url, data=request.body, headers=dict(headers))
    reference.context["timestamp"] = "20261202T030405Z"
    reference.headers["X-Amz-Date"] = "20261202T030405Z"
    if token:
        reference.headers["X-Amz-Security-Token"] = token
    signer = SigV4Auth(credentials, "bedrock", "us-east-1")
    canonical = signer.canonical_request(reference)
    signature = signer.signature(signer.string_to_sign(reference, canonical), reference)
    assert ours["authorization"].endswith(f"Signature={signature}")
    assert ours["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={aws.ACCESS_KEY}/20261202/us-east-1/bedrock/")
    assert ours.get("x-amz-security-token") == token
