"""Fault injection: every upstream fault, through every client API, judged by the official SDKs.

Each case ends in one of two ways: the full answer after a retry or failover, or an error the
client's SDK raises (a real HTTP status before the first byte, the API's error event after it).
Never a hang (every SDK call has a timeout) and never a silently truncated answer.
"""

from __future__ import annotations

import time

import anthropic
import httpx
import openai
import pytest

from tests.contract.drivers import DRIVERS
from tests.faults.conftest import FaultStack

CLIENTS = list(DRIVERS)
UPSTREAMS = [
    "via-anthropic",
    "via-chat",
    "via-responses",
    "via-bedrock",
    "via-bedrock-converse",
    "via-vertex",
    "via-azure",
    "via-azure-responses",
]
SDK_ERRORS = (anthropic.APIError, openai.APIError)

RECOVERED = [
    "refuse",
    "reset_before_headers",
    "status_429",
    "status_500",
    "status_503",
    "status_529",
    "in_stream_error_first",
]
BROKEN_AFTER_COMMIT = ["close_mid_stream", "truncate", "in_stream_error_mid", "malformed_sse"]


def driver(stack: FaultStack, client_api: str):  # type: ignore[no-untyped-def]
    d = DRIVERS[client_api](stack.gateway)
    d.client = d.client.with_options(timeout=20.0, max_retries=0)
    return d


def ask(stack: FaultStack, client_api: str, model: str, *, stream: bool, prompt: str = "fault test"):  # type: ignore[no-untyped-def]
    d = driver(stack, client_api)
    turn, _ = d.send(model, d.user(prompt), stream=stream)
    return turn


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("model", UPSTREAMS)
@pytest.mark.parametrize("client_api", CLIENTS)
@pytest.mark.parametrize("fault", RECOVERED)
def test_transient_fault_before_first_byte_is_retried(
    fault_stack: FaultStack, fault: str, client_api: str, model: str, stream: bool
) -> None:
    fault_stack.fault(fault, times=1)
    turn = ask(fault_stack, client_api, model, stream=stream)
    assert "fault test" in turn.text
    assert len(fault_stack.model_requests()) == 2  # the faulty attempt, then the good one


LONG_PROMPT = "a longer answer so that the stream has several chunks"


@pytest.mark.parametrize("model", UPSTREAMS)
@pytest.mark.parametrize("client_api", CLIENTS)
@pytest.mark.parametrize("fault", BROKEN_AFTER_COMMIT)
def test_fault_mid_stream_ends_in_an_error_event_or_a_full_retry(
    fault_stack: FaultStack, fault: str, client_api: str, model: str
) -> None:
    """After the first content byte the client must see the API's error event. If the upstream
    broke before anything reached the client (a close can beat the read), a retry is right too;
    either way never a truncated answer passed off as complete."""
    fault_stack.fault(fault, times=1)
    try:
        turn = ask(fault_stack, client_api, model, stream=True, prompt=LONG_PROMPT)
    except SDK_ERRORS as error:
        assert "upstream emu-" in str(error)
        return
    assert LONG_PROMPT in turn.text
    assert len(fault_stack.model_requests()) == 2


@pytest.mark.parametrize("model", UPSTREAMS)
@pytest.mark.parametrize("fault", ["close_mid_stream", "truncate", "truncated_json", "malformed_sse"])
def test_broken_non_stream_body_is_retried(fault_stack: FaultStack, fault: str, model: str) -> None:
    fault_stack.fault(fault, times=1)
    turn = ask(fault_stack, "openai-chat", model, stream=False, prompt="a longer answer so that the body is cut")
    assert "a longer answer" in turn.text


@pytest.mark.parametrize("client_api", CLIENTS)
def test_stall_before_first_byte_times_out_and_is_retried(fault_stack: FaultStack, client_api: str) -> None:
    fault_stack.fault("stall_before_first_byte", times=1)
    started = time.monotonic()
    turn = ask(fault_stack, client_api, "via-chat", stream=True)
    assert "fault test" in turn.text
    assert time.monotonic() - started < 4  # the 2 s first-token timeout, not the 4 s stall


@pytest.mark.parametrize("client_api", CLIENTS)
def test_stall_mid_stream_ends_with_an_error_after_the_idle_timeout(fault_stack: FaultStack, client_api: str) -> None:
    fault_stack.fault("stall_mid_stream", times=1)
    started = time.monotonic()
    with pytest.raises(SDK_ERRORS):
        ask(fault_stack, client_api, "via-anthropic", stream=True, prompt=LONG_PROMPT)
    assert time.monotonic() - started < 4


