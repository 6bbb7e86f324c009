"""Tool parameter schemas reshaped into what each upstream accepts.

Clients send whatever JSON Schema their tools were written with. Anthropic requires
`input_schema` to be an object schema and rejects `oneOf`/`anyOf`/`allOf` at its top level;
OpenAI-style validators reject an object schema without `properties`. These are rewritten into
the nearest accepted schema (combinator variants merged into one object) and counted, instead
of failing the whole request.
"""

from __future__ import annotations

from typing import Any

COMBINATORS = ("oneOf", "anyOf", "allOf")


def normalize_tool_schema(schema: Any, kind: str) -> tuple[dict[str, Any], bool]:
    """The schema to send to an upstream of API `kind`, and whether it differs from `schema`."""
    if not isinstance(schema, dict):
        return {"type": "object", "properties": {}}, True
    out = dict(schema)
    if kind == "anthropic" and any(c in out for c in COMBINATORS):
        _merge_combinators(out)
    if "type" not in out:
        out["type"] = "object"
    if out.get("type") == "object" and not isinstance(out.get("properties"), dict):
        out["properties"] = {}
    return out, out != schema


def _merge_combinators(out: dict[str, Any]) -> None:
    properties = dict(out.get("properties") or {})
    required = set(out.get("required") or [])
    for name in COMBINATORS:
        variants = [v for v in out.pop(name, None) or [] if isinstance(v, dict)]
        if not variants:
            continue
        for variant in variants:
            for key, value in (variant.get("properties") or {}).items():
                properties.setdefault(key, value)
        sets = [set(v.get("required") or []) for v in variants]
        # allOf: every variant holds, so all their required fields are; anyOf/oneOf: only
        # what every alternative requires can be required of the merged object.
        required |= set.union(*sets) if name == "allOf" else set.intersection(*sets)
    out["type"] = "object"
    out["properties"] = properties
    if required:
        out["required"] = sorted(required)
    else:
        out.pop("required", None)
