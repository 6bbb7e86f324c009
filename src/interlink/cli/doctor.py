"""`interlink doctor`: can the gateway reach each configured upstream, and does it let us in?

For every provider, in order (a failed step skips the steps after it): DNS resolution, TCP
connect, TLS handshake (https only), auth (GET the upstream's model list with the exact headers
the provider's codec sends on real calls) and, with `--call`, a one-token model call through the
codec and the gateway's own `Transport`. The result is a table whose "fix" column says what to
change. API keys never reach the output: every cell passes through a `core.redact.Redactor`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import orjson
import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from interlink.cli import output
from interlink.config.settings import CLOUD_KINDS, Config
from interlink.core import ChatRequest, GatewayError, Message, TextBlock
from interlink.core.redact import Redactor
from interlink.providers import ProviderSettings
from interlink.routing.catalog import Catalog, codec_for
from interlink.routing.transport import Transport

STEPS = ("dns", "tcp", "tls", "auth", "call")


@dataclass(slots=True)
class Check:
    ok: bool | None
    """True passed, False failed, None not applicable or not run."""
    ms: float | None = None
    note: str = ""


@dataclass(slots=True)
class Report:
    provider: str
    kind: str
    base_url: str
    checks: dict[str, Check] = field(default_factory=dict)
    fixes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(c.ok is False for c in self.checks.values())

    def fail(self, step: str, ms: float | None, fix: str) -> None:
        self.checks[step] = Check(False, ms)
        self.fixes.append(fix)


class _Timer:
    def __enter__(self) -> _Timer:
        self.start = time.perf_counter()
        self.ms = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.ms = (time.perf_counter() - self.start) * 1000


# ---------------------------------------------------------------------------------- checks


async def diagnose(config: Config, *, call: bool = False, timeout: float = 10.0) -> list[Report]:
    """One report per provider in `config`, checked concurrently."""
    catalog = Catalog(config)
    key_vars = _key_variables(config)
    transport = Transport(connect_timeout=timeout)
    try:
        return list(
            await asyncio.gather(
                *(
                    _diagnose_one(config, settings, key_vars.get(name), transport, call=call, timeout=timeout)
                    for name, settings in catalog.providers.items()
                )
            )
        )
    finally:
        await transport.close()


async def _diagnose_one(
    config: Config, settings: ProviderSettings, key_var: str | None, transport: Transport, *, call: bool, timeout: float
) -> Report:
    report = Report(settings.name, settings.kind, _display_url(settings.base_url))
    parts = urlsplit(settings.base_url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    _static_fixes(report, settings, key_var)
    address = await _check_dns(report, host, port, timeout)
    if address is None:
        return _skip(report, "tcp")
    if not await _check_connect(report, host, address, port, https=parts.scheme == "https", timeout=timeout):
        return _skip(report, "auth")
    if settings.kind in CLOUD_KINDS:
        listed = await _check_cloud_auth(report, config, settings, transport, timeout)
    else:
        listed = await _check_auth(report, settings, key_var, timeout)
    if listed is None:
        return _skip(report, "call")
    if call:
        await _check_call(report, config, settings, listed, transport, timeout)
    return report


def _skip(report: Report, first: str) -> Report:
    for step in STEPS[STEPS.index(first) :]:
        report.checks.setdefault(step, Check(None))
    return report


def _static_fixes(report: Report, settings: ProviderSettings, key_var: str | None) -> None:
    path = urlsplit(settings.base_url).path.rstrip("/")
    if settings.kind == "anthropic" and path.endswith("/v1"):
        report.fixes.append("base_url for anthropic must not end in /v1: remove it (Anthropic URLs are the host only)")
    host = urlsplit(settings.base_url).hostname or ""
    if settings.kind in CLOUD_KINDS:
        return  # credentials come from the cloud's own chain: checked by the auth step
    if not settings.api_key and not _is_local(host):
        report.fixes.append(f"no api_key: set {key_var or _default_key_var(settings)}")


async def _check_dns(report: Report, host: str, port: int, timeout: float) -> str | None:
    loop = asyncio.get_running_loop()
    why = "no addresses"
    with _Timer() as t:
        try:
            infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout)
        except TimeoutError:
            infos, why = [], "timed out"
        except OSError as exc:
            infos, why = [], exc.strerror or str(exc)
    if not infos:
        report.fail("dns", t.ms, f"cannot resolve {host} ({why}): check the host in base_url, or DNS")
        return None
    report.checks["dns"] = Check(True, t.ms)
    return str(infos[0][4][0])


async def _check_connect(report: Report, host: str, address: str, port: int, *, https: bool, timeout: float) -> bool:
    with _Timer() as t:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(address, port), timeout)
        except TimeoutError:
            report.fail("tcp", t.ms, f"{host}:{port} did not answer in {timeout:g} s: a firewall or proxy may block it")
            return False
        except OSError as exc:
            why = exc.strerror or (os.strerror(exc.errno) if exc.errno else str(exc))
            report.fail(
                "tcp",
                t.ms,
                f"nothing accepts connections on {host}:{port} ({why}): start the server or fix the port in base_url",
            )
            return False
    report.checks["tcp"] = Check(True, t.ms)
    try:
        if not https:
            report.checks["tls"] = Check(None, note="http")
            return True
        with _Timer() as t:
            try:
                await asyncio.wait_for(writer.start_tls(ssl.create_default_context(), server_hostname=host), timeout)
            except (TimeoutError, ssl.SSLError, OSError) as exc:
                report.fail("tls", t.ms, _tls_fix(host, exc))
                return False
        report.checks["tls"] = Check(True, t.ms)
        return True
    finally:
        writer.close()


def _tls_fix(host: str, exc: BaseException) -> str:
    text = str(exc)
    if "WRONG_VERSION_NUMBER" in text or "wrong version number" in text:
        return f"{host} speaks plain HTTP here: use http:// in base_url"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"{host}'s certificate is not trusted ({exc.verify_message}): behind a TLS proxy, set SSL_CERT_FILE"
    if isinstance(exc, asyncio.TimeoutError):
        return f"TLS handshake with {host} timed out: a proxy may block it"
    return f"TLS handshake with {host} failed ({text[:80]})"


async def _check_auth(
    report: Report, settings: ProviderSettings, key_var: str | None, timeout: float
) -> list[str] | None:
    """GET the model list with the codec's own auth headers. Returns the ids listed, or None on failure."""
    probe = codec_for(settings.kind).build_request(_probe("x"), upstream_model="x", settings=settings, stream=False)
    headers = {k: v for k, v in probe.headers.items() if k.lower() != "content-type"}
    url = _models_url(probe.url)
    with _Timer() as t:
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
                session.get(url, headers=headers) as reply,
            ):
                status, body = reply.status, await reply.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            report.fail(
                "auth",
                t.ms,
                f"GET {_display_url(url)} failed ({type(exc).__name__}): is this an {settings.kind} server?",
            )
            return None
    var = key_var or _default_key_var(settings)
    if status in (401, 403):
        what = "rejected the key" if settings.api_key else "wants a key"
        report.fail("auth", t.ms, f"{settings.name} {what} (HTTP {status}): set {var} to a valid key")
        return None
    if status == 404:
        return _auth_not_found(report, settings, t.ms)
    if status >= 400 and status != 429:
        report.fail("auth", t.ms, f"GET /models answered HTTP {status}: the upstream is failing or base_url is wrong")
        return None
    report.checks["auth"] = Check(True, t.ms, "rate limited" if status == 429 else "")
    return _listed_ids(body)