@pytest.mark.parametrize("client_api", CLIENTS)
def test_deterministic_400_is_not_retried(fault_stack: FaultStack, client_api: str) -> None:
    fault_stack.fault("status_400", times=3)
    with pytest.raises(SDK_ERRORS) as info:
        ask(fault_stack, client_api, "via-chat", stream=False)
    assert getattr(info.value, "status_code", None) == 400
    assert len(fault_stack.model_requests()) == 1


def test_exhausted_retries_give_a_real_status_and_the_attempt_trail(fault_stack: FaultStack) -> None:
    fault_stack.fault("status_529", times=10)
    body = {"model": "via-anthropic", "max_tokens": 20, "stream": True, "messages": [{"role": "user", "content": "x"}]}
    r = httpx.post(f"{fault_stack.gateway}/v1/messages", json=body, timeout=20)
    assert r.status_code == 529
    assert r.json()["error"]["type"] == "overloaded_error"
    assert r.headers["interlink-attempts"] == "emu-anthropic:529,emu-anthropic:529,emu-anthropic:529"
    message = r.json()["error"]["message"]
    assert "emu-anthropic" in message and "3 attempts" in message
    assert len(fault_stack.model_requests()) == 3


def test_429_retry_after_is_honoured(fault_stack: FaultStack) -> None:
    fault_stack.fault("status_429", times=1)
    started = time.monotonic()
    ask(fault_stack, "openai-chat", "via-chat", stream=False)
    assert time.monotonic() - started >= 0.9  # the emulator says retry-after: 1


@pytest.mark.parametrize("model", ["with-fallback", "two-deployments"])
@pytest.mark.parametrize("client_api", CLIENTS)
def test_failover_to_another_deployment_or_fallback_model(fault_stack: FaultStack, client_api: str, model: str) -> None:
    turn = ask(fault_stack, client_api, model, stream=True)
    assert "fault test" in turn.text


def test_failover_trail_names_the_dead_provider(fault_stack: FaultStack) -> None:
    body = {"model": "with-fallback", "messages": [{"role": "user", "content": "x"}]}
    r = httpx.post(f"{fault_stack.gateway}/v1/chat/completions", json=body, timeout=20)
    assert r.status_code == 200
    trail = r.headers["interlink-attempts"].split(",")
    assert trail[-1] == "emu-anthropic:ok"
    # `dead` fails each time until its breaker opens; then it is not tried at all
    assert set(trail[:-1]) <= {"dead:connection"}


@pytest.mark.parametrize(
    ("path", "model", "marker", "end"),
    [
        ("/v1/messages", "via-chat", b"event: ping", b"event: message_stop"),
        ("/v1/chat/completions", "via-anthropic", b": keepalive", b"data: [DONE]"),
        ("/v1/responses", "via-chat", b": keepalive", b"event: response.completed"),
    ],
)
def test_silent_upstream_gets_keepalives_and_headers_come_early(
    fault_stack: FaultStack, path: str, model: str, marker: bytes, end: bytes
) -> None:
    fault_stack.fault("stall_before_first_byte", times=1)
    body = {"model": model, "stream": True, "max_tokens": 50, "messages": [{"role": "user", "content": "x"}]}
    if path == "/v1/responses":
        body = {"model": model, "stream": True, "input": "x"}
    started = time.monotonic()
    with httpx.stream("POST", fault_stack.gateway + path, json=body, timeout=20) as r:
        headers_after = time.monotonic() - started
        data = b"".join(r.iter_bytes())
    assert r.status_code == 200
    assert headers_after < 1.5  # one keepalive interval (0.5 s), not the stall
    assert marker in data
    assert end in data  # then the retried attempt's complete answer
    assert len(fault_stack.model_requests()) == 2


def test_client_disconnect_cancels_the_upstream_request(fault_stack: FaultStack) -> None:
    body = {
        "model": "slow-chat",
        "stream": True,
        "messages": [{"role": "user", "content": "a reply long enough to stream slowly"}],
    }
    seen_before = fault_stack.gateway_log().count("client disconnected")
    with httpx.stream("POST", f"{fault_stack.gateway}/v1/chat/completions", json=body, timeout=20) as r:
        next(r.iter_bytes())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        outcomes = [r["outcome"] for r in fault_stack.model_requests()]
        if outcomes == ["client_gone"] and fault_stack.gateway_log().count("client disconnected") > seen_before:
            break
        time.sleep(0.1)
    assert outcomes == ["client_gone"]
    # the gateway noticed by itself (not only the upstream): the stream was closed and logged
    assert fault_stack.gateway_log().count("client disconnected") == seen_before + 1
