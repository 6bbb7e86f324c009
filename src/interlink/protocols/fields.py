"""Typed reads of a client's JSON body, each failure a 400 that names the field.

Every protocol parser reads its body through these, so "missing required field" and "wrong
type" errors look the same in all three APIs: `messages[2].content: expected string or array`.
"""

from __future__ import annotations

from typing import Any

from interlink.core import GatewayError

_MISSING = object()

_TYPE_NAMES = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    list: "array",
    dict: "object",
}


def _describe(types: tuple[type, ...]) -> str:
    return " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in types)


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def check(value: Any, path: str, *types: type) -> Any:
    """`value` if it is one of `types` (bool is never accepted as a number)."""
    if isinstance(value, bool) and bool not in types:
        raise GatewayError.invalid(f"{path}: expected {_describe(types)}, got boolean", path)
    if float in types and isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, types):
        got = "null" if value is None else _TYPE_NAMES.get(type(value), type(value).__name__)
        raise GatewayError.invalid(f"{path}: expected {_describe(types)}, got {got}", path)
    return value


def body_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise GatewayError.invalid("request body must be a JSON object", None)
    return body


def required(obj: dict[str, Any], key: str, path: str, *types: type) -> Any:
    full = join(path, key)
    value = obj.get(key, _MISSING)
    if value is _MISSING:
        raise GatewayError.invalid(f"{full}: field required", full)
    return check(value, full, *types)


def optional(obj: dict[str, Any], key: str, path: str, *types: type, default: Any = None) -> Any:
    value = obj.get(key)
    if value is None:
        return default
    return check(value, join(path, key), *types)


def one_of(value: Any, path: str, allowed: tuple[str, ...]) -> str:
    check(value, path, str)
    if value not in allowed:
        raise GatewayError.invalid(f"{path}: must be one of {', '.join(allowed)}; got {value!r}", path)
    return str(value)