async def _check_cloud_auth(
    report: Report, config: Config, settings: ProviderSettings, transport: Transport, timeout: float
) -> list[str] | None:
    """Credentials found (the cloud's own chain: AWS, Google ADC, api-key or Entra ID) and valid
    for this region/project/resource: the provider's real endpoint, signed like a real call, with
    an empty body. A 400 for the body means everything before it was accepted; no tokens are spent."""
    model = _probe_model(config, settings.name, [])
    if model is None:
        report.checks["auth"] = Check(None, note="no model")
        report.fixes.append(f"no model to try on {settings.name}: add a models entry with provider: {settings.name}")
        return None
    codec = codec_for(settings.kind)
    with _Timer() as t:
        try:
            upstream = codec.build_request(_probe(model), upstream_model=model, settings=settings, stream=False)
            upstream.body = b"{}"
            async with asyncio.timeout(timeout):
                reply = await transport.send(upstream)
                try:
                    body = await reply.read()
                finally:
                    reply.close()
        except GatewayError as error:
            report.fail("auth", t.ms, error.message[:240])
            return None
        except TimeoutError:
            report.fail("auth", t.ms, f"{settings.name} did not answer in {timeout:g} s")
            return None
    if reply.status in (400, 422):
        report.checks["auth"] = Check(True, t.ms, "credentials accepted")
        return [model]
    refused = codec.map_error(reply.status, reply.headers, body, settings=settings)
    report.fail("auth", t.ms, _cloud_fix(settings, model, reply.status, refused.message))
    return None


