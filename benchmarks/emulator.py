"""Fast upstream emulator for the benchmark: raw asyncio protocol (uvloop when installed), 127.0.0.1 only.

`interlink.testing.emulator` (aiohttp, scripted answers, faults) is built for tests and is too
slow to be the baseline of a throughput run; this one does only what the benchmark needs, in the
exact wire formats of the three APIs:

  POST /v1/chat/completions   OpenAI Chat Completions, JSON or SSE (usage chunk, then [DONE])
  POST /v1/messages           Anthropic Messages, JSON or SSE (message_start ... message_stop)
  POST /v1/responses          OpenAI Responses, JSON or SSE (response.created ... response.completed)
  GET  /v1/models, /health
  the clouds, no auth checked (the gateway still signs and fetches tokens as it would):
  POST /model/{id}/invoke, /invoke-with-response-stream   Bedrock InvokeModel (Anthropic body;
       the stream as AWS event-stream frames, base64 Anthropic events inside)
  POST …/models/{id}:rawPredict, :streamRawPredict        Vertex AI (Anthropic body and SSE)
  POST /openai/deployments/{d}/chat/completions           Azure OpenAI (Chat, by the suffix above)
  POST /token                                             an OAuth token for google-auth

Knobs (CLI defaults, or per request as a model suffix, e.g. "emu@chunks=60,delay=1000"):
  chunks   content chunks in a stream             --chunks (200)
  size     characters per chunk                    --chunk-size (8)
  delay    ms slept between content chunks         --delay-ms (0)
  nschars  characters of text in a non-stream body --ns-chars (120)

Run: python benchmarks/emulator.py --port 19100
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import socket
import struct
import sys
import time
import zlib

try:
    import uvloop
except ImportError:  # pragma: no cover - the project venv has it (uvicorn[standard])
    uvloop = None

DEFAULTS = {"chunks": 200, "size": 8, "delay": 0.0, "nschars": 120}
WORDS = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
_ids = itertools.count(1)
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class Content(str):
    """A stream event carrying a content chunk: the emulator yields to the loop (and sleeps) after it."""


def text_of(n: int, offset: int = 0) -> str:
    base = WORDS * (2 + (n + offset) // len(WORDS))
    o = offset % len(WORDS)
    return base[o : o + n]


def knobs(model: str) -> tuple[str, dict]:
    k = dict(DEFAULTS)
    model, _, spec = model.partition("@")
    for part in spec.split(",") if spec else ():
        name, _, val = part.partition("=")
        if name in k and val:
            k[name] = float(val)
    for name in ("chunks", "size", "nschars"):
        k[name] = int(k[name])
    return model, k


def tokens(n_chars: int) -> int:
    return max(1, n_chars // 4)


# ------------------------------------------------------------------ OpenAI Chat Completions
def chat_json(model: str, k: dict, in_tok: int) -> dict:
    text = text_of(k["nschars"])
    out = tokens(len(text))
    return {
        "id": "chatcmpl-emu%012x" % next(_ids),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_emu",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": in_tok, "completion_tokens": out, "total_tokens": in_tok + out},
    }


def chat_stream(model: str, k: dict, in_tok: int):
    head = (
        '{"id":"chatcmpl-emu%012x","object":"chat.completion.chunk","created":%d,"model":%s,'
        '"system_fingerprint":"fp_emu","choices":' % (next(_ids), int(time.time()), _dumps(model))
    )
    yield (
        "data: " + head + '[{"index":0,"delta":{"role":"assistant","content":""},'
        '"logprobs":null,"finish_reason":null}]}\n\n'
    )
    size = k["size"]
    for i in range(k["chunks"]):
        yield Content(
            "data: " + head + '[{"index":0,"delta":{"content":%s},"logprobs":null,'
            '"finish_reason":null}]}\n\n' % _dumps(text_of(size, i * size))
        )
    yield "data: " + head + '[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}\n\n'
    out = tokens(size * k["chunks"])
    yield (
        "data: "
        + head
        + '[],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}\n\n' % (in_tok, out, in_tok + out)
    )
    yield "data: [DONE]\n\n"


# ------------------------------------------------------------------ Anthropic Messages
def _ausage(in_tok: int, out_tok: int) -> dict:
    return {
        "input_tokens": in_tok,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": out_tok,
    }


def msg_json(model: str, k: dict, in_tok: int) -> dict:
    text = text_of(k["nschars"])
    return {
        "id": "msg_emu%018x" % next(_ids),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": _ausage(in_tok, tokens(len(text))),
    }


def msg_stream(model: str, k: dict, in_tok: int):
    start = {
        "type": "message_start",
        "message": {
            "id": "msg_emu%018x" % next(_ids),
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": _ausage(in_tok, 1),
        },
    }
    yield "event: message_start\ndata: " + _dumps(start) + "\n\n"
    yield (
        'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
        '"content_block":{"type":"text","text":""}}\n\n'
    )
    size = k["size"]
    for i in range(k["chunks"]):
        yield Content(
            'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
            '"delta":{"type":"text_delta","text":%s}}\n\n' % _dumps(text_of(size, i * size))
        )
    yield 'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
    yield (
        'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn",'
        '"stop_sequence":null},"usage":{"output_tokens":%d}}\n\n' % tokens(size * k["chunks"])
    )
    yield 'event: message_stop\ndata: {"type":"message_stop"}\n\n'


# ------------------------------------------------------------------ OpenAI Responses
def _response(rid: str, model: str, status: str, output: list, usage: dict | None) -> dict:
    return {
        "id": rid,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": False,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage,
        "metadata": {},
    }


def _rusage(in_tok: int, out_tok: int) -> dict:
    return {
        "input_tokens": in_tok,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": out_tok,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": in_tok + out_tok,
    }


def _message_item(mid: str, text: str | None, status: str = "completed") -> dict:
    content = [] if text is None else [{"type": "output_text", "annotations": [], "text": text}]
    return {"id": mid, "type": "message", "status": status, "role": "assistant", "content": content}


def resp_json(model: str, k: dict, in_tok: int) -> dict:
    n = next(_ids)
    text = text_of(k["nschars"])
    return _response(
        "resp_emu%024x" % n,
        model,
        "completed",
        [_message_item("msg_emu%024x" % n, text)],
        _rusage(in_tok, tokens(len(text))),
    )


def resp_stream(model: str, k: dict, in_tok: int):
    n = next(_ids)
    rid, mid = "resp_emu%024x" % n, "msg_emu%024x" % n
    seq = itertools.count()

    def event(obj: dict) -> str:
        obj["sequence_number"] = next(seq)
        return "event: %s\ndata: %s\n\n" % (obj["type"], _dumps(obj))

    yield event({"type": "response.created", "response": _response(rid, model, "in_progress", [], None)})
    yield event({"type": "response.in_progress", "response": _response(rid, model, "in_progress", [], None)})
    yield event(
        {"type": "response.output_item.added", "output_index": 0, "item": _message_item(mid, None, "in_progress")}
    )
    yield event(
        {
            "type": "response.content_part.added",
            "item_id": mid,
            "output_index": 0,
            "content_index": 0,
            "part": {"type": "output_text", "annotations": [], "text": ""},
        }
    )
    size, parts = k["size"], []
    pre = '"type":"response.output_text.delta","item_id":"%s","output_index":0,"content_index":0,' % mid
    for i in range(k["chunks"]):
        parts.append(text_of(size, i * size))
        yield Content(
            'event: response.output_text.delta\ndata: {%s"delta":%s,"sequence_number":%d}\n\n'
            % (pre, _dumps(parts[-1]), next(seq))
        )
    full = "".join(parts)
    yield event(
        {"type": "response.output_text.done", "item_id": mid, "output_index": 0, "content_index": 0, "text": full}
    )
    yield event(
        {
            "type": "response.content_part.done",
            "item_id": mid,
            "output_index": 0,
            "content_index": 0,
            "part": {"type": "output_text", "annotations": [], "text": full},
        }
    )
    yield event({"type": "response.output_item.done", "output_index": 0, "item": _message_item(mid, full)})
    yield event(
        {
            "type": "response.completed",
            "response": _response(
                rid, model, "completed", [_message_item(mid, full)], _rusage(in_tok, tokens(len(full)))
            ),
        }
    )


# ------------------------------------------------------------------ HTTP
API = {
    "/chat/completions": (chat_json, chat_stream),
    "/messages": (msg_json, msg_stream),
    "/responses": (resp_json, resp_stream),
    "/invoke": (msg_json, msg_stream),
    "/invoke-with-response-stream": (msg_json, msg_stream),
    ":rawPredict": (msg_json, msg_stream),
    ":streamRawPredict": (msg_json, msg_stream),
}
MODELS = b'{"object":"list","data":[{"id":"emu","object":"model","created":0,"owned_by":"emulator"}]}'


class ContentFrame(bytes):
    """An event-stream frame carrying a content chunk (as `Content` for SSE)."""


def _es_frame(event: dict) -> bytes:
    inner = base64.b64encode(_dumps(event).encode()).decode()
    payload = ('{"bytes":"%s"}' % inner).encode()
    head = b"".join(
        bytes([len(n)]) + n + b"\x07" + struct.pack(">H", len(v)) + v
        for n, v in ((b":event-type", b"chunk"), (b":content-type", b"application/json"), (b":message-type", b"event"))
    )
    prelude = struct.pack(">II", 12 + len(head) + len(payload) + 4, len(head))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + head + payload
    return message + struct.pack(">I", zlib.crc32(message))


def bedrock_stream(model: str, k: dict, in_tok: int):
    for ev in msg_stream(model, k, in_tok):
        frame = _es_frame(json.loads(ev.split("data: ", 1)[1]))
        yield ContentFrame(frame) if type(ev) is Content else frame


TOKEN = b'{"access_token":"ya29.bench","expires_in":3600,"token_type":"Bearer"}'


def http_response(status: int, body: bytes, extra: str = "") -> bytes:
    return (
        b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n"
        % (status, b"OK" if status == 200 else b"Error", len(body), extra.encode())
    ) + body


def error(status: int, message: str) -> bytes:
    return http_response(
        status, _dumps({"type": "error", "error": {"type": "invalid_request_error", "message": message}}).encode()
    )


def route(method: str, target: str, body: bytes):
    """Bytes to write now, or (event generator, knobs) for a stream."""
    path = target.split("?", 1)[0]
    if method == "GET":
        if path.endswith("/models"):
            return http_response(200, MODELS)
        return http_response(200, b'{"status":"ok"}') if path in ("/", "/health") else error(404, "not found")
    if path.endswith("/token"):
        return http_response(200, TOKEN)
    api = next((v for suffix, v in API.items() if path.endswith(suffix)), None)
    if method != "POST" or api is None:
        return error(404, "unknown path " + path)
    try:
        req = json.loads(body)
        model, k = knobs(str(req.get("model") or "emu"))
    except (ValueError, AttributeError):
        return error(400, "the body is not a JSON object")
    in_tok = tokens(len(body))
    if path.endswith("/invoke-with-response-stream"):
        return bedrock_stream(model, k, in_tok), k
    if req.get("stream") or path.endswith(":streamRawPredict"):
        return api[1](model, k, in_tok), k
    return http_response(200, _dumps(api[0](model, k, in_tok)).encode(), "request-id: req_emu%d\r\n" % next(_ids))


class Upstream(asyncio.Protocol):
    """One HTTP/1.1 keep-alive connection; requests on it are answered in order."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.busy = self.closed = False
        self.transport: asyncio.Transport | None = None
        self.can_write: asyncio.Event | None = None

    def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def]
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc) -> None:  # type: ignore[no-untyped-def]
        self.closed = True
        if self.can_write:
            self.can_write.set()

    def pause_writing(self) -> None:
        self.can_write = asyncio.Event()

    def resume_writing(self) -> None:
        if self.can_write:
            self.can_write.set()
        self.can_write = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self.serve_buffered()

    def next_request(self):  # type: ignore[no-untyped-def]
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        lines = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {n.strip().lower(): v.strip() for n, _, v in (h.partition(":") for h in lines[1:])}
        start = end + 4
        if "chunked" in headers.get("transfer-encoding", ""):
            body, used = self._dechunk(start)
            if body is None:
                return None
        else:
            used = start + int(headers.get("content-length") or 0)
            if len(self.buf) < used:
                return None
            body = bytes(self.buf[start:used])
        del self.buf[:used]
        return method, target, body, headers.get("connection", "").lower() == "close"

    def _dechunk(self, pos: int):  # type: ignore[no-untyped-def]
        parts = []
        while True:
            eol = self.buf.find(b"\r\n", pos)
            if eol < 0:
                return None, 0
            n = int(bytes(self.buf[pos:eol]).split(b";")[0], 16)
            if len(self.buf) < eol + 2 + n + 2:
                return None, 0
            if n == 0:
                return b"".join(parts), eol + 4
            parts.append(bytes(self.buf[eol + 2 : eol + 2 + n]))
            pos = eol + 2 + n + 2

    def serve_buffered(self) -> None:
        while not self.busy and not self.closed:
            try:
                req = self.next_request()
            except ValueError:
                self.transport.close()
                return
            if req is None:
                return
            method, target, body, close = req
            answer = route(method, target, body)
            if isinstance(answer, bytes):
                self.transport.write(answer)
                if close:
                    self.transport.close()
                    return
            else:
                self.busy = True
                asyncio.ensure_future(self.stream(*answer, close))  # noqa: RUF006 - the protocol object holds the connection; the task ends with it

    async def stream(self, events, k: dict, close: bool) -> None:  # type: ignore[no-untyped-def]
        t = self.transport
        t.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\n"
            b"Transfer-Encoding: chunked\r\nrequest-id: req_emu%d\r\n\r\n" % next(_ids)
        )
        delay, sent = k["delay"] / 1000.0, 0
        try:
            for ev in events:
                if self.closed:
                    return
                data = ev if isinstance(ev, bytes) else ev.encode()
                t.write(b"%x\r\n%s\r\n" % (len(data), data))
                if type(ev) is Content or type(ev) is ContentFrame:
                    sent += 1
                    await asyncio.sleep(delay if delay and sent < k["chunks"] else 0)
                    if self.can_write:
                        await self.can_write.wait()
            t.write(b"0\r\n\r\n")
            if close:
                t.close()
        finally:
            self.busy = False
        if self.buf and not self.closed:
            self.serve_buffered()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--chunks", type=int, default=200)
    ap.add_argument("--chunk-size", type=int, default=8)
    ap.add_argument("--delay-ms", type=float, default=0.0)
    ap.add_argument("--ns-chars", type=int, default=120)
    a = ap.parse_args()
    DEFAULTS.update(chunks=a.chunks, size=a.chunk_size, delay=a.delay_ms, nschars=a.ns_chars)
    if uvloop is not None:
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(Upstream, "127.0.0.1", a.port, backlog=4096))
    print("emulator on http://127.0.0.1:%d (uvloop=%s)" % (a.port, uvloop is not None), file=sys.stderr, flush=True)
    try:
        loop.run_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


if __name__ == "__main__":
    main()
