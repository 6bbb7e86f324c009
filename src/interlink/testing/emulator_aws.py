"""The AWS side of the emulator, written from the AWS references (not from Interlink's codecs):
event-stream frames (prelude, typed headers, CRC-32s), SigV4 checked with botocore's own signer
and the test credentials, Bedrock's error shapes and the Converse dialect.

Checked by botocore's event-stream parser in tests/providers/test_bedrock.py.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import re
import struct
import zlib
from collections.abc import Iterator
from typing import Any

from interlink.testing.emulator_script import Answer
from interlink.testing.emulator_wire import CHUNK, Frame, WireStream, fragments, pieces

ACCESS_KEY = "AKIDINTERLINKEMULATOR"
SECRET_KEY = "interlink-emulator-secret-access-key"
SESSION_TOKEN = "interlink-emulator-session-token"
API_KEY = "bedrock-api-key-emulator"
BEDROCK_BETAS = frozenset(
    {
        "computer-use-2025-01-24",
        "token-efficient-tools-2025-02-19",
        "interleaved-thinking-2025-05-14",
        "output-128k-2025-02-19",
        "context-1m-2025-08-07",
        "context-management-2025-06-27",
        "effort-2025-11-24",
        "fine-grained-tool-streaming-2025-05-14",
    }
)
_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
    r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$"
)
# HTTP fault status → (Bedrock exception, its status)
ERRORS = {
    400: ("ValidationException", 400),
    401: ("UnrecognizedClientException", 403),
    403: ("AccessDeniedException", 403),
    404: ("ResourceNotFoundException", 404),
    429: ("ThrottlingException", 429),
    500: ("InternalServerException", 500),
    503: ("ServiceUnavailableException", 503),
    529: ("ModelNotReadyException", 429),
}


# --------------------------------------------------------------------------------- event-stream


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return bytes([len(raw_name)]) + raw_name + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message: prelude + prelude CRC, headers (all strings), payload, message CRC."""
    head = b"".join(_header(k, v) for k, v in headers.items())
    total = 12 + len(head) + len(payload) + 4
    prelude = struct.pack(">II", total, len(head))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + head + payload
    return message + struct.pack(">I", zlib.crc32(message))


def event_frame(event_type: str, payload: dict[str, Any]) -> bytes:
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return frame(headers, json.dumps(payload, separators=(",", ":")).encode())


def exception_frame(exception: str, message: str) -> bytes:
    headers = {":exception-type": exception, ":content-type": "application/json", ":message-type": "exception"}
    return frame(headers, json.dumps({"message": message}).encode())


def corrupt(data: bytes) -> bytes:
    """The same frame with its message CRC flipped."""
    return data[:-4] + bytes(b ^ 0xFF for b in data[-4:])


def _sse_data(data: bytes) -> dict[str, Any] | None:
    for line in data.decode().splitlines():
        if line.startswith("data: "):
            return json.loads(line[6:])
    return None


class InvokeStream(WireStream):
    """InvokeModelWithResponseStream: the Anthropic stream's events, base64 inside `chunk` frames."""

    def __init__(self, inner: WireStream) -> None:
        super().__init__(inner.answer, inner.model, inner.ids, inner.body)
        self.inner = inner
        self.preamble = inner.preamble

    def frames(self) -> Iterator[Frame]:
        for f in self.inner.frames():
            event = _sse_data(f.data)
            if event is None:
                continue
            if event.get("type") == "message_stop":
                a = self.answer
                event["amazon-bedrock-invocationMetrics"] = {
                    "inputTokenCount": a.input_tokens,
                    "outputTokenCount": a.output_tokens,
                    "invocationLatency": 120,
                    "firstByteLatency": 40,
                }
            inner = base64.b64encode(json.dumps(event, separators=(",", ":")).encode()).decode()
            # `p` is the padding field Bedrock adds to hide lengths; readers must ignore it
            yield Frame(event_frame("chunk", {"bytes": inner, "p": "abcdefghij"[: len(inner) % 10]}), f.content)

    def error_frames(self, message: str | None = None) -> list[Frame]:
        text = message or "The model stream failed. Please retry."
        return [Frame(exception_frame("modelStreamErrorException", text))]

    def malformed(self) -> bytes:
        return corrupt(event_frame("chunk", {"bytes": base64.b64encode(b'{"type":"ping"}').decode()}))


# ------------------------------------------------------------------------------------ SigV4


