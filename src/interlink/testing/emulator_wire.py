"""The three wire formats the emulator speaks, written from the protocol notes, not from Interlink's codecs.

For each API: the non-stream body (`render`), the stream as a sequence of `Frame`s (`stream_for`),
the HTTP error body (`error_body`) and the in-stream error the real API sends after a 200.
Frames know whether they carry model content, so the fault machinery can cut a stream "after 3
content events" without knowing any grammar.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from interlink.testing.emulator_script import ANTHROPIC, CHAT, RESPONSES, Answer, Ids

CHUNK = 8  # characters per streamed text delta, close to what the real APIs send
_GARBAGE = b"this line is not server-sent events\n"


@dataclass
class Frame:
    data: bytes
    content: bool = False  # carries generated text/arguments (faults count these)


def _json(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def sse(event: str | None, data: Any) -> bytes:
    head = f"event: {event}\n" if event else ""
    payload = data if isinstance(data, str) else _json(data)
    return f"{head}data: {payload}\n\n".encode()


def pieces(text: str, size: int = CHUNK) -> list[str]:
    # A long answer (the `repeat` knob) goes in at most ~256 deltas, not one per 8 characters.
    size = max(size, len(text) // 256)
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def fragments(arguments: str) -> list[str]:
    """Tool arguments in 2+ pieces: clients must concatenate, never take the first parsable prefix."""
    if len(arguments) <= CHUNK:
        half = max(1, len(arguments) // 2)
        return [arguments[:half], arguments[half:]]
    return pieces(arguments)


# -------------------------------------------------------------------------------------- errors
_ANTHROPIC_ERRORS = {
    400: ("invalid_request_error", "Emulated invalid request."),
    429: (
        "rate_limit_error",
        "This request would exceed the rate limit for your organization. "
        "Please reduce the prompt length or wait before trying again.",
    ),
    401: ("authentication_error", "invalid x-api-key"),
    500: ("api_error", "Internal server error"),
    503: ("api_error", "Service unavailable"),
    529: ("overloaded_error", "Overloaded"),
}
_OPENAI_ERRORS = {  # (type, code, message)
    400: ("invalid_request_error", None, "Emulated invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again in 1s."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    503: ("service_unavailable_error", "server_is_overloaded", "The server is overloaded or not ready yet."),
    529: ("service_unavailable_error", "server_is_overloaded", "The server is overloaded or not ready yet."),
}


def error_body(api: str, status: int, request_id: str, message: str | None = None) -> dict[str, Any]:
    """The HTTP error body of `api` for `status`; `message` overrides the canned text (validation)."""
    if api == ANTHROPIC:
        kind, text = _ANTHROPIC_ERRORS.get(status, _ANTHROPIC_ERRORS[500])
        return {"type": "error", "error": {"type": kind, "message": message or text}, "request_id": request_id}
    kind, code, text = _OPENAI_ERRORS.get(status, _OPENAI_ERRORS[500])
    return {"error": {"message": message or text, "type": kind, "param": None, "code": code}}


# ------------------------------------------------------------------------------------ anthropic
def _anthropic_usage(a: Answer, output_tokens: int) -> dict[str, Any]:
    # Anthropic input_tokens excludes cache reads; the total is the sum (NOTES §1.7)
    written = a.cache_write_by_ttl or {"5m": a.cache_write_tokens, "1h": 0}
    return {
        "input_tokens": a.input_tokens - a.cached_tokens - a.cache_write_tokens,
        "cache_creation_input_tokens": a.cache_write_tokens,
        "cache_read_input_tokens": a.cached_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": written["5m"],
            "ephemeral_1h_input_tokens": written["1h"],
        },
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def _anthropic_blocks(a: Answer) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if a.thinking is not None:
        blocks.append({"type": "thinking", "thinking": a.thinking, "signature": a.signature or ""})
    blocks.append({"type": "text", "text": a.text})
    if a.tool_call:
        call = a.tool_call
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": call.input})
    return blocks


def _anthropic_message(a: Answer, model: str, msg_id: str) -> dict[str, Any]:
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": _anthropic_blocks(a),
        "stop_reason": "tool_use" if a.tool_call else "end_turn",
        "stop_sequence": None,
        "usage": _anthropic_usage(a, a.output_tokens),
    }


class WireStream:
    """One streamed answer; `frames()` is consumed lazily so error frames can continue its numbering."""

    preamble = 0  # frames that precede the first possible content (Responses: created + in_progress)
    event_names = True

    def __init__(self, answer: Answer, model: str, ids: Ids, body: dict[str, Any]) -> None:
        self.answer, self.model, self.ids, self.body = answer, model, ids, body

    def frames(self) -> Iterator[Frame]:
        raise NotImplementedError

    def error_frames(self, message: str | None = None) -> list[Frame]:
        raise NotImplementedError

    def malformed(self) -> bytes:
        """A line no SSE parser understands, then an event whose data is not JSON."""
        head = b"event: content_block_delta\n" if self.event_names else b""
        return _GARBAGE + head + b'data: {"type": "content_block_delta", "index": \n\n'


class AnthropicStream(WireStream):
    def frames(self) -> Iterator[Frame]:
        a = self.answer
        start = _anthropic_message(a, self.model, self.ids.new("msg_"))
        start.update(content=[], stop_reason=None, usage=_anthropic_usage(a, 1))
        yield Frame(sse("message_start", {"type": "message_start", "message": start}))
        for i, block in enumerate(_anthropic_blocks(a)):
            yield from self._block(i, block)
        stop = "tool_use" if a.tool_call else "end_turn"
        yield Frame(
            sse(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop, "stop_sequence": None},
                    "usage": _anthropic_usage(a, a.output_tokens),
                },
            )
        )
        yield Frame(sse("message_stop", {"type": "message_stop"}))

    def _block(self, i: int, block: dict[str, Any]) -> Iterator[Frame]:
        kind = block["type"]
        empty: dict[str, dict[str, Any]] = {
            "thinking": {"thinking": "", "signature": ""},
            "text": {"text": ""},
            "tool_use": {"input": {}},
        }
        yield Frame(
            sse(
                "content_block_start",
                {"type": "content_block_start", "index": i, "content_block": {**block, **empty[kind]}},
            )
        )
        if i == 0:  # the real API sends a ping right after the first block opens
            yield Frame(sse("ping", {"type": "ping"}))
        if kind == "thinking":
            deltas = [{"type": "thinking_delta", "thinking": p} for p in pieces(block["thinking"])]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        elif kind == "text":
            deltas = [{"type": "text_delta", "text": p} for p in pieces(block["text"])]
        else:  # the real API opens tool input with an empty fragment
            parts = ["", *fragments(_json(block["input"]))]
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in parts]
        for d in deltas:
            yield Frame(
                sse("content_block_delta", {"type": "content_block_delta", "index": i, "delta": d}), content=True
            )
        yield Frame(sse("content_block_stop", {"type": "content_block_stop", "index": i}))

    def error_frames(self, message: str | None = None) -> list[Frame]:
        # "which would normally correspond to an HTTP 529 in a non-streaming context" (Anthropic docs)
        err = {"type": "error", "error": {"type": "overloaded_error", "message": message or "Overloaded"}}
        return [Frame(sse("error", err))]


# ---------------------------------------------------------------------------------- openai chat
def _reasoning_field(model: str) -> str:
    # vLLM renamed reasoning_content to reasoning (NOTES §2.7); everyone else kept DeepSeek's name
    return "reasoning" if "vllm" in model.lower() else "reasoning_content"


def _chat_usage(a: Answer) -> dict[str, Any]:
    return {
        "prompt_tokens": a.input_tokens,
        "completion_tokens": a.output_tokens,
        "total_tokens": a.input_tokens + a.output_tokens,
        "prompt_tokens_details": {"cached_tokens": a.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": a.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _chat_completion(a: Answer, model: str, ids: Ids) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": a.text, "refusal": None, "annotations": []}
    if a.thinking is not None:
        message[_reasoning_field(model)] = a.thinking
    if a.tool_call:
        message["tool_calls"] = [
            {
                "id": a.tool_call.id,
                "type": "function",
                "function": {"name": a.tool_call.name, "arguments": a.tool_call.arguments},
            }
        ]
    return {
        "id": ids.new("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": "tool_calls" if a.tool_call else "stop"}
        ],
        "usage": _chat_usage(a),
        "service_tier": "default",
        "system_fingerprint": "fp_emulator",
    }


class ChatStream(WireStream):
    event_names = False

    def __init__(self, answer: Answer, model: str, ids: Ids, body: dict[str, Any]) -> None:
        super().__init__(answer, model, ids, body)
        self.id, self.created = ids.new("chatcmpl-"), int(time.time())
        options = body.get("stream_options")
        self.include_usage = isinstance(options, dict) and options.get("include_usage") is True

    def _chunk(self, choices: list[dict[str, Any]], usage: Any = None) -> bytes:
        chunk = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "service_tier": "default",
            "system_fingerprint": "fp_emulator",
            "choices": choices,
        }
        if self.include_usage:  # with include_usage every chunk has the key, null until the last one
            chunk["usage"] = usage
        return sse(None, chunk)

    def _delta(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        return self._chunk([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}])

    def frames(self) -> Iterator[Frame]:
        a = self.answer
        yield Frame(self._delta({"role": "assistant", "content": "", "refusal": None}))
        if a.thinking is not None:
            field = _reasoning_field(self.model)
            for p in pieces(a.thinking):
                yield Frame(self._delta({field: p}), content=True)
        for p in pieces(a.text):
            yield Frame(self._delta({"content": p}), content=True)
        if a.tool_call:
            call = a.tool_call  # id, type and name only on the first delta: clients concatenate strings
            first = {"index": 0, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}
            yield Frame(self._delta({"tool_calls": [first]}), content=True)
            for frag in fragments(call.arguments):
                yield Frame(self._delta({"tool_calls": [{"index": 0, "function": {"arguments": frag}}]}), content=True)
        yield Frame(self._delta({}, "tool_calls" if a.tool_call else "stop"))
        if self.include_usage:
            yield Frame(self._chunk([], _chat_usage(a)))
        yield Frame(sse(None, "[DONE]"))

    def error_frames(self, message: str | None = None) -> list[Frame]:
        kind, _code, default = _OPENAI_ERRORS[500]
        message = message or default
        return [Frame(sse(None, {"error": {"message": message, "type": kind, "param": None, "code": "server_error"}}))]


# -------------------------------------------------------------------------------- openai responses
def _responses_usage(a: Answer) -> dict[str, Any]:
    return {
        "input_tokens": a.input_tokens,
        "input_tokens_details": {"cached_tokens": a.cached_tokens},
        "output_tokens": a.output_tokens,
        "output_tokens_details": {"reasoning_tokens": a.reasoning_tokens},
        "total_tokens": a.input_tokens + a.output_tokens,
    }


def _responses_items(a: Answer, ids: Ids) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if a.thinking is not None:
        item: dict[str, Any] = {
            "id": ids.new("rs_"),
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": a.thinking}],
        }
        if a.signature:
            item["encrypted_content"] = a.signature
        items.append(item)
    items.append(
        {
            "id": ids.new("msg_"),
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": a.text}],
        }
    )
    if a.tool_call:
        items.append(
            {
                "id": ids.new("fc_"),
                "type": "function_call",
                "status": "completed",
                "arguments": a.tool_call.arguments,
                "call_id": a.tool_call.id,
                "name": a.tool_call.name,
            }
        )
    return items


def _response_object(body: dict[str, Any], model: str, resp_id: str, created: int) -> dict[str, Any]:
    """The response envelope in_progress; the request's settings are echoed as the real API does."""
    return {
        "id": resp_id,
        "object": "response",
        "created_at": created,
        "status": "in_progress",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": model,
        "output": [],
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": body.get("reasoning") or {"effort": None, "summary": None},
        "service_tier": "default",
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": None,
        "user": None,
        "metadata": body.get("metadata") or {},
    }


