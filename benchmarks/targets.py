"""What the benchmark measures: the targets (direct upstream, Interlink off/on, LiteLLM, Portkey), the API
paths each can serve, and starting / measuring / stopping their processes.

Placement on the 2 cores: the emulator and the load generators run on core 0, the gateway under test
alone on core 1 (`taskset`, all its threads), and the direct baseline with the same placement.

Interlink "on" = an API key exists (created with `interlink keys create`, limits set far above the
load so none refuses), every request carries it, and the limiter, the key check and the SQLite usage
ledger all run. Interlink "off" = no key exists (open mode, 127.0.0.1 only): no key check and no
limits, but the usage ledger still records every request.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV_PY = os.path.join(ROOT, ".venv", "bin", "python")
INTERLINK = os.path.join(ROOT, ".venv", "bin", "interlink")
PEERS = os.path.join(HERE, ".peers")
LITELLM = os.path.join(PEERS, "litellm", "bin", "litellm")
PORTKEY_JS = os.path.join(PEERS, "portkey", "node_modules", "@portkey-ai", "gateway", "build", "start-server-local.js")
CORE_LOAD, CORE_GW = "0", "1"
TICK = os.sysconf("SC_CLK_TCK")

# path name -> (client endpoint, upstream API, description)
PATHS = {
    "chat": ("/v1/chat/completions", "openai-chat", "Chat → openai-chat (same API)"),
    "msg": ("/v1/messages", "anthropic", "Messages → anthropic (same API)"),
    "msg_chat": ("/v1/messages", "openai-chat", "Messages → openai-chat (translated)"),
    "resp_ant": ("/v1/responses", "anthropic", "Responses → anthropic (translated)"),
    "chat_ant": ("/v1/chat/completions", "anthropic", "Chat → anthropic (translated)"),
    # the clouds (Interlink only: `--targets direct,interlink-off --paths ...`; README "Cloud upstreams")
    "msg_bedrock": ("/v1/messages", "bedrock", "Messages → Bedrock InvokeModel (SigV4, event-stream)"),
    "chat_bedrock": ("/v1/chat/completions", "bedrock", "Chat → Bedrock InvokeModel (translated)"),
    "chat_vertex": ("/v1/chat/completions", "vertex", "Chat → Vertex rawPredict (translated)"),
    "chat_azure": ("/v1/chat/completions", "azure-openai", "Chat → Azure OpenAI deployment (same API)"),
    "resp_azure": ("/v1/responses", "azure-openai", "Responses → Azure OpenAI Chat (translated)"),
}
CLOUD_PATHS = ("msg_bedrock", "chat_bedrock", "chat_vertex", "chat_azure", "resp_azure")
# the same-API path a translated path's overhead is compared with: same client API, else same upstream
SAME_API_REF = {"msg_chat": "msg", "chat_ant": "chat", "resp_ant": "msg"}
SAME_API_REF.update(
    msg_bedrock="msg", chat_bedrock="chat", chat_vertex="chat", chat_azure="chat", resp_azure="chat_azure"
)
MODEL_FOR = {
    "openai-chat": "emu-oai",
    "anthropic": "emu-anthropic",
    "bedrock": "emu-bedrock",
    "vertex": "emu-vertex",
    "azure-openai": "emu-azure",
}
ANTHROPIC_VERSION = "anthropic-version: 2023-06-01"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, seconds: float, proc: subprocess.Popen | None = None) -> float:
    """Seconds until `url` answers below 500; raises if it never does (or the process died)."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("exited with %s before it was ready" % proc.returncode)
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status < 500:
                    return time.perf_counter() - t0
        except Exception:
            time.sleep(0.02)
    raise RuntimeError("not ready after %.0f s: %s" % (seconds, url))


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(entry))
    return kids


