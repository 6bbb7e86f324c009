"""The admin HTTP API: keys and usage over JSON, mirroring `interlink keys` / `interlink usage`.

`admin_routes(keys, ledger, audit)` returns the routes; the caller mounts them behind its
admin-scope check, which leaves the caller's `Principal` in `request.state.principal` (changes are
audited as that key's). Handlers do the work and answer JSON, errors as
`{"error": {"message", "type"}}`. `POST /admin/keys` is the only response that ever carries a
secret, once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from interlink.auth.audit import Actor
from interlink.core.errors import GatewayError
from interlink.usage.ledger import GROUPS, GroupBy, parse_since, totals

if TYPE_CHECKING:
    from interlink.auth.audit import AuditLog
    from interlink.auth.keys import KeyStore
    from interlink.usage.ledger import Ledger

_CREATE_FIELDS = {"name", "scopes", "scope", "models", "rpm", "tpm", "max_streams", "budget_usd", "period", "expires"}
_INTS = ("rpm", "tpm", "max_streams")


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _error(status: int, message: str, type_: str) -> Response:
    return _json({"error": {"message": message, "type": type_}}, status)


def _create_args(body: Any) -> dict[str, Any]:
    """Validate the JSON body's shape; `KeyStore.create` validates the values."""
    if not isinstance(body, dict):
        raise GatewayError.invalid("the body must be a JSON object")
    unknown = sorted(set(body) - _CREATE_FIELDS)
    if unknown:
        raise GatewayError.invalid(f"unknown field(s): {', '.join(unknown)}", unknown[0])
    if not isinstance(body.get("name"), str):
        raise GatewayError.invalid("name is required (a string)", "name")
    args = dict(body)
    if "scope" in args:
        args["scopes"] = args.pop("scope")
    for field in ("scopes", "models"):
        value = args.get(field)
        if value is not None and not (
            isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
        ):
            raise GatewayError.invalid(f"{field} must be a list of strings or a comma-separated string", field)
    for field in _INTS:
        value = args.get(field)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise GatewayError.invalid(f"{field} must be an integer", field)
    budget = args.get("budget_usd")
    if budget is not None and (not isinstance(budget, int | float) or isinstance(budget, bool)):
        raise GatewayError.invalid("budget_usd must be a number", "budget_usd")
    for field in ("period", "expires"):
        if args.get(field) is not None and not isinstance(args[field], str):
            raise GatewayError.invalid(f"{field} must be a string", field)
    return args


def _actor(request: Request) -> Actor:
    principal = getattr(request.state, "principal", None)
    return Actor(principal.name if principal is not None else "unknown", "api")


def admin_routes(keys: KeyStore, ledger: Ledger, audit: AuditLog) -> list[Route]:
    """GET/POST /admin/keys, DELETE /admin/keys/{name_or_id}, GET /admin/usage, GET /admin/audit."""

    async def list_keys(_request: Request) -> Response:
        return _json({"keys": [info.to_dict() for info in await keys.list()]})

    async def create_key(request: Request) -> Response:
        # A browser sends text/plain or a form cross-site without asking first; only a script
        # allowed by CORS (which this API never grants) can send application/json.
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return _error(415, "send the body as Content-Type: application/json", "invalid_request_error")
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return _error(400, "the body is not valid JSON", "invalid_request_error")
        try:
            principal, secret = await keys.create(**_create_args(body), actor=_actor(request))
        except GatewayError as error:
            return _error(error.status, error.message, "invalid_request_error")
        info = await keys.get(principal.key_id)
        return _json(
            {
                "key": info.to_dict() if info else {"id": principal.key_id, "name": principal.name},
                "secret": secret,
                "note": "Store the secret now: it is not shown again.",
            },
            201,
        )

    async def revoke_key(request: Request) -> Response:
        name_or_id = request.path_params["name_or_id"]
        try:
            revoked = await keys.revoke(name_or_id, actor=_actor(request))
        except GatewayError as error:
            return _error(error.status, error.message, "invalid_request_error")
        if revoked:
            return _json({"revoked": True, "key": name_or_id})
        return _error(404, f"no active key named or with id {name_or_id!r}", "not_found_error")

    async def usage_report(request: Request) -> Response:
        by = request.query_params.get("by", "key")
        if by not in GROUPS:
            return _error(400, f"by must be one of {', '.join(GROUPS)}", "invalid_request_error")
        try:
            since = parse_since(request.query_params.get("since"))
        except ValueError as error:
            return _error(400, str(error), "invalid_request_error")
        rows = await ledger.report(by=cast(GroupBy, by), since=since)
        return _json({"by": by, "since": since.isoformat() if since else None, "rows": rows, "totals": totals(rows)})

    async def audit_log(request: Request) -> Response:
        before = request.query_params.get("before")
        limit = request.query_params.get("limit", "100")
        if not limit.isdigit() or (before is not None and not before.isdigit()):
            return _error(400, "limit and before must be whole numbers", "invalid_request_error")
        entries = await audit.recent(limit=int(limit), before_id=int(before) if before else None)
        return _json({"entries": [entry.to_dict() for entry in entries]})

    return [
        Route("/admin/audit", audit_log, methods=["GET"]),
        Route("/admin/keys", list_keys, methods=["GET"]),
        Route("/admin/keys", create_key, methods=["POST"]),
        Route("/admin/keys/{name_or_id:str}", revoke_key, methods=["DELETE"]),
        Route("/admin/usage", usage_report, methods=["GET"]),
    ]