def _response_completed(a: Answer, body: dict[str, Any], model: str, ids: Ids) -> dict[str, Any]:
    resp = _response_object(body, model, ids.new("resp_"), int(time.time()))
    resp.update(status="completed", output=_responses_items(a, ids), usage=_responses_usage(a))
    return resp


class ResponsesStream(WireStream):
    preamble = 2

    def __init__(self, answer: Answer, model: str, ids: Ids, body: dict[str, Any]) -> None:
        super().__init__(answer, model, ids, body)
        self.seq = 0
        self.response = _response_object(body, model, ids.new("resp_"), int(time.time()))

    def _event(self, kind: str, content: bool = False, **fields: Any) -> Frame:
        data = {"type": kind, "sequence_number": self.seq, **fields}
        self.seq += 1  # assigned at emission so injected error events keep the numbering monotonic
        return Frame(sse(kind, data), content)

    def frames(self) -> Iterator[Frame]:
        yield self._event("response.created", response=self.response)
        yield self._event("response.in_progress", response=self.response)
        items = _responses_items(self.answer, self.ids)
        for index, item in enumerate(items):
            yield from getattr(self, "_" + item["type"])(index, item)
        done = {**self.response, "status": "completed", "output": items, "usage": _responses_usage(self.answer)}
        yield self._event("response.completed", response=done)

    def _reasoning(self, index: int, item: dict[str, Any]) -> Iterator[Frame]:
        ids = {"item_id": item["id"], "output_index": index, "summary_index": 0}
        text = item["summary"][0]["text"]
        yield self._event("response.output_item.added", output_index=index, item={**item, "summary": []})
        yield self._event("response.reasoning_summary_part.added", **ids, part={"type": "summary_text", "text": ""})
        for p in pieces(text):
            yield self._event("response.reasoning_summary_text.delta", True, **ids, delta=p)
        yield self._event("response.reasoning_summary_text.done", **ids, text=text)
        yield self._event("response.reasoning_summary_part.done", **ids, part={"type": "summary_text", "text": text})
        yield self._event("response.output_item.done", output_index=index, item=item)

    def _message(self, index: int, item: dict[str, Any]) -> Iterator[Frame]:
        ids = {"item_id": item["id"], "output_index": index, "content_index": 0}
        part = item["content"][0]
        yield self._event(
            "response.output_item.added", output_index=index, item={**item, "status": "in_progress", "content": []}
        )
        yield self._event("response.content_part.added", **ids, part={**part, "text": ""})
        for p in pieces(part["text"]):
            yield self._event("response.output_text.delta", True, **ids, delta=p, logprobs=[])
        yield self._event("response.output_text.done", **ids, text=part["text"], logprobs=[])
        yield self._event("response.content_part.done", **ids, part=part)
        yield self._event("response.output_item.done", output_index=index, item=item)

    def _function_call(self, index: int, item: dict[str, Any]) -> Iterator[Frame]:
        ids = {"item_id": item["id"], "output_index": index}
        yield self._event(
            "response.output_item.added", output_index=index, item={**item, "status": "in_progress", "arguments": ""}
        )
        for frag in fragments(item["arguments"]):
            yield self._event("response.function_call_arguments.delta", True, **ids, delta=frag)
        yield self._event("response.function_call_arguments.done", **ids, arguments=item["arguments"])
        yield self._event("response.output_item.done", output_index=index, item=item)

    def error_frames(self, message: str | None = None) -> list[Frame]:
        # the real API nests the error object (NOTES §3.4), then fails the response
        message = message or _OPENAI_ERRORS[500][2]
        error = self._event(
            "error", error={"type": "server_error", "code": "server_error", "message": message, "param": None}
        )
        failed = {**self.response, "status": "failed", "error": {"code": "server_error", "message": message}}
        return [error, self._event("response.failed", response=failed)]

    def malformed(self) -> bytes:
        return _GARBAGE + b'event: response.output_text.delta\ndata: {"type": "response.output_text.delta", \n\n'


