"""The clouds in the emulator: Bedrock, Vertex AI and Azure OpenAI routes in front of the same
script, each checking what the real service checks and answering in its exact wire format.

- Bedrock: `POST /model/{modelId}/invoke|invoke-with-response-stream|converse|converse-stream`.
  SigV4 recomputed from the received bytes with botocore's signer and the test credentials
  (`emulator_aws.ACCESS_KEY`…, region `CloudState.region`), or a Bedrock API key as bearer;
  `anthropic_version: bedrock-2023-05-31` required, `model`/`stream` refused in the body, betas
  only from Bedrock's list; streams as AWS event-stream; errors with `x-amzn-ErrorType`.
- Vertex: `POST /v1/projects/{p}/locations/{l}/publishers/anthropic/models/{model}:rawPredict|
  :streamRawPredict`, a bearer token the emulator's own OAuth endpoint (`POST /token`, service
  account JWT or refresh-token grants, as google-auth sends them) issued and that has not expired;
  `anthropic_version: vertex-2023-10-16`; quota errors in Google's shape (a JSON array).
- Azure OpenAI: `/openai/deployments/{d}/chat/completions` and `/openai/responses` (both need
  `api-version`), `/openai/v1/chat/completions|responses`; `api-key` or an Entra token from the
  emulator's managed-identity endpoint (`GET /msi/token`); chat streams with the prompt
  annotation chunk and content-filter results; a prompt containing `[blocked]` is refused by the
  content filter.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar
from urllib.parse import unquote

from aiohttp import web

from interlink.testing import emulator_aws as aws
from interlink.testing import emulator_wire as wire
from interlink.testing.emulator_script import ANTHROPIC, CHAT, RESPONSES

BEDROCK_VERSION = "bedrock-2023-05-31"
VERTEX_VERSION = "vertex-2023-10-16"
AZURE_KEY = "azure-emulator-key"
AZURE_MODEL = "gpt-4o-2024-11-20"
BLOCKED = "[blocked]"
CLOUD_PREFIXES = ("/model/", "/v1/projects/", "/openai/")


def is_cloud_model_path(path: str) -> bool:
    return path.startswith(CLOUD_PREFIXES)


@dataclass
class CloudState:
    region: str = "us-east-1"
    token_ttl: float = 3600.0
    tokens: dict[str, float] = field(default_factory=dict)
    """Access tokens issued (Google and Entra) → when they expire (time.time())."""
    token_grants: list[str] = field(default_factory=list)
    google_certs: str | None = None
    """A service account's public key (PEM): JWT assertions are then checked against it."""
    _serial: Any = field(default_factory=lambda: itertools.count(1))

    def issue(self, prefix: str) -> tuple[str, int]:
        token = f"{prefix}{next(self._serial):08d}.{uuid.uuid4().hex}"
        self.tokens[token] = time.time() + self.token_ttl
        return token, int(self.token_ttl)

    def valid(self, token: str) -> bool:
        return self.tokens.get(token, 0.0) > time.time()


class Flavor:
    """How answers of one API look on the wire. The plain APIs use this; the clouds override
    errors, framing and headers."""

    stream_headers: ClassVar[dict[str, str]] = {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
    }

    def __init__(self, emu: Any, api: str) -> None:
        self.emu, self.api = emu, api

    def error(self, status: int, message: str | None = None) -> web.Response:
        response: web.Response = self.emu._error(self.api, status, message)
        return response

    def headers(self, extra: dict[str, str]) -> dict[str, str]:
        headers: dict[str, str] = self.emu._headers(self.api, extra)
        return headers

    def stream(self, answer: Any, model: str, body: dict[str, Any]) -> wire.WireStream:
        return wire.stream_for(self.api, answer, model, self.emu.ids, body)

    def render(self, answer: Any, model: str, body: dict[str, Any]) -> dict[str, Any]:
        return wire.render(self.api, answer, model, self.emu.ids, body)


# ------------------------------------------------------------------------------------ Bedrock


def bedrock_error(status: int, message: str | None = None, code: str | None = None) -> web.Response:
    name, http = aws.ERRORS.get(status, aws.ERRORS[500])
    name = code or name
    headers = {
        "x-amzn-ErrorType": f"{name}:http://internal.amazon.com/coral/com.amazon.bedrock/",
        "x-amzn-RequestId": str(uuid.uuid4()),
    }
    text = message or {"ThrottlingException": "Too many requests, please wait before trying again."}.get(name, name)
    return web.json_response({"message": text}, status=http, headers=headers)


