"""The OpenAPI document of the gateway's own endpoints, served at `/openapi.json`.

Request schemas list the fields the gateway reads, loosely (`additionalProperties` allowed), as
each official API does; they document the surface and drive the fuzz suite. Every error answer
is in the calling API's own shape.
"""

from __future__ import annotations

from typing import Any

from interlink import __version__

_ANTHROPIC_ERROR = {
    "type": "object",
    "required": ["type", "error"],
    "properties": {
        "type": {"const": "error"},
        "error": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
        },
    },
}
_OPENAI_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type"],
            "properties": {"message": {"type": "string"}, "type": {"type": "string"}},
        },
    },
}
_TEXT_OR_PARTS = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]}
_ANY_OBJECT = {"type": "object", "additionalProperties": True}

_MESSAGES_BODY = {
    "type": "object",
    "required": ["model", "max_tokens", "messages"],
    "properties": {
        "model": {"type": "string"},
        "max_tokens": {"type": "integer", "minimum": 1},
        "messages": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["role", "content"],
                "properties": {"role": {"enum": ["user", "assistant", "system"]}, "content": _TEXT_OR_PARTS},
            },
        },
        "system": _TEXT_OR_PARTS,
        "stream": {"type": "boolean"},
        "temperature": {"type": "number"},
        "tools": {"type": "array", "items": _ANY_OBJECT},
        "thinking": _ANY_OBJECT,
    },
}
_CHAT_BODY = {
    "type": "object",
    "required": ["model", "messages"],
    "properties": {
        "model": {"type": "string"},
        "messages": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["role"],
                "properties": {
                    "role": {"enum": ["system", "developer", "user", "assistant", "tool"]},
                    "content": _TEXT_OR_PARTS,
                },
            },
        },
        "stream": {"type": "boolean"},
        "max_tokens": {"type": "integer"},
        "tools": {"type": "array", "items": _ANY_OBJECT},
        "tool_choice": {"oneOf": [{"type": "string"}, _ANY_OBJECT]},
    },
}
_RESPONSES_BODY = {
    "type": "object",
    "required": ["model", "input"],
    "properties": {
        "model": {"type": "string"},
        "input": _TEXT_OR_PARTS,
        "instructions": {"type": "string"},
        "stream": {"type": "boolean"},
        "store": {"type": "boolean"},
        "max_output_tokens": {"type": "integer"},
        "tools": {"type": "array", "items": _ANY_OBJECT},
    },
}


def _post(summary: str, body: dict[str, Any], error: dict[str, Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {"description": "the answer (JSON, or `text/event-stream` when `stream` is true)"}
    }
    for status, why in [
        ("400", "invalid request"),
        ("401", "missing or invalid key"),
        ("403", "scope or model not allowed"),
        ("404", "unknown model"),
        ("413", "body too large"),
        ("429", "rate limit or budget"),
        ("502", "upstream failed"),
        ("503", "upstream unavailable"),
        ("504", "upstream timed out"),
        ("529", "upstream overloaded"),
    ]:
        responses[status] = {"description": why, "content": {"application/json": {"schema": error}}}
    return {
        "post": {
            "summary": summary,
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": responses,
        }
    }


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Interlink",
            "version": __version__,
            "description": "Anthropic Messages, OpenAI Chat Completions and OpenAI Responses in front of any upstream.",
        },
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                "bearer": {"type": "http", "scheme": "bearer"},
            }
        },
        "security": [{"apiKey": []}, {"bearer": []}],
        "paths": {
            "/v1/messages": _post("Anthropic Messages", _MESSAGES_BODY, _ANTHROPIC_ERROR),
            "/v1/messages/count_tokens": _post(
                "Anthropic token count (estimate)",
                {**_MESSAGES_BODY, "required": ["model", "messages"]},
                _ANTHROPIC_ERROR,
            ),
            "/v1/chat/completions": _post("OpenAI Chat Completions", _CHAT_BODY, _OPENAI_ERROR),
            "/v1/responses": _post("OpenAI Responses (stateless)", _RESPONSES_BODY, _OPENAI_ERROR),
            "/v1/models": {
                "get": {
                    "summary": "Models (OpenAI shape; Anthropic shape with an anthropic-version header)",
                    "responses": {"200": {"description": "model list"}},
                }
            },
            "/health": {"get": {"summary": "Liveness", "security": [], "responses": {"200": {"description": "ok"}}}},
        },
    }