def check_sigv4(method: str, host: str, raw_path: str, headers: Any, body: bytes, region: str) -> str | None:
    """None when the request is signed by the test credentials for `region`, else why not
    (recomputed with botocore's signer from the bytes received, as AWS does)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    match = _AUTH.match(headers.get("Authorization", ""))
    if match is None:
        return "MissingAuthenticationTokenException:Missing Authentication Token"
    access_key, day, scope_region, service, signed, signature = match.groups()
    if access_key != ACCESS_KEY:
        return "UnrecognizedClientException:The security token included in the request is invalid."
    if service != "bedrock" or scope_region != region:
        return f"InvalidSignatureException:Credential should be scoped to a valid region/service ({scope_region}/{service})."
    amz_date = headers.get("X-Amz-Date", "")
    try:
        when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
    except ValueError:
        return "IncompleteSignatureException:X-Amz-Date is missing or malformed."
    if abs((datetime.datetime.now(datetime.UTC) - when).total_seconds()) > 300 or day != amz_date[:8]:
        return "InvalidSignatureException:Signature expired."
    token = headers.get("X-Amz-Security-Token")
    if token is not None and token != SESSION_TOKEN:
        return "UnrecognizedClientException:The security token included in the request is invalid."
    names = signed.split(";")
    if "host" not in names or any(n not in headers and n != "host" for n in names):
        return "IncompleteSignatureException:SignedHeaders must include host and only headers sent."
    signed_headers = {n: (host if n == "host" else headers[n]) for n in names}
    aws = AWSRequest(method=method, url=f"http://{host}{raw_path}", data=body, headers=signed_headers)
    aws.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY, token), "bedrock", region)
    expected = signer.signature(signer.string_to_sign(aws, signer.canonical_request(aws)), aws)
    if expected != signature:
        return (
            "InvalidSignatureException:The request signature we calculated does not match the signature you "
            "provided. Check your AWS Secret Access Key and signing method."
        )
    return None


# -------------------------------------------------------------------------------------- Converse


def _from_converse_block(block: dict[str, Any]) -> dict[str, Any] | None:
    if "text" in block:
        return {"type": "text", "text": block["text"]}
    if "toolUse" in block:
        use = block["toolUse"]
        return {"type": "tool_use", "id": use["toolUseId"], "name": use["name"], "input": use.get("input") or {}}
    if "toolResult" in block:
        result = block["toolResult"]
        content = [
            {"type": "text", "text": c.get("text", json.dumps(c.get("json")))} for c in result.get("content", [])
        ]
        out = {"type": "tool_result", "tool_use_id": result["toolUseId"], "content": content}
        if result.get("status") == "error":
            out["is_error"] = True
        return out
    if "reasoningContent" in block:
        text = block["reasoningContent"].get("reasoningText") or {}
        return {"type": "thinking", "thinking": text.get("text", ""), "signature": text.get("signature", "")}
    if "image" in block:
        image = block["image"]
        try:
            base64.b64decode(image["source"]["bytes"], validate=True)
        except (KeyError, binascii.Error) as exc:
            raise ValueError("image.source.bytes must be base64") from exc
        data = image["source"]["bytes"]
        return {"type": "image", "source": {"type": "base64", "media_type": f"image/{image['format']}", "data": data}}
    return None


def converse_to_anthropic(body: dict[str, Any], model: str, stream: bool) -> dict[str, Any]:
    """A Converse request as the Anthropic body the emulator's script reads (ValueError if malformed)."""
    if "messages" not in body:
        raise ValueError("1 validation error detected: Value null at 'messages' failed to satisfy constraint")
    out: dict[str, Any] = {"model": model, "stream": stream}
    out["max_tokens"] = (body.get("inferenceConfig") or {}).get("maxTokens", 1024)
    out["system"] = [{"type": "text", "text": s["text"]} for s in body.get("system", []) if "text" in s]
    out["messages"] = [
        {"role": m["role"], "content": [b for b in (_from_converse_block(x) for x in m["content"]) if b]}
        for m in body["messages"]
    ]
    tools = (body.get("toolConfig") or {}).get("tools") or []
    out["tools"] = [
        {"name": t["toolSpec"]["name"], "input_schema": t["toolSpec"]["inputSchema"]["json"]} for t in tools
    ]
    thinking = (body.get("additionalModelRequestFields") or {}).get("thinking")
    if thinking:
        out["thinking"] = thinking
    return out


def _converse_blocks(a: Answer) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if a.thinking is not None:
        blocks.append({"reasoningContent": {"reasoningText": {"text": a.thinking, "signature": a.signature or ""}}})
    blocks.append({"text": a.text})
    if a.tool_call:
        call = a.tool_call
        blocks.append({"toolUse": {"toolUseId": call.id, "name": call.name, "input": call.input}})
    return blocks


def _converse_usage(a: Answer) -> dict[str, int]:
    return {
        "inputTokens": a.input_tokens,
        "outputTokens": a.output_tokens,
        "totalTokens": a.input_tokens + a.output_tokens,
    }


def converse_response(a: Answer) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": _converse_blocks(a)}},
        "stopReason": "tool_use" if a.tool_call else "end_turn",
        "usage": _converse_usage(a),
        "metrics": {"latencyMs": 120},
    }


class ConverseStream(WireStream):
    """ConverseStream: messageStart, deltas (no start event for text or reasoning), a toolUse
    start, messageStop, then metadata with the usage."""

    def frames(self) -> Iterator[Frame]:
        a = self.answer
        yield Frame(event_frame("messageStart", {"role": "assistant"}))
        index = 0
        if a.thinking is not None:
            for p in pieces(a.thinking):
                delta = {"reasoningContent": {"text": p}}
                yield Frame(event_frame("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}), True)
            delta = {"reasoningContent": {"signature": a.signature or ""}}
            yield Frame(event_frame("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
            yield Frame(event_frame("contentBlockStop", {"contentBlockIndex": index}))
            index += 1
        for p in pieces(a.text, CHUNK):
            yield Frame(event_frame("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": p}}), True)
        yield Frame(event_frame("contentBlockStop", {"contentBlockIndex": index}))
        if a.tool_call:
            index += 1
            start = {"toolUse": {"toolUseId": a.tool_call.id, "name": a.tool_call.name}}
            yield Frame(event_frame("contentBlockStart", {"contentBlockIndex": index, "start": start}))
            for frag in fragments(a.tool_call.arguments):
                delta = {"toolUse": {"input": frag}}
                yield Frame(event_frame("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}), True)
            yield Frame(event_frame("contentBlockStop", {"contentBlockIndex": index}))
        yield Frame(event_frame("messageStop", {"stopReason": "tool_use" if a.tool_call else "end_turn"}))
        yield Frame(event_frame("metadata", {"usage": _converse_usage(a), "metrics": {"latencyMs": 120}}))

    def error_frames(self, message: str | None = None) -> list[Frame]:
        text = message or "The model stream failed. Please retry."
        return [Frame(exception_frame("modelStreamErrorException", text))]

    def malformed(self) -> bytes:
        return corrupt(event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "x"}}))