class Proc:
    """A process this harness started (pinned with taskset), with its children: RSS, CPU, stop."""

    def __init__(
        self, name: str, cmd: list[str], core: str, outdir: str, env: dict | None = None, cwd: str | None = None
    ) -> None:
        self.name = name
        self.log = open(os.path.join(outdir, name + ".log"), "ab")  # noqa: SIM115 - the child writes to it for its life
        self.p = subprocess.Popen(
            ["taskset", "-c", core, *cmd],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=cwd or HERE,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        self.started = time.perf_counter()

    def tree(self) -> list[int]:
        kids, out, todo = _children(), [], [self.p.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo.extend(kids.get(pid, []))
        return out

    def rss_mb(self) -> float:
        total = 0
        for pid in self.tree():
            try:
                with open("/proc/%d/status" % pid) as f:
                    total += int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
            except (OSError, AttributeError):
                pass
        return round(total / 1024, 1)

    def cpu_s(self) -> float:
        total = 0
        for pid in self.tree():
            try:
                with open("/proc/%d/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except (OSError, IndexError, ValueError):
                pass
        return total / TICK

    def stop(self, grace: float = 15) -> None:
        """SIGTERM to this process and its own children only, SIGKILL after `grace` seconds."""
        pids = self.tree()
        for pid in reversed(pids):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        try:
            self.p.wait(grace)
        except subprocess.TimeoutExpired:
            for pid in reversed(self.tree()):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.p.wait(5)
        self.log.close()


@dataclass
class Target:
    """One thing under test: how to start it and, per path, the URL base, model and headers."""

    name: str
    port: int = 0
    headers: dict[str, list[str]] = field(default_factory=dict)  # path -> extra headers
    models: dict[str, str] = field(default_factory=dict)  # path -> model name
    proc: Proc | None = None
    skip_reason: str = ""

    def url(self, path: str, emu_port: int) -> str:
        port = emu_port if self.name == "direct" else self.port
        return "http://127.0.0.1:%d%s" % (port, PATHS[path][0])


def interlink_config(outdir: str, emu_port: int) -> str:
    emu = "http://127.0.0.1:%d" % emu_port
    text = f"""# generated by benchmarks/targets.py: every provider is the benchmark's emulator
server: {{drain_seconds: 2, max_streams: 4000}}
providers:
  emu-chat:      {{kind: openai-chat,      base_url: {emu}/v1, api_key: sk-upstream}}
  emu-anthropic: {{kind: anthropic,        base_url: {emu},    api_key: sk-ant-upstream}}
  emu-responses: {{kind: openai-responses, base_url: {emu}/v1, api_key: sk-upstream}}
  emu-bedrock:   {{kind: bedrock, region: us-east-1, base_url: {emu}}}
  emu-vertex:    {{kind: vertex, project: bench, location: us-east5, base_url: {emu}}}
  emu-azure:     {{kind: azure-openai, base_url: {emu}, api_key: sk-azure, api_version: "2024-10-21"}}
models:
  emu-bedrock:   {{provider: emu-bedrock, model: "anthropic.claude-emu-v1:0"}}
  emu-vertex:    {{provider: emu-vertex, model: "claude-emu@20250929"}}
  emu-azure:     {{provider: emu-azure, model: emu}}
  emu-oai:       {{provider: emu-chat,      model: emu}}
  emu-anthropic: {{provider: emu-anthropic, model: emu}}
  emu-responses: {{provider: emu-responses, model: emu}}
  emu-oai-slow:  {{provider: emu-chat,      model: "emu@chunks=60,delay=1000"}}   # soak: 1 chunk/s
  emu-oai-slow-quick: {{provider: emu-chat, model: "emu@chunks=10,delay=1000"}}
"""
    path = os.path.join(outdir, "interlink.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def cloud_credentials(outdir: str, emu_port: int) -> dict[str, str]:
    """AWS keys for SigV4 and a Google service account whose token endpoint is the emulator's."""
    path = os.path.join(outdir, "google-sa.json")
    if not os.path.exists(path):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        account = {
            "type": "service_account",
            "project_id": "bench",
            "private_key_id": "bench",
            "private_key": pem.decode(),
            "client_email": "bench@bench.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": "http://127.0.0.1:%d/token" % emu_port,
        }
        with open(path, "w") as f:
            json.dump(account, f)
    return {
        "AWS_ACCESS_KEY_ID": "AKIDBENCH",
        "AWS_SECRET_ACCESS_KEY": "bench-secret",
        "AWS_EC2_METADATA_DISABLED": "true",
        "GOOGLE_APPLICATION_CREDENTIALS": path,
    }


def create_key(config: str, data_dir: str) -> str:
    """`interlink keys create` with limits far above the load; returns the secret it prints once."""
    cmd = [
        INTERLINK,
        "keys",
        "create",
        "--config",
        config,
        "--name",
        "bench",
        "--rpm",
        "100000000",
        "--tpm",
        "10000000000",
        "--max-streams",
        "4000",
        "--budget-usd",
        "1000000000",
        "--period",
        "total",
    ]
    out = subprocess.run(
        cmd, env={**os.environ, "INTERLINK_DATA_DIR": data_dir}, capture_output=True, text=True, timeout=120
    )
    m = re.search(r"(sk-il-\S+)", out.stdout)
    if out.returncode != 0 or not m:
        raise RuntimeError("interlink keys create failed: %s %s" % (out.stdout[-400:], out.stderr[-400:]))
    return m.group(1)


def litellm_config(outdir: str, emu_port: int) -> str:
    emu = "http://127.0.0.1:%d" % emu_port
    text = f"""# generated by benchmarks/targets.py; settings from LiteLLM's production guide (no DB, no Redis)
model_list:
  - model_name: emu-oai
    litellm_params: {{model: openai/emu, api_base: "{emu}/v1", api_key: sk-upstream}}
  - model_name: emu-anthropic
    litellm_params: {{model: anthropic/emu, api_base: "{emu}", api_key: sk-ant-upstream}}
litellm_settings: {{set_verbose: false, json_logs: true, request_timeout: 600, drop_params: true}}
general_settings: {{master_key: sk-bench, disable_spend_logs: true, disable_error_logs: true,
                   proxy_batch_write_at: 60}}
"""
    path = os.path.join(outdir, "litellm.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def make_targets(names: list[str]) -> list[Target]:
    out = []
    for name in names:
        t = Target(name)
        for path, (endpoint, upstream, _) in PATHS.items():
            t.models[path] = MODEL_FOR[upstream]
            anth = [ANTHROPIC_VERSION] if endpoint == "/v1/messages" else []
            if name == "direct":
                t.models[path] = "emu"
                t.headers[path] = anth
            elif name == "litellm":
                t.headers[path] = [*anth, "Authorization: Bearer sk-bench"]
            elif name == "portkey":
                t.models[path] = "emu"
                key = "x-api-key: sk-ant-upstream" if upstream == "anthropic" else "Authorization: Bearer sk-upstream"
                provider = "anthropic" if upstream == "anthropic" else "openai"
                t.headers[path] = [*anth, "x-portkey-provider: " + provider, key]
            else:  # interlink-off / interlink-on; the key is added once it exists
                t.headers[path] = list(anth)
        if name == "litellm" and not os.path.exists(LITELLM):
            t.skip_reason = "LiteLLM is not installed (benchmarks/setup_peers.sh litellm failed or was not run)"
        if name == "portkey" and not os.path.exists(PORTKEY_JS):
            t.skip_reason = "Portkey is not installed (benchmarks/setup_peers.sh portkey failed or was not run)"
        out.append(t)
    return out


def start(t: Target, outdir: str, emu_port: int, rnd: int) -> float:
    """Start the target's process on core 1; returns the seconds until it answered its health URL."""
    t.port = free_port()
    label = "%s-r%d" % (t.name, rnd)
    if t.name.startswith("interlink"):
        data_dir = os.path.join(outdir, "data-%s" % label)
        os.makedirs(data_dir, exist_ok=True)
        config = interlink_config(outdir, emu_port)
        env = {"INTERLINK_DATA_DIR": data_dir, **cloud_credentials(outdir, emu_port)}
        # Start-up is measured as a gateway (re)starting on its database, as in production: the
        # schema is created first (`interlink db upgrade`; keys-on also creates its key), so
        # neither variant times the one-off first migration.
        subprocess.run(
            [INTERLINK, "db", "upgrade", "--config", config],
            env={**os.environ, **env},
            capture_output=True,
            timeout=120,
            check=True,
        )
        if t.name == "interlink-on":
            secret = create_key(config, data_dir)
            for path, (endpoint, _, _) in PATHS.items():
                auth = "x-api-key: " if endpoint == "/v1/messages" else "Authorization: Bearer "
                t.headers[path] = [h for h in t.headers[path] if not h.startswith(("x-api-key", "Authorization"))]
                t.headers[path].append(auth + secret)
        t.proc = Proc(label, [INTERLINK, "serve", "--config", config, "--port", str(t.port)], CORE_GW, outdir, env)
        health = "/health"
    elif t.name == "litellm":
        env = {
            "LITELLM_LOG": "ERROR",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_TELEMETRY": "False",
            "DISABLE_SCHEMA_UPDATE": "True",
        }
        t.proc = Proc(
            label,
            [
                LITELLM,
                "--config",
                litellm_config(outdir, emu_port),
                "--host",
                "127.0.0.1",
                "--port",
                str(t.port),
                "--num_workers",
                "1",
            ],
            CORE_GW,
            outdir,
            env,
        )
        health = "/health/liveliness"
    elif t.name == "portkey":
        for path in PATHS:
            t.headers[path] = [h for h in t.headers[path] if not h.startswith("x-portkey-custom-host")]
            t.headers[path].append("x-portkey-custom-host: http://127.0.0.1:%d/v1" % emu_port)
        t.proc = Proc(
            label,
            ["node", PORTKEY_JS, "--port=%d" % t.port, "--headless"],
            CORE_GW,
            outdir,
            {"NODE_ENV": "production"},
            cwd=os.path.dirname(PORTKEY_JS),
        )
        health = "/"
    else:
        return 0.0
    t0 = t.proc.started
    wait_http("http://127.0.0.1:%d%s" % (t.port, health), 180, t.proc.p)
    return time.perf_counter() - t0


def start_emulator(out: str) -> tuple[Proc, int]:
    """The benchmark's upstream emulator on core 0 (defaults: 200 chunks × 8 chars, 120-char answers)."""
    port = free_port()
    emu = Proc(
        "emulator",
        [
            VENV_PY,
            os.path.join(HERE, "emulator.py"),
            "--port",
            str(port),
            "--chunks",
            "200",
            "--chunk-size",
            "8",
            "--ns-chars",
            "120",
        ],
        CORE_LOAD,
        out,
    )
    wait_http("http://127.0.0.1:%d/health" % port, 15, emu.p)
    return emu, port


def ledger_rows(out: str, label: str) -> int | None:
    """Rows in an Interlink run's SQLite usage ledger (read after it stopped and flushed)."""
    try:
        with sqlite3.connect(os.path.join(out, "data-" + label, "interlink.db")) as c:
            return c.execute("select count(*) from usage").fetchone()[0]
    except sqlite3.Error:
        return None


def versions() -> dict:
    def sh(cmd: str) -> str:
        try:
            return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=60).stdout.strip()
        except Exception as e:
            return "error: %r" % e

    meta = "-c 'import importlib.metadata as m, sys; print(*[m.version(x) for x in sys.argv[1:]])'"
    pk = os.path.join(PEERS, "portkey", "node_modules")
    return {
        "interlink": sh(INTERLINK + " version"),
        "interlink_stack (uvicorn uvloop starlette aiohttp)": sh(
            VENV_PY + " " + meta + " uvicorn uvloop starlette aiohttp"
        ),
        "litellm": sh(os.path.join(PEERS, "litellm", "bin", "python") + " " + meta + " litellm uvicorn") or "-",
        "portkey (gateway, @hono/node-server)": sh(
            "cat %s/@portkey-ai/gateway/package.json %s/@hono/node-server/"
            "package.json 2>/dev/null | grep '\"version\"' | tr -d ' ,\"'" % (pk, pk)
        ).replace("\n", " ")
        or "-",
        "node": sh("node --version"),
        "python": sh(VENV_PY + " -V"),
        "wrk": sh("wrk -v 2>&1 | head -1"),
        "kernel": sh("uname -r"),
        "cpu": sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"),
        "cores": os.cpu_count(),
        "load_average_at_start": sh("cut -d' ' -f1-3 /proc/loadavg"),
    }