# ------------------------------------------------------------------------------------ dispatch
_STREAMS: dict[str, type[WireStream]] = {ANTHROPIC: AnthropicStream, CHAT: ChatStream, RESPONSES: ResponsesStream}


def stream_for(api: str, answer: Answer, model: str, ids: Ids, body: dict[str, Any]) -> WireStream:
    return _STREAMS[api](answer, model, ids, body)


def render(api: str, answer: Answer, model: str, ids: Ids, body: dict[str, Any]) -> dict[str, Any]:
    """The non-stream response body."""
    if api == ANTHROPIC:
        return _anthropic_message(answer, model, ids.new("msg_"))
    if api == CHAT:
        return _chat_completion(answer, model, ids)
    return _response_completed(answer, body, model, ids)


def in_stream_error_status(api: str) -> int:
    """What a stream-only error becomes on a non-stream request: the matching HTTP status."""
    return 529 if api == ANTHROPIC else 500


def models_list(anthropic_shape: bool, models: list[str]) -> dict[str, Any]:
    if anthropic_shape:
        data = [{"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"} for m in models]
        return {
            "data": data,
            "has_more": False,
            "first_id": models[0] if models else None,
            "last_id": models[-1] if models else None,
        }
    return {
        "object": "list",
        "data": [{"id": m, "object": "model", "created": 1735689600, "owned_by": "emulator"} for m in models],
    }