class BedrockFlavor(Flavor):
    stream_headers: ClassVar[dict[str, str]] = {
        "content-type": "application/vnd.amazon.eventstream",
        "x-amzn-bedrock-content-type": "application/json",
    }

    def __init__(self, emu: Any, converse: bool) -> None:
        super().__init__(emu, ANTHROPIC)
        self.converse = converse

    def error(self, status: int, message: str | None = None) -> web.Response:
        return bedrock_error(status, message)

    def headers(self, extra: dict[str, str]) -> dict[str, str]:
        return {"x-amzn-RequestId": str(uuid.uuid4()), **extra}

    def stream(self, answer: Any, model: str, body: dict[str, Any]) -> wire.WireStream:
        if self.converse:
            return aws.ConverseStream(answer, model, self.emu.ids, body)
        return aws.InvokeStream(super().stream(answer, model, body))

    def render(self, answer: Any, model: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.converse:
            return aws.converse_response(answer)
        message = super().render(answer, model, body)
        message["id"] = message["id"].replace("msg_", "msg_bdrk_", 1)
        return message


async def _bedrock(emu: Any, request: web.Request) -> web.StreamResponse:
    raw = await request.read()
    rec = await emu._record(request, raw)
    model, operation = unquote(request.match_info["model"]), request.match_info["operation"]
    if request.headers.get("Authorization", "").startswith("Bearer "):
        if request.headers["Authorization"][7:] != aws.API_KEY:
            return bedrock_error(
                403, "Invalid API Key format: Must start with pre-defined prefix", "AccessDeniedException"
            )
    else:
        problem = aws.check_sigv4(
            request.method, request.host, request.raw_path, request.headers, raw, emu.clouds.region
        )
        if problem:
            code, _, text = problem.partition(":")
            return bedrock_error(403, text, code)
    if not isinstance(rec.body, dict):
        return bedrock_error(400, "Malformed input request, please reformat your input and try again.")
    body = dict(rec.body)
    stream = operation in ("invoke-with-response-stream", "converse-stream")
    converse = operation.startswith("converse")
    if converse:
        try:
            body = aws.converse_to_anthropic(body, model, stream)
        except (ValueError, KeyError, TypeError) as exc:
            return bedrock_error(400, str(exc))
    else:
        problem = _invoke_problem(body)
        if problem:
            return bedrock_error(400, problem)
        body.pop("anthropic_version")
        body.pop("anthropic_beta", None)
        body.update(model=model, stream=stream)
    try:
        knobs = emu._knobs(request, {"model": model})
    except ValueError as exc:
        return bedrock_error(400, f"emulator knobs: {exc}")
    rec.fault, knobs.record = knobs.fault, rec
    return await emu._answer(request, ANTHROPIC, body, knobs, BedrockFlavor(emu, converse))


def _invoke_problem(body: dict[str, Any]) -> str | None:
    if body.get("anthropic_version") != BEDROCK_VERSION:
        return f"Malformed input request: #/anthropic_version: expected {BEDROCK_VERSION}, please reformat your input"
    for key in ("model", "stream"):
        if key in body:
            return f"Malformed input request: #: extraneous key [{key}] is not permitted, please reformat your input"
    betas = body.get("anthropic_beta", [])
    if not isinstance(betas, list) or any(b not in aws.BEDROCK_BETAS for b in betas):
        return "The model returned the following errors: invalid beta flag"
    return None


# ------------------------------------------------------------------------------------- Vertex


def google_error(status: int, message: str, rpc: str, *, array: bool = False) -> web.Response:
    error = {"error": {"code": status, "message": message, "status": rpc}}
    return web.json_response([error] if array else error, status=status)


class VertexFlavor(Flavor):
    def __init__(self, emu: Any) -> None:
        super().__init__(emu, ANTHROPIC)

    def error(self, status: int, message: str | None = None) -> web.Response:
        if status == 429:  # the quota front end answers, not the model
            text = "Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model"
            return google_error(429, f"{text} with base model: anthropic-claude.", "RESOURCE_EXHAUSTED", array=True)
        if status == 503:
            return google_error(503, "The service is currently unavailable.", "UNAVAILABLE")
        return super().error(status, message)

    def stream(self, answer: Any, model: str, body: dict[str, Any]) -> wire.WireStream:
        return VertexStream(super().stream(answer, model, body))


class VertexStream(wire.WireStream):
    """Anthropic SSE with Vertex's `vertex_event` usage extras, which clients must not see."""

    def __init__(self, inner: wire.WireStream) -> None:
        super().__init__(inner.answer, inner.model, inner.ids, inner.body)
        self.inner, self.preamble = inner, inner.preamble

    def frames(self) -> Any:
        for i, f in enumerate(self.inner.frames()):
            yield f
            if i == 0:
                yield wire.Frame(wire.sse("vertex_event", {"type": "vertex_event", "usage": {"input_tokens": 1}}))

    def error_frames(self, message: str | None = None) -> list[wire.Frame]:
        return self.inner.error_frames(message)

    def malformed(self) -> bytes:
        return self.inner.malformed()


async def _vertex(emu: Any, request: web.Request) -> web.StreamResponse:
    rec = await emu._record(request)
    model, _, verb = request.match_info["target"].rpartition(":")
    token = request.headers.get("Authorization", "")[7:]
    if not emu.clouds.valid(token):
        text = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential."
        return google_error(401, text, "UNAUTHENTICATED")
    if verb not in ("rawPredict", "streamRawPredict"):
        return google_error(404, f"Method {verb} not found.", "NOT_FOUND")
    body = rec.body if isinstance(rec.body, dict) else None
    if body is None:
        return google_error(400, "Invalid JSON payload received.", "INVALID_ARGUMENT")
    if body.get("anthropic_version") != VERTEX_VERSION:
        return emu._error(ANTHROPIC, 400, f"anthropic_version: expected {VERTEX_VERSION}")
    if "model" in body:
        return emu._error(ANTHROPIC, 400, "model: Extra inputs are not permitted")
    body = {k: v for k, v in body.items() if k != "anthropic_version"}
    body.update(model=model, stream=verb == "streamRawPredict")
    try:
        knobs = emu._knobs(request, {"model": model})
    except ValueError as exc:
        return google_error(400, f"emulator knobs: {exc}", "INVALID_ARGUMENT")
    rec.fault, knobs.record = knobs.fault, rec
    return await emu._answer(request, ANTHROPIC, body, knobs, VertexFlavor(emu))


async def _google_token(emu: Any, request: web.Request) -> web.Response:
    """OAuth token endpoint as google-auth calls it: service-account JWT grant or refresh token."""
    form = await request.post()
    grant = str(form.get("grant_type", ""))
    if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
        import google.auth.exceptions
        from google.auth import jwt

        try:
            claims = jwt.decode(
                str(form["assertion"]), certs=emu.clouds.google_certs, verify=emu.clouds.google_certs is not None
            )
        except (google.auth.exceptions.GoogleAuthError, ValueError, KeyError) as exc:
            return web.json_response({"error": "invalid_grant", "error_description": str(exc)}, status=400)
        if "cloud-platform" not in str(claims.get("scope", "")):
            return web.json_response({"error": "invalid_scope"}, status=400)
    elif grant == "refresh_token":
        if not form.get("refresh_token") or not form.get("client_id"):
            return web.json_response({"error": "invalid_request"}, status=400)
    else:
        return web.json_response({"error": "unsupported_grant_type"}, status=400)
    emu.clouds.token_grants.append(grant)
    token, ttl = emu.clouds.issue("ya29.emu")
    return web.json_response({"access_token": token, "expires_in": ttl, "token_type": "Bearer"})


# -------------------------------------------------------------------------------------- Azure


def azure_error(status: int, message: str, code: str | None = None, **extra: Any) -> web.Response:
    error: dict[str, Any] = {"code": code or str(status), "message": message, **extra}
    headers = {"retry-after": "1", "retry-after-ms": "1000"} if status == 429 else {}
    return web.json_response({"error": error}, status=status, headers={"apim-request-id": str(uuid.uuid4()), **headers})


class AzureFlavor(Flavor):
    def headers(self, extra: dict[str, str]) -> dict[str, str]:
        return {**super().headers(extra), "apim-request-id": str(uuid.uuid4())}

    def stream(self, answer: Any, model: str, body: dict[str, Any]) -> wire.WireStream:
        inner = super().stream(answer, AZURE_MODEL, body)
        return AzureChatStream(inner) if self.api == CHAT else inner

    def render(self, answer: Any, model: str, body: dict[str, Any]) -> dict[str, Any]:
        out = super().render(answer, AZURE_MODEL, body)
        if self.api == CHAT:
            out["prompt_filter_results"] = [{"prompt_index": 0, "content_filter_results": _SAFE}]
            out["choices"][0]["content_filter_results"] = _SAFE
        return out


_SAFE = {k: {"filtered": False, "severity": "safe"} for k in ("hate", "self_harm", "sexual", "violence")}


class AzureChatStream(wire.WireStream):
    """Azure's chat stream: a prompt-annotation chunk first (empty id, model and choices), the
    OpenAI chunks, an annotation-only chunk of the asynchronous filter after the first content."""

    event_names = False

    def __init__(self, inner: wire.WireStream) -> None:
        super().__init__(inner.answer, inner.model, inner.ids, inner.body)
        self.inner, self.preamble = inner, inner.preamble + 1

    def frames(self) -> Any:
        prompt = {"prompt_index": 0, "content_filter_results": _SAFE}
        head = {"id": "", "object": "", "created": 0, "model": "", "choices": [], "prompt_filter_results": [prompt]}
        yield wire.Frame(wire.sse(None, head))
        annotated = False
        for f in self.inner.frames():
            yield f
            if f.content and not annotated:
                annotated = True
                choice: dict[str, Any] = {
                    "index": 0,
                    "finish_reason": None,
                    "delta": {},
                    "content_filter_results": _SAFE,
                }
                choice["content_filter_offsets"] = {"check_offset": 0, "start_offset": 0, "end_offset": 8}
                note = {"id": "", "object": "", "created": 0, "model": "", "choices": [choice]}
                yield wire.Frame(wire.sse(None, note))

    def error_frames(self, message: str | None = None) -> list[wire.Frame]:
        return self.inner.error_frames(message)

    def malformed(self) -> bytes:
        return self.inner.malformed()


async def _azure(emu: Any, api: str, by_path: bool, request: web.Request) -> web.StreamResponse:
    rec = await emu._record(request)
    deployment = request.match_info["deployment"] if by_path else None
    if (deployment is not None or request.path == "/openai/responses") and "api-version" not in request.query:
        return azure_error(404, "Resource not found")  # what Azure answers without api-version
    token = request.headers.get("Authorization", "")[7:]
    if request.headers.get("api-key") != AZURE_KEY and not emu.clouds.valid(token):
        text = (
            "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key "
            "for an active subscription and use a correct regional API endpoint for your resource."
        )
        return azure_error(401, text)
    if not isinstance(rec.body, dict):
        return azure_error(400, "We could not parse the JSON body of your request.")
    body = dict(rec.body)
    if BLOCKED in json.dumps(body):
        inner = {
            "code": "ResponsibleAIPolicyViolation",
            "content_filter_result": {"violence": {"filtered": True, "severity": "high"}},
        }
        text = "The response was filtered due to the prompt triggering Azure OpenAI's content management policy."
        return azure_error(400, text, "content_filter", param="prompt", type=None, innererror=inner)
    model = deployment or str(body.get("model") or "")
    try:
        knobs = emu._knobs(request, {"model": model})
    except ValueError as exc:
        return azure_error(400, f"emulator knobs: {exc}")
    rec.fault, knobs.record = knobs.fault, rec
    return await emu._answer(request, api, body, knobs, AzureFlavor(emu, api))


async def _msi_token(emu: Any, request: web.Request) -> web.Response:
    """App Service managed identity, as azure-identity calls it (IDENTITY_ENDPOINT/IDENTITY_HEADER)."""
    if request.headers.get("X-IDENTITY-HEADER") != "interlink-emulator" or "resource" not in request.query:
        return web.json_response({"error": "invalid_request"}, status=400)
    token, ttl = emu.clouds.issue("eyJ0eXAi.emu")
    expires_on = int(time.time() + ttl)
    return web.json_response(
        {"access_token": token, "expires_on": expires_on, "resource": request.query["resource"], "token_type": "Bearer"}
    )


# ------------------------------------------------------------------------------------- routes


def add_cloud_routes(emu: Any, app: web.Application) -> None:
    bedrock = "/model/{model}/{operation:invoke|invoke-with-response-stream|converse|converse-stream}"
    app.router.add_post(bedrock, partial(_bedrock, emu))
    vertex = "/v1/projects/{project}/locations/{location}/publishers/anthropic/models/{target}"
    app.router.add_post(vertex, partial(_vertex, emu))
    app.router.add_post("/token", partial(_google_token, emu))
    app.router.add_get("/msi/token", partial(_msi_token, emu))
    app.router.add_post("/openai/deployments/{deployment}/chat/completions", partial(_azure, emu, CHAT, True))
    app.router.add_post("/openai/responses", partial(_azure, emu, RESPONSES, False))
    app.router.add_post("/openai/v1/chat/completions", partial(_azure, emu, CHAT, False))
    app.router.add_post("/openai/v1/responses", partial(_azure, emu, RESPONSES, False))
