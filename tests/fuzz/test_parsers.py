"""Property tests on each protocol's parser: any JSON, and mutations of valid requests (the real
clients' recorded first requests when ../shared is present), either parse or fail with a 400
that names a field — never another exception."""

from __future__ import annotations

import copy
import importlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interlink.core import ChatRequest, GatewayError
from tests.conftest import SHARED

PROTOCOLS = {"anthropic": "/v1/messages", "openai_chat": "/v1/chat/completions", "openai_responses": "/v1/responses"}
SEEDS: dict[str, list[dict[str, Any]]] = {
    "anthropic": [{"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}],
    "openai_chat": [{"model": "m", "messages": [{"role": "user", "content": "hi"}]}],
    "openai_responses": [{"model": "m", "input": "hi"}],
}


def recorded() -> None:
    root = SHARED / "clients" / "requests"
    if not root.is_dir():
        return
    for path in sorted(root.glob("*/*/*.json")):
        record = json.loads(path.read_text())
        body = record.get("body")
        for package, route in PROTOCOLS.items():
            if record.get("path", "").split("?")[0] == route and isinstance(body, dict):
                SEEDS[package].append(body)


recorded()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=25,
)


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            found += paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += paths(v, (*prefix, i))
    return found


@st.composite
def mutated(draw: st.DrawFn, package: str) -> Any:
    body = copy.deepcopy(draw(st.sampled_from(SEEDS[package])))
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.sampled_from(paths(body)))
        if not where:
            continue
        parent = body
        for key in where[:-1]:
            parent = parent[key]
        if draw(st.booleans()):
            parent[where[-1]] = draw(json_values)
        elif isinstance(parent, dict):
            parent.pop(where[-1], None)
    return body


def parse(package: str, body: Any) -> ChatRequest | GatewayError:
    protocol = importlib.import_module(f"interlink.protocols.{package}").PROTOCOL
    try:
        return protocol.parse_request(body, {})
    except GatewayError as error:
        assert error.status == 400, error
        assert error.message
        status, rendered = protocol.render_error(error)
        assert status == 400 and "error" in rendered
        return error


@pytest.mark.parametrize("package", list(PROTOCOLS))
@settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_mutated_requests_parse_or_name_the_field(package: str, data: st.DataObject) -> None:
    parse(package, data.draw(mutated(package)))


@pytest.mark.parametrize("package", list(PROTOCOLS))
@settings(max_examples=300, derandomize=True, deadline=None)
@given(body=json_values)
def test_any_json_parses_or_is_a_400(package: str, body: Any) -> None:
    parse(package, body)


@pytest.mark.parametrize("package", list(PROTOCOLS))
def test_recorded_client_requests_parse(package: str) -> None:
    for body in SEEDS[package]:
        assert isinstance(parse(package, body), ChatRequest)
