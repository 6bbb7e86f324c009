"""Load generators, both pinned to core 0: wrk (+ lua/post.lua) for non-stream requests, and
streamload.py (aiohttp) for streams. Each run is bounded in request count and in time, and returns
one dict of results."""

from __future__ import annotations

import json
import os
import subprocess

from targets import CORE_LOAD, HERE, PATHS, VENV_PY

PROMPT = "Say hello in one short sentence."


def body_file(outdir: str, path: str, model: str, stream: bool) -> str:
    """A small request body in the path's client API, written once per (path, model, stream)."""
    endpoint = PATHS[path][0]
    if endpoint == "/v1/responses":
        body: dict = {"model": model, "input": PROMPT, "max_output_tokens": 64}
    else:
        body = {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": PROMPT}]}
    if stream:
        body["stream"] = True
    name = os.path.join(outdir, "bodies", "%s-%s-%s.json" % (path, model.replace("/", "_"), "s" if stream else "ns"))
    os.makedirs(os.path.dirname(name), exist_ok=True)
    with open(name, "w") as f:
        json.dump(body, f)
    return name


def wrk(url: str, body: str, headers: list[str], conns: int, seconds: float, max_req: int) -> dict:
    env = {**os.environ, "BODY_FILE": body, "HDRS": "|".join(headers), "MAX_REQ": str(max_req), "WRK_THREADS": "1"}
    cmd = [
        "taskset",
        "-c",
        CORE_LOAD,
        "wrk",
        "-t1",
        "-c%d" % conns,
        "-d%ds" % max(1, round(seconds)),
        "--timeout",
        "10s",
        "-s",
        os.path.join(HERE, "lua", "post.lua"),
        url,
    ]
    try:
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        return {"failed": "wrk did not finish in time"}
    lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"failed": "no wrk output: %s %s" % (r.stdout[-300:], r.stderr[-300:])}
    out = json.loads(lines[-1])
    out["errors"] = out.get("errors", 0) + out.get("non200", 0)
    if r.stderr.strip():
        out["first_errors"] = [r.stderr.strip()[:300]]
    return out


def streams(
    url: str,
    body: str,
    headers: list[str],
    conc: int,
    count: int,
    max_s: float,
    warmup: int = 0,
    label: str = "",
    popen: bool = False,
):  # type: ignore[no-untyped-def]
    """Run streamload.py; with popen=True return the Popen (the caller samples RSS meanwhile)."""
    cmd = [
        "taskset",
        "-c",
        CORE_LOAD,
        VENV_PY,
        os.path.join(HERE, "streamload.py"),
        "--url",
        url,
        "--body-file",
        body,
        "--concurrency",
        str(conc),
        "--count",
        str(count),
        "--max-seconds",
        str(max_s),
        "--warmup",
        str(warmup),
        "--label",
        label,
    ]
    for h in headers:
        cmd += ["--header", h]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return p if popen else collect(p, max_s + 180)


def collect(p: subprocess.Popen, timeout: float) -> dict:
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        return {"failed": "streamload did not finish in time"}
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        return {"failed": "no streamload output: %s" % err[-500:]}
    return json.loads(lines[-1])


def probe(url: str, outdir: str, path: str, model: str, headers: list[str]) -> str:
    """'' when one non-stream and one stream request both succeed, else why not."""
    for stream in (False, True):
        r = streams(url, body_file(outdir, path, model, stream), headers, 1, 1, 20)
        if r.get("ok") != 1:
            return "%s: %s" % (
                "stream" if stream else "non-stream",
                (r.get("first_errors") or [r.get("failed", "no answer")])[0],
            )
    return ""
