"""Who may call the gateway: the auth mode, the Host check and the key a request presents.

The mode is decided once, when the service starts (and again on a config reload, an operator's
act), never from the number of keys at request time:

- `keys`: every request needs an active key; with none active, requests get a 401 that says
  how to create one. A revoked or expired last key never reopens the gateway.
- `open`: anyone who can reach the gateway may call models and list them; nobody anonymous may
  use the admin API. A presented valid key still counts (its scopes apply).
- `auto` (the default): `keys` once the store has ever held a key (active, revoked or expired),
  else `open`. An open gateway listens on loopback only unless `--allow-open`.

The Host check refuses requests whose `Host` is not one of the gateway's own names, so a web page
in an operator's browser cannot reach a loopback gateway through DNS rebinding.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.requests import Request

from interlink.auth.keys import Principal
from interlink.core import ErrorKind, GatewayError

OPEN = Principal(key_id="open", name="open", scopes=frozenset({"inference", "models"}))
"""Who calls an open gateway without a key: models and model calls, never the admin API."""

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
CREATE_KEY_HINT = "interlink keys create --name admin --scope admin,inference,models"


def presented_secret(request: Request) -> str | None:
    """The key from `x-api-key` or `Authorization: Bearer`, whichever the client sent."""
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def decide_open(mode: str, store_ever_had_keys: bool) -> bool:
    """Whether the gateway runs open, from the configured mode and what the store holds."""
    if mode == "open":
        return True
    if mode == "keys":
        return False
    return not store_ever_had_keys


def open_refusal(host: str, allow_open: bool) -> str | None:
    """Why an open gateway must not listen on `host`; None when it may."""
    if host in LOOPBACK or allow_open:
        return None
    return (
        f"refusing to serve on {host} without API keys: anyone who can reach it could spend your upstream "
        f"credit. Create a key (`{CREATE_KEY_HINT}`), or pass --allow-open."
    )


class HostCheck:
    """The `Host` names this gateway answers to: `server.hosts` when set ("*" for any), else, on a
    loopback address, the loopback names and the bind address; a gateway bound to another
    address (0.0.0.0, a LAN IP) has no safe default list and answers any name."""

    def __init__(self, bind_host: str, configured: Iterable[str]) -> None:
        names = {name.lower() for name in configured}
        if "*" in names:
            self.allowed: frozenset[str] | None = None
        elif names:
            self.allowed = frozenset(names)
        elif bind_host in LOOPBACK:
            self.allowed = LOOPBACK | {bind_host.lower()}
        else:
            self.allowed = None

    def check(self, request: Request) -> None:
        if self.allowed is None:
            return
        host = request.headers.get("host", "")
        name = _host_name(host)
        if name not in self.allowed:
            shown = host[:64] + ("…" if len(host) > 64 else "")
            raise GatewayError(
                ErrorKind.PERMISSION,
                f"Host {shown!r} is not one of this gateway's names; list it in server.hosts to allow it",
                code="host_not_allowed",
            )


def _host_name(host: str) -> str:
    """`Host` without its port, lower-cased; IPv6 literals keep no brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    name, _, _ = host.partition(":") if host.count(":") == 1 else (host, "", "")
    return name


def no_key_error(open_gateway: bool, any_active: bool, scope: str) -> GatewayError:
    """The 401 for a request without a usable key, saying what to do about it."""
    if open_gateway:  # only the admin scope gets here: OPEN has the others
        return GatewayError(
            ErrorKind.AUTHENTICATION,
            f"this gateway is open (no API keys), and its {scope} API needs a key with the {scope} scope: "
            f"create one with `{CREATE_KEY_HINT}`, then restart the gateway (or send it SIGHUP)",
        )
    if not any_active:
        return GatewayError(
            ErrorKind.AUTHENTICATION,
            f"this gateway requires an API key and has no active one: create one with `{CREATE_KEY_HINT}`",
        )
    return GatewayError(ErrorKind.AUTHENTICATION, "missing API key: send it as x-api-key or Authorization: Bearer")
