"""Upstream emulator: a deterministic fake Anthropic / OpenAI Chat / OpenAI Responses server for tests.

Run it out of process with `python -m interlink.testing.emulator --port 8765` (binds 127.0.0.1 only)
or in process::

    async with run_emulator(port=0) as emu:          # or: with run_emulator_in_thread() as emu:
        emu.base_url                                  # "http://127.0.0.1:PORT"
        emu.set_fault("status_429", times=2)          # next 2 model requests
        emu.requests[-1].body                         # what the gateway sent

Endpoints: POST /v1/messages (also ?beta=true), /v1/messages/count_tokens, /v1/chat/completions,
/v1/responses; GET /v1/models, /health; control: GET /_emu/requests, POST /_emu/reset,
POST /_emu/fault {"name", "times"}.

Script (see `emulator_script`): with tools and no tool result yet, "I'll call <tool>." plus one call
of the first function tool; otherwise "Hello from the emulator (<api>): you said: <60 chars>" or
"Tool result received: <60 chars>". Thinking / reasoning on request, with signatures the emulator
issues and (in strict mode) checks.

Per-request knobs, as headers or as a model suffix (`model@fault=status_500,delay=5`; the suffix is
stripped from the echoed model): x-emu-fault / fault, x-emu-delay-ms / delay (ms after each content
event), x-emu-stall-s / stall (default 30), x-emu-cache-read / cache (cached input tokens to report),
x-emu-strict: anthropic / strict=anthropic, x-emu-repeat / repeat (the answer text N times over),
x-emu-prompt-cache: 1 / prompt_cache=1 (apply Anthropic's prompt caching to this request, see
`emulator_cache`; `--prompt-cache` turns it on for every request). An unknown fault name is
answered with a 400. Anthropic requests with cache markers the real API refuses (more than 4, or
on a thinking block) get its 400 in every mode.

Faults (`FAULTS`; queued with `set_fault`, which applies to model requests only, not count_tokens):
refuse, reset_before_headers (TCP RST), stall_before_first_byte, status_400/429/500/503/529,
echo_key (a 401 quoting the credential received), and after 3 content events: close_mid_stream,
truncate, stall_mid_stream, in_stream_error_mid, echo_key_in_stream (an error event quoting it),
malformed_sse, truncated_json; in_stream_error_first before any content. On a non-stream request
the stream faults cut, pause or break the JSON body instead, and in-stream errors become HTTP 529
(Anthropic) / 500 (OpenAI).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import struct
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from aiohttp import web

from interlink.testing import emulator_wire as wire
from interlink.testing.emulator_cache import CacheProblem, PromptCache, segments
from interlink.testing.emulator_clouds import CloudState, Flavor, add_cloud_routes, is_cloud_model_path
from interlink.testing.emulator_script import (
    ANTHROPIC,
    CHAT,
    PARSERS,
    RESPONSES,
    Ids,
    InvalidRequest,
    Signer,
    input_tokens,
    problems,
    script,
)

HTTP_FAULTS = {"status_400": 400, "status_429": 429, "status_500": 500, "status_503": 503, "status_529": 529}
# Upstreams that quote the credential they received in their error text (some do).
ECHO_FAULTS = {"echo_key", "echo_key_in_stream"}
STREAM_FAULTS = {
    "close_mid_stream",
    "truncate",
    "stall_mid_stream",
    "in_stream_error_first",
    "in_stream_error_mid",
    "echo_key_in_stream",
    "malformed_sse",
    "truncated_json",
}
FAULTS = frozenset(
    {"refuse", "reset_before_headers", "stall_before_first_byte", *HTTP_FAULTS, *STREAM_FAULTS, *ECHO_FAULTS}
)
FAULT_AFTER = 3  # content events written before a mid-stream fault strikes
_ROUTES = {"/v1/messages": ANTHROPIC, "/v1/chat/completions": CHAT, "/v1/responses": RESPONSES}
_KNOB_HEADERS = {
    "fault": "x-emu-fault",
    "delay": "x-emu-delay-ms",
    "stall": "x-emu-stall-s",
    "cache": "x-emu-cache-read",
    "strict": "x-emu-strict",
    "repeat": "x-emu-repeat",
    "prompt_cache": "x-emu-prompt-cache",
}


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # keys lower-cased
    body: Any  # parsed JSON, or the raw text when it was not JSON
    fault: str | None = None
    outcome: str | None = None  # streams: "complete", or "client_gone" when the reader hung up

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Knobs:
    """Settings for one request, from the emulator defaults, the model suffix and x-emu-* headers."""

    model: str
    fault: str | None = None
    delay_ms: float = 0.0
    stall_s: float = 30.0
    cached: int = 0
    strict: bool = False
    prompt_cache: bool = False
    repeat: int = 1
    """The answer's text this many times over (a long answer, in at most ~256 deltas)."""
    record: RecordedRequest | None = None


