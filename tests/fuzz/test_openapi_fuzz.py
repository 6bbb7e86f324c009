"""Schemathesis against the running gateway, from its own OpenAPI document, with both auth
styles: no 5xx, no traceback text, and every 4xx in the calling API's error shape.

CI runs a fixed seed and a bounded number of examples; for a longer local run:
    INTERLINK_FUZZ_EXAMPLES=2000 .venv/bin/pytest tests/fuzz -p no:cacheprovider
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from interlink.server.openapi import openapi_document
from tests.contract.conftest import Stack

EXAMPLES = int(os.environ.get("INTERLINK_FUZZ_EXAMPLES", "40"))
schema = schemathesis.openapi.from_dict(openapi_document())


@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.parametrize(
    "auth", [{"x-api-key": "sk-fuzz"}, {"authorization": "Bearer sk-fuzz"}], ids=["x-api-key", "bearer"]
)
def test_no_server_errors(case, stack: Stack, auth: dict) -> None:  # type: ignore[no-untyped-def]
    response = case.call(base_url=stack.gateway, headers=auth, timeout=15)
    assert response.status_code < 500, response.text[:500]
    assert "Traceback" not in response.text
    if 400 <= response.status_code < 500:
        body = response.json()
        if case.path.startswith("/v1/messages"):
            assert body["type"] == "error" and body["error"]["type"] and body["error"]["message"]
        else:
            assert body["error"]["message"] and body["error"]["type"]
