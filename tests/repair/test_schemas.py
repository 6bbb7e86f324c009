"""Tool schemas reshaped into what each upstream accepts."""

from __future__ import annotations

import pytest

from interlink.repair.schemas import normalize_tool_schema

OBJECT = {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}


@pytest.mark.parametrize(
    ("schema", "kind", "expected"),
    [
        (OBJECT, "anthropic", OBJECT),
        ({}, "anthropic", {"type": "object", "properties": {}}),
        ({"type": "object"}, "openai-chat", {"type": "object", "properties": {}}),
        (
            {
                "anyOf": [
                    {"properties": {"a": {"type": "string"}}, "required": ["a", "c"]},
                    {"properties": {"b": {"type": "integer"}}, "required": ["c"]},
                ]
            },
            "anthropic",
            {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "required": ["c"]},
        ),
        (
            {"allOf": [{"properties": {"a": {}}, "required": ["a"]}, {"properties": {"b": {}}, "required": ["b"]}]},
            "anthropic",
            {"type": "object", "properties": {"a": {}, "b": {}}, "required": ["a", "b"]},
        ),
    ],
)
def test_normalize(schema: dict, kind: str, expected: dict) -> None:
    out, changed = normalize_tool_schema(schema, kind)
    assert out == expected
    assert changed == (schema != expected)


def test_combinators_are_kept_for_openai_upstreams() -> None:
    schema = {"type": "object", "properties": {}, "anyOf": [{"required": ["a"]}]}
    assert normalize_tool_schema(schema, "openai-chat") == (schema, False)