class Emulator:
    """The emulator app plus its recorded requests and pending faults."""

    def __init__(
        self,
        *,
        strict_anthropic: bool = False,
        stall_s: float = 30.0,
        delay_ms: float = 0.0,
        models: list[str] | None = None,
        secret: bytes = b"interlink-emulator-secret",
        prompt_cache: bool = False,
    ) -> None:
        self.strict_anthropic = strict_anthropic
        self.prompt_cache = prompt_cache
        self.cache = PromptCache()
        self.stall_s = stall_s
        self.delay_ms = delay_ms
        self.models = models or ["emu-claude", "emu-gpt", "emu-vllm"]
        self.requests: list[RecordedRequest] = []
        self.signer = Signer(secret)
        self.ids = Ids()
        self.base_url = ""
        self._pending: deque[str] = deque()
        self._runner: web.AppRunner | None = None
        self.clouds = CloudState()

    # ------------------------------------------------------------------------------ control
    def set_fault(self, name: str, times: int = 1) -> None:
        """Apply fault `name` to the next `times` model requests (queued after earlier ones)."""
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(sorted(FAULTS))}")
        self._pending.extend([name] * times)

    def clear_faults(self) -> None:
        self._pending.clear()

    def reset(self) -> None:
        self.requests.clear()
        self.clear_faults()
        self.cache.clear()

    def model_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path in _ROUTES or is_cloud_model_path(r.path)]

    # ------------------------------------------------------------------------------ serving
    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        for path, api in _ROUTES.items():
            app.router.add_post(path, self._model_handler(api))
        app.router.add_post("/v1/messages/count_tokens", self._count_tokens)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/health", self._health)
        app.router.add_get("/_emu/requests", self._list_requests)
        app.router.add_post("/_emu/reset", self._reset)
        app.router.add_post("/_emu/fault", self._set_fault)
        add_cloud_routes(self, app)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0][1]
        self.base_url = f"http://{host}:{bound}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ----------------------------------------------------------------------------- handlers
    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _models(self, request: web.Request) -> web.Response:
        # both APIs share the path; Anthropic clients identify themselves by their headers
        anthropic = "anthropic-version" in request.headers or "x-api-key" in request.headers
        return web.json_response(wire.models_list(anthropic, self.models))

    async def _list_requests(self, request: web.Request) -> web.Response:
        return web.json_response([r.to_json() for r in self.requests])

    async def _reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"ok": True})

    async def _set_fault(self, request: web.Request) -> web.Response:
        spec = await request.json()
        try:
            self.set_fault(str(spec.get("name")), int(spec.get("times", 1)))
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"ok": True, "pending": list(self._pending)})

    async def _record(self, request: web.Request, body_bytes: bytes | None = None) -> RecordedRequest:
        raw = (await request.read() if body_bytes is None else body_bytes).decode("utf-8", errors="replace")
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        rec = RecordedRequest(
            request.method, request.path, request.query_string, {k.lower(): v for k, v in request.headers.items()}, body
        )
        self.requests.append(rec)
        return rec

    async def _count_tokens(self, request: web.Request) -> web.Response:
        rec = await self._record(request)
        body = rec.body if isinstance(rec.body, dict) else None
        if body is None:
            return self._error(ANTHROPIC, 400, "There was an error parsing the body of your request.")
        try:
            conv = PARSERS[ANTHROPIC]({"max_tokens": 1, **body})  # count_tokens takes no max_tokens
        except InvalidRequest as exc:
            return self._error(ANTHROPIC, 400, str(exc))
        return web.json_response({"input_tokens": input_tokens(conv)}, headers=self._headers(ANTHROPIC))

    def _model_handler(self, api: str):
        async def handler(request: web.Request) -> web.StreamResponse:
            rec = await self._record(request)
            if not isinstance(rec.body, dict):
                return self._error(api, 400, "We could not parse the JSON body of your request.")
            try:
                knobs = self._knobs(request, rec.body)
            except ValueError as exc:
                return self._error(api, 400, f"emulator knobs: {exc}")
            rec.fault = knobs.fault
            knobs.record = rec
            return await self._answer(request, api, rec.body, knobs)

        return handler

    def _knobs(self, request: web.Request, body: dict[str, Any]) -> Knobs:
        """Raises ValueError on a malformed knob, so a typo in a test fails loudly instead of passing."""
        model, _, suffix = str(body.get("model", "")).partition("@")
        spec = dict(part.partition("=")[::2] for part in suffix.split(",") if part)
        for name, header in _KNOB_HEADERS.items():
            if header in request.headers:
                spec[name] = request.headers[header]
        knobs = Knobs(
            model=model,
            delay_ms=float(spec.get("delay", self.delay_ms)),
            stall_s=float(spec.get("stall", self.stall_s)),
            cached=int(spec.get("cache", 0)),
            strict=self.strict_anthropic or spec.get("strict") == "anthropic",
            repeat=max(1, int(spec.get("repeat", 1))),
            prompt_cache=self.prompt_cache or spec.get("prompt_cache", "0") not in ("0", "", "off", "false"),
        )
        if spec.get("fault") and spec["fault"] not in FAULTS:
            raise ValueError(f"unknown emulator fault {spec['fault']!r}")
        # header or suffix faults are one-shot and leave the queued ones for later requests
        knobs.fault = spec.get("fault") or (self._pending.popleft() if self._pending else None)
        return knobs

    # ------------------------------------------------------------------------------ answering
    def _headers(self, api: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        rid = self.ids.new("req_")
        headers = {"request-id": rid} if api == ANTHROPIC else {"x-request-id": rid}
        return {**headers, **(extra or {})}

    def _error(self, api: str, status: int, message: str | None = None) -> web.Response:
        headers = self._headers(api)
        if status == 429:
            headers.update({"retry-after": "1", "retry-after-ms": "1000"})
        rid = headers.get("request-id") or headers["x-request-id"]
        return web.json_response(wire.error_body(api, status, rid, message), status=status, headers=headers)

    async def _answer(
        self, request: web.Request, api: str, body: dict[str, Any], knobs: Knobs, flavor: Flavor | None = None
    ) -> web.StreamResponse:
        """Answer a request in `api`'s rules; `flavor` is how the answer looks on the wire (a cloud's)."""
        flavor = flavor or Flavor(self, api)
        fault = knobs.fault
        if fault in ("refuse", "reset_before_headers"):
            return self._drop(request, reset=fault == "reset_before_headers")
        if fault == "stall_before_first_byte":
            await asyncio.sleep(knobs.stall_s)
        if fault in HTTP_FAULTS:
            return flavor.error(HTTP_FAULTS[fault])
        if fault == "echo_key":
            return flavor.error(401, f"Incorrect API key provided: {_credential(request)}.")
        try:
            conv = PARSERS[api](body)
        except InvalidRequest as exc:
            return flavor.error(400, str(exc))
        if api == ANTHROPIC or knobs.strict:
            problem = problems(conv, self.signer, knobs.strict)
            if problem:
                return flavor.error(400, problem)
        answer = script(conv, self.ids, self.signer, knobs.cached)
        if api == ANTHROPIC:
            try:
                self._cache_usage(body, answer, knobs)
            except CacheProblem as exc:
                return self._error(api, 400, str(exc))
        if knobs.repeat > 1 and answer.tool_call is None:
            answer.text *= knobs.repeat
            answer.output_tokens *= knobs.repeat
        if body.get("stream") is True:
            return await self._stream(request, flavor, flavor.stream(answer, knobs.model, body), knobs)
        if fault in ("in_stream_error_first", "in_stream_error_mid"):
            return flavor.error(wire.in_stream_error_status(api))
        if fault == "echo_key_in_stream":
            return flavor.error(wire.in_stream_error_status(api), f"key {_credential(request)} is over quota")
        payload = json.dumps(flavor.render(answer, knobs.model, body), ensure_ascii=False).encode()
        return await self._send_json(request, flavor, payload, knobs)

    def _cache_usage(self, body: dict[str, Any], answer: Any, knobs: Knobs) -> None:
        """Anthropic's cache-marker rules always; its caching itself in prompt-cache mode."""
        if not knobs.prompt_cache:
            segments(body)  # raises for markers the real API refuses
            return
        usage = self.cache.apply(body)
        answer.input_tokens = usage.total_tokens
        answer.cached_tokens = usage.read_tokens
        answer.cache_write_tokens = usage.write_tokens
        answer.cache_write_by_ttl = usage.written_by_ttl

    def _drop(self, request: web.Request, reset: bool) -> web.StreamResponse:
        transport = request.transport
        if transport is not None:
            sock = transport.get_extra_info("socket")
            if reset and sock is not None:  # linger 0 turns the close into a TCP RST
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort() if reset else transport.close()
        # aiohttp fails to write this into the closed transport and drops it quietly
        return web.Response(status=204)

    async def _send_json(
        self, request: web.Request, flavor: Flavor, payload: bytes, knobs: Knobs
    ) -> web.StreamResponse:
        fault = knobs.fault
        headers = flavor.headers({"content-type": "application/json"})
        if fault in ("truncate", "malformed_sse", "truncated_json"):
            return web.Response(body=payload[: len(payload) // 2], headers=headers)
        if fault not in ("close_mid_stream", "stall_mid_stream"):
            return web.Response(body=payload, headers=headers)
        # declare the full length, send half: the client sees a body that stops (or pauses) midway
        resp = web.StreamResponse(headers=headers)
        resp.content_length = len(payload)
        await resp.prepare(request)
        await resp.write(payload[: len(payload) // 2])
        if fault == "close_mid_stream":
            return self._drop(request, reset=False)
        await asyncio.sleep(knobs.stall_s)
        await resp.write(payload[len(payload) // 2 :])
        await resp.write_eof()
        return resp

    async def _stream(
        self, request: web.Request, flavor: Flavor, stream: wire.WireStream, knobs: Knobs
    ) -> web.StreamResponse:
        try:
            resp = await self._stream_frames(request, flavor, stream, knobs)
        except (ConnectionResetError, asyncio.CancelledError):
            if knobs.record is not None:
                knobs.record.outcome = "client_gone"
            raise
        if knobs.record is not None and knobs.record.outcome is None:
            knobs.record.outcome = "complete"
        return resp

    async def _stream_frames(
        self, request: web.Request, flavor: Flavor, stream: wire.WireStream, knobs: Knobs
    ) -> web.StreamResponse:
        headers = flavor.headers(flavor.stream_headers)
        resp = web.StreamResponse(headers=headers)
        await resp.prepare(request)
        fault, content = knobs.fault, 0
        for i, frame in enumerate(stream.frames()):
            if fault == "in_stream_error_first" and i == stream.preamble:
                return await self._finish(resp, stream.error_frames())
            if frame.content and content == FAULT_AFTER and fault in STREAM_FAULTS:
                fault, done = None, await self._strike(request, resp, stream, frame, knobs)
                if done is not None:
                    return done
            await resp.write(frame.data)
            if frame.content:
                content += 1
                if knobs.delay_ms:
                    await asyncio.sleep(knobs.delay_ms / 1000)
        await resp.write_eof()
        return resp

    async def _strike(
        self, request: web.Request, resp: web.StreamResponse, stream: wire.WireStream, frame: wire.Frame, knobs: Knobs
    ) -> web.StreamResponse | None:
        """Apply a mid-stream fault before `frame`; a response means the stream is over."""
        fault = knobs.fault
        if fault == "close_mid_stream":
            return self._drop(request, reset=False)
        if fault == "truncate":
            return await self._finish(resp, [])
        if fault == "in_stream_error_mid":
            return await self._finish(resp, stream.error_frames())
        if fault == "echo_key_in_stream":
            return await self._finish(resp, stream.error_frames(f"key {_credential(request)} is over quota"))
        if fault == "truncated_json":
            await resp.write(frame.data[: len(frame.data) // 2])
            return await self._finish(resp, [])
        if fault == "malformed_sse":
            await resp.write(stream.malformed())
        elif fault == "stall_mid_stream":
            await asyncio.sleep(knobs.stall_s)
        return None

    async def _finish(self, resp: web.StreamResponse, frames: list[wire.Frame]) -> web.StreamResponse:
        for frame in frames:
            await resp.write(frame.data)
        await resp.write_eof()
        return resp


# -------------------------------------------------------------------------------------- runners
@contextlib.asynccontextmanager
async def run_emulator(port: int = 0, host: str = "127.0.0.1", **options: Any) -> AsyncIterator[Emulator]:
    """Serve an `Emulator(**options)` on host:port (0 = any free port) for the duration of the block."""
    emu = Emulator(**options)
    await emu.start(host, port)
    try:
        yield emu
    finally:
        await emu.stop()


@contextlib.contextmanager
def run_emulator_in_thread(port: int = 0, **options: Any) -> Iterator[Emulator]:
    """The same, on its own event loop in a daemon thread, for synchronous clients and benchmarks.

    Call `set_fault`/`reset` between requests only: they are not synchronised with the server loop.
    """
    loop = asyncio.new_event_loop()
    emu = Emulator(**options)
    thread = threading.Thread(target=loop.run_forever, name="interlink-emulator", daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(emu.start(port=port), loop).result(timeout=10)
        yield emu
    finally:
        asyncio.run_coroutine_threadsafe(emu.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m interlink.testing.emulator", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--strict-anthropic", action="store_true", help="also check prefill and signatures")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="sleep after each streamed content event")
    parser.add_argument("--stall-s", type=float, default=30.0, help="length of the stall faults")
    parser.add_argument("--fault", choices=sorted(FAULTS), help="fault for the first --fault-times model requests")
    parser.add_argument("--fault-times", type=int, default=1)
    parser.add_argument("--prompt-cache", action="store_true", help="apply Anthropic's prompt caching rules")
    args = parser.parse_args(argv)
    emu = Emulator(
        strict_anthropic=args.strict_anthropic,
        stall_s=args.stall_s,
        delay_ms=args.delay_ms,
        prompt_cache=args.prompt_cache,
    )
    if args.fault:
        emu.set_fault(args.fault, args.fault_times)
    asyncio.run(_serve(emu, args.port))


async def _serve(emu: Emulator, port: int) -> None:
    # 127.0.0.1 only: the emulator has no auth and must never be reachable from elsewhere
    await emu.start("127.0.0.1", port)
    print(f"interlink emulator listening on {emu.base_url}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await emu.stop()


def _credential(request: web.Request) -> str:
    """The key the request carried, as an echoing upstream would quote it."""
    auth = request.headers.get("authorization", "")
    return request.headers.get("x-api-key") or auth.removeprefix("Bearer ").strip() or "(none)"


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