def _cloud_fix(settings: ProviderSettings, model: str, status: int, message: str) -> str:
    where = {
        "bedrock": f"region {settings.region}",
        "vertex": f"project {settings.project}, location {settings.location}",
    }.get(settings.kind, settings.base_url)
    if status == 404:
        return f"{model} not found in {where} ({message[:160]}): check the model id (Azure: the deployment name)"
    if status in (401, 403):
        hint = {
            "bedrock": "check the AWS credentials (or api_key) and that model access is granted in the Bedrock console",
            "vertex": "check GOOGLE_APPLICATION_CREDENTIALS / gcloud login, that the project has Vertex AI enabled "
            "and the Claude model in Model Garden",
            "azure-openai": "check api_key (or the Entra ID role Cognitive Services OpenAI User)",
        }[settings.kind]
        return f"{settings.name} refused the credentials in {where} (HTTP {status}: {message[:160]}): {hint}"
    return f"{settings.name} answered HTTP {status} in {where}: {message[:160]}"


def _auth_not_found(report: Report, settings: ProviderSettings, ms: float) -> list[str] | None:
    path = urlsplit(settings.base_url).path.rstrip("/")
    if settings.kind != "anthropic" and not path.endswith("/v1"):
        report.fail("auth", ms, f"base_url for {settings.kind} usually ends in /v1 (GET /models was 404)")
        return None
    # Some OpenAI-compatible servers have no model list; the key is then checked by --call only.
    report.checks["auth"] = Check(None, ms, "no /models")
    return []


async def _check_call(
    report: Report, config: Config, settings: ProviderSettings, listed: list[str], transport: Transport, timeout: float
) -> None:
    model = _probe_model(config, settings.name, listed)
    if model is None:
        report.checks["call"] = Check(None, note="no model")
        report.fixes.append(f"no model to try on {settings.name}: add a models entry with provider: {settings.name}")
        return
    codec = codec_for(settings.kind)
    # The Responses API refuses max_output_tokens below 16; the others take 1.
    request = _probe(model, max_tokens=16 if settings.kind == "openai-responses" else 1)
    with _Timer() as t:
        try:
            upstream = codec.build_request(request, upstream_model=model, settings=settings, stream=False)
            async with asyncio.timeout(timeout):
                reply = await transport.send(upstream)
                try:
                    body = await reply.read()
                finally:
                    reply.close()
            if reply.status >= 400:
                raise codec.map_error(reply.status, reply.headers, body, settings=settings)
            codec.parse_response(body, settings=settings)
        except GatewayError as error:
            # Scrubbed before it is cut: a cut key is still most of a key.
            text = Redactor(config.secrets()).scrub(error.message)
            report.fail("call", t.ms, f"calling {model}: {text[:160]}")
            return
        except TimeoutError:
            report.fail("call", t.ms, f"calling {model}: no answer in {timeout:g} s")
            return
    report.checks["call"] = Check(True, t.ms, model)


def _probe(model: str, max_tokens: int = 1) -> ChatRequest:
    return ChatRequest(model=model, messages=[Message("user", [TextBlock("Say OK.")])], max_tokens=max_tokens)


def _probe_model(config: Config, provider: str, listed: list[str]) -> str | None:
    """A configured model served by `provider` (its upstream id), else the first one it lists."""
    for public, model in config.models.items():
        if any(ch in public for ch in "*?["):
            continue
        targets: list[tuple[str | None, str | None]] = [(d.provider, d.model) for d in model.deployments]
        targets = targets or [(model.provider, None)]
        for target, upstream in targets:
            if target == provider:
                return upstream or model.model or public
    return listed[0] if listed else None


# ------------------------------------------------------------------------------- helpers


def _models_url(call_url: str) -> str:
    parts = urlsplit(call_url)
    path = parts.path
    for suffix in ("/chat/completions", "/messages", "/responses"):
        if path.endswith(suffix):
            path = path[: -len(suffix)] + "/models"
            break
    return urlunsplit(parts._replace(path=path))


def _listed_ids(body: bytes) -> list[str]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return []
    items = data.get("data") if isinstance(data, dict) else None
    return [str(item["id"]) for item in items or [] if isinstance(item, dict) and "id" in item]


def _is_local(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private


def _default_key_var(settings: ProviderSettings) -> str:
    host = urlsplit(settings.base_url).hostname or ""
    if settings.kind == "anthropic" or host.endswith("anthropic.com"):
        return "ANTHROPIC_API_KEY"
    if host.endswith("openai.com"):
        return "OPENAI_API_KEY"
    return f"the api_key of provider {settings.name}"


def _key_variables(config: Config) -> dict[str, str]:
    """provider → the environment variable its api_key comes from, so a fix can name it."""
    if config.source == "environment":
        return {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}
    try:
        raw = yaml.safe_load(Path(config.source or "").read_text())
    except (OSError, yaml.YAMLError):
        return {}
    providers = raw.get("providers") if isinstance(raw, dict) else None
    found: dict[str, str] = {}
    for name, entry in (providers or {}).items():
        value = entry.get("api_key") if isinstance(entry, dict) else None
        if isinstance(value, str) and value.startswith("${"):
            found[str(name)] = value[2:].split("}")[0].split(":-")[0]
    return found


def _display_url(url: str) -> str:
    """The URL without user:password, which would be a credential."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        parts = parts._replace(netloc=(parts.hostname or "") + (f":{parts.port}" if parts.port else ""))
    return urlunsplit(parts)


# -------------------------------------------------------------------------------- output


def _cell(check: Check | None) -> str:
    if check is None or (check.ok is None and check.ms is None):
        note = check.note if check else ""
        return f"[dim]{escape(note) or '–'}[/dim]"
    timing = f" {check.ms:.0f} ms" if check.ms is not None else ""
    note = f" [dim]{escape(check.note)}[/dim]" if check.note else ""
    if check.ok is None:
        return f"[yellow]?{timing}[/yellow]{note}"
    return f"[green]✓{timing}[/green]{note}" if check.ok else f"[red]✗{timing}[/red]{note}"


def render(reports: list[Report], redactor: Redactor, console: Console, *, call: bool) -> None:
    steps = STEPS if call else STEPS[:-1]
    table = Table(title="interlink doctor", show_lines=True)
    for column in ("provider", "kind", "base URL", *steps, "fix"):
        table.add_column(column, overflow="fold")
    for r in reports:
        # Upstream text can hold [brackets], which rich would read as markup.
        plain = [escape(r.provider), r.kind, escape(r.base_url)]
        cells = [*plain, *(_cell(r.checks.get(s)) for s in steps), escape("\n".join(r.fixes))]
        table.add_row(*(redactor.scrub(c) for c in cells))
    console.print(table)


def _plain_cell(check: Check | None) -> str:
    if check is None or (check.ok is None and check.ms is None):
        return (check.note if check else "") or "-"
    mark = {True: "ok", False: "FAIL", None: "?"}[check.ok]
    timing = f" {check.ms:.0f}ms" if check.ms is not None else ""
    return f"{mark}{timing}" + (f" ({check.note})" if check.note else "")


def render_plain(reports: list[Report], redactor: Redactor, *, call: bool) -> None:
    """One line per provider, nothing cut (stdout is a pipe or a file)."""
    steps = STEPS if call else STEPS[:-1]
    columns = [output.Column(name) for name in ("provider", "kind", "base_url", *steps, "fix")]
    rows = [
        [
            redactor.scrub(cell)
            for cell in [
                r.provider,
                r.kind,
                r.base_url,
                *(_plain_cell(r.checks.get(s)) for s in steps),
                "; ".join(r.fixes) or "-",
            ]
        ]
        for r in reports
    ]
    output.plain_table(columns, rows)


def as_json(reports: list[Report], redactor: Redactor) -> list[dict[str, object]]:
    """The reports as data (`doctor --json`), redacted like the table."""
    return [
        {
            "provider": r.provider,
            "kind": r.kind,
            "base_url": redactor.scrub(r.base_url),
            "ok": not r.failed,
            "checks": {
                step: {"ok": c.ok, "ms": None if c.ms is None else round(c.ms, 1), "note": redactor.scrub(c.note)}
                for step, c in r.checks.items()
            },
            "fixes": [redactor.scrub(fix) for fix in r.fixes],
        }
        for r in reports
    ]


def doctor(
    config: Annotated[str | None, typer.Option("--config", "-c", help="YAML config file (as for serve).")] = None,
    call: Annotated[bool, typer.Option("--call", help="Also make a one-token model call to each provider.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds allowed for each check.")] = 10.0,
    json_out: Annotated[bool, typer.Option("--json", help="Print the checks as JSON (same exit code).")] = False,
) -> None:
    """Check every provider: DNS, TCP, TLS, auth (and a one-token call with --call); says how to fix what fails."""
    from interlink.cli.main import _load  # the same config handling as every other command
    from interlink.local import LocalModelError, start_local

    settings = _load(config)
    console = Console(stderr=json_out or not output.is_terminal())  # stdout carries only the data then
    try:
        local = start_local(settings)  # checked like any provider when `serve` would run it
    except LocalModelError as error:
        console.print(f"[red]local model:[/red] {error}")
        raise typer.Exit(1) from None
    try:
        reports = asyncio.run(diagnose(settings, call=call, timeout=timeout))
    finally:
        if local is not None:
            local.stop()
    redactor = Redactor(settings.secrets())
    if json_out:
        output.print_json(as_json(reports, redactor))
        raise typer.Exit(1 if not reports or any(r.failed for r in reports) else 0)
    if not reports:
        console.print(
            "no providers configured: pass --config FILE, set ANTHROPIC_API_KEY or OPENAI_API_KEY, "
            "or run `make setup` for the built-in local model"
        )
        raise typer.Exit(1)
    if output.is_terminal():
        render(reports, redactor, console, call=call)
    else:
        render_plain(reports, redactor, call=call)
    failed = [r.provider for r in reports if r.failed]
    console.print(
        f"[red]{len(failed)} provider(s) failing: {', '.join(failed)}[/red]"
        if failed
        else f"[green]all {len(reports)} provider(s) ok[/green]"
    )
    raise typer.Exit(1 if failed else 0)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
