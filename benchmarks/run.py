"""Interlink benchmark: one command measures Interlink (keys off and on) and its peers (LiteLLM, Portkey)
against the direct upstream, on a 2-core machine, and prints the tables (also in results/<stamp>/).

    make bench                                   # = .venv/bin/python benchmarks/run.py (3 rounds, ~45 min)
    .venv/bin/python benchmarks/run.py --quick   # 1 short round: a smoke test of the harness (~6 min)
    .venv/bin/python benchmarks/run.py --targets direct,interlink-off --paths chat,msg
    .venv/bin/python benchmarks/run.py --soak [--quick]   # 1,000 slow streams for 60 s + 100,000 requests

Per round, in a rotated target order, each gateway is started on core 1 (start-up time, RSS after
start), every path it serves is probed and then loaded (wrk: c1, c16, c64; streams of 200 chunks:
c1, c16; the load generators and the emulator on core 0), its RSS read after the load, and it is
stopped. Missing peers are installed into benchmarks/.peers/ first (setup_peers.sh); a peer that
cannot install or start is skipped with the reason. Outputs: raw.jsonl, summary.md, versions.json,
the generated configs and every process's log.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import load
import report
from targets import CLOUD_PATHS, HERE, PATHS, Target, ledger_rows, make_targets, start, start_emulator, versions

ALL_TARGETS = "direct,interlink-off,interlink-on,litellm,portkey"


def log(*parts: object) -> None:
    print(time.strftime("%H:%M:%S"), *parts, file=sys.stderr, flush=True)


class Recorder:
    """Appends result rows to raw.jsonl."""

    def __init__(self, out: str) -> None:
        self.f = open(os.path.join(out, "raw.jsonl"), "a")  # noqa: SIM115 - open for the whole run

    def __call__(self, **row: object) -> None:
        self.f.write(json.dumps(row) + "\n")
        self.f.flush()


def plan(quick: bool) -> dict:
    """Durations and counts: full (for the record) or quick (to prove the harness works)."""
    if quick:
        return {"warm_s": 1, "lat_s": 2, "tput_s": 4, "st_c1": 20, "st_c16": 64, "st_max_s": 15}
    return {"warm_s": 2, "lat_s": 6, "tput_s": 15, "st_c1": 100, "st_c16": 300, "st_max_s": 30}


def tests_for(url: str, ns_body: str, st_body: str, hdrs: list[str], p: dict) -> list:
    return [
        ("ns_c1", lambda: load.wrk(url, ns_body, hdrs, 1, p["lat_s"], 200_000)),
        ("ns_c16", lambda: load.wrk(url, ns_body, hdrs, 16, p["lat_s"], 500_000)),
        ("ns_c64", lambda: load.wrk(url, ns_body, hdrs, 64, p["tput_s"], 2_000_000)),
        ("st_c1", lambda: load.streams(url, st_body, hdrs, 1, p["st_c1"], p["st_max_s"], warmup=3)),
        ("st_c16", lambda: load.streams(url, st_body, hdrs, 16, p["st_c16"], p["st_max_s"], warmup=16)),
    ]


def measure_path(t: Target, path: str, rnd: int, ctx: dict) -> None:
    rec, out, p = ctx["rec"], ctx["out"], ctx["plan"]
    url, model, hdrs = t.url(path, ctx["emu_port"]), t.models[path], t.headers[path]
    why = load.probe(url, out, path, model, hdrs)
    if why:
        rec(kind="unsupported", round=rnd, target=t.name, path=path, reason=why)
        log("  %-9s not served: %s" % (path, why[:200]))
        return
    ns_body = load.body_file(out, path, model, False)
    st_body = load.body_file(out, path, model, True)
    load.wrk(url, ns_body, hdrs, 16, p["warm_s"], 100_000)  # warm-up, not recorded
    for name, fn in tests_for(url, ns_body, st_body, hdrs, p):
        cpu0 = t.proc.cpu_s() if t.proc else 0.0
        r = fn()
        row = {"kind": "load", "round": rnd, "target": t.name, "path": path, "test": name, "result": r}
        n = r.get("requests") or r.get("ok") or 0
        if t.proc and n:
            row["gw_cpu_ms_per_req"] = round((t.proc.cpu_s() - cpu0) * 1000 / n, 3)
        rec(**row)
        brief = {
            k: r.get(k)
            for k in ("rps", "p50_ms", "p99_ms", "ttfb_p50_ms", "total_p50_ms", "errors")
            if r.get(k) is not None
        }
        log("  %-9s %-7s %s%s" % (path, name, json.dumps(brief), "  FAILED: " + r["failed"] if "failed" in r else ""))


def measure_target(t: Target, rnd: int, ctx: dict) -> None:
    rec = ctx["rec"]
    if t.skip_reason:
        rec(kind="skipped", round=rnd, target=t.name, reason=t.skip_reason)
        log("skip %s: %s" % (t.name, t.skip_reason))
        return
    log("round %d: %s" % (rnd, t.name))
    try:
        seconds = start(t, ctx["out"], ctx["emu_port"], rnd)
    except Exception as e:
        if t.proc:
            t.proc.stop()
        t.proc = None
        rec(kind="skipped", round=rnd, target=t.name, reason="did not start: %s (see its log)" % e)
        log("skip %s: did not start: %s" % (t.name, e))
        return
    try:
        if t.proc:
            time.sleep(1)
            rec(kind="startup", round=rnd, target=t.name, seconds=round(seconds, 3), rss_mb=t.proc.rss_mb())
            log("  started in %.2f s, RSS %.1f MB" % (seconds, t.proc.rss_mb()))
        for path in ctx["paths"]:
            measure_path(t, path, rnd, ctx)
        if t.proc:
            rec(kind="rss_after_load", round=rnd, target=t.name, rss_mb=t.proc.rss_mb())
            log("  RSS after load %.1f MB" % t.proc.rss_mb())
    finally:
        if t.proc:
            t.proc.stop()
            t.proc = None
            if t.name.startswith("interlink"):
                rec(kind="ledger", round=rnd, target=t.name, rows=ledger_rows(ctx["out"], "%s-r%d" % (t.name, rnd)))


def install_missing(names: list[str], out: str, allowed: bool) -> None:
    parts = [] if shutil.which("wrk") else ["wrk"]
    probe = make_targets([n for n in names if n in ("litellm", "portkey")])
    parts += [t.name for t in probe if t.skip_reason]
    if not parts or not allowed:
        return
    log("installing %s (benchmarks/setup_peers.sh; log in setup.log)" % ", ".join(parts))
    with open(os.path.join(out, "setup.log"), "ab") as f:
        subprocess.run([os.path.join(HERE, "setup_peers.sh"), *parts], stdout=f, stderr=subprocess.STDOUT, timeout=1800)


def run_bench(a: argparse.Namespace, out: str) -> None:
    names = a.targets.split(",")
    rec = Recorder(out)
    rec(
        kind="meta",
        quick=a.quick,
        rounds=a.rounds,
        targets=names,
        paths=a.paths.split(","),
        started=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    )
    targets = make_targets(names)
    emu, emu_port = start_emulator(out)
    ctx = {"rec": rec, "out": out, "emu_port": emu_port, "plan": plan(a.quick), "paths": a.paths.split(",")}
    try:
        for rnd in range(1, a.rounds + 1):
            order = targets[(rnd - 1) % len(targets) :] + targets[: (rnd - 1) % len(targets)]
            for t in order:
                measure_target(t, rnd, ctx)
    finally:
        emu.stop()


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=None, help="repetitions (default 3; 1 with --quick)")
    ap.add_argument("--quick", action="store_true", help="one short round: proves the harness, numbers are rough")
    ap.add_argument("--targets", default=ALL_TARGETS, help="comma-separated subset of " + ALL_TARGETS)
    default_paths = ",".join(p for p in PATHS if p not in CLOUD_PATHS)
    ap.add_argument("--paths", default=default_paths, help="comma-separated subset of " + ",".join(PATHS))
    ap.add_argument("--soak", action="store_true", help="the soak test instead (Interlink only)")
    ap.add_argument("--no-install", action="store_true", help="do not install missing peers or wrk")
    ap.add_argument("--out", default="", help="results folder (default benchmarks/results/<stamp>)")
    a = ap.parse_args()
    a.rounds = a.rounds or (1 if a.quick else 3)
    bad = [n for n in a.targets.split(",") if n not in ALL_TARGETS.split(",")]
    bad += [n for n in a.paths.split(",") if n not in PATHS]
    if bad:
        ap.error("unknown target or path: %s" % ", ".join(bad))
    if "direct" not in a.targets.split(",") and not a.soak:
        ap.error("the direct target is the baseline: keep it in --targets")
    return a


def main() -> None:
    a = parse_args()
    if (os.cpu_count() or 1) < 2:
        sys.exit("needs 2 cores (core 0: emulator + load, core 1: the gateway)")
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the soak holds thousands of sockets

    def stop(signum: int, frame: object) -> None:
        raise SystemExit("stopped by signal %d" % signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    stamp = time.strftime("%Y%m%d-%H%M%S") + ("-soak" if a.soak else "") + ("-quick" if a.quick else "")
    out = os.path.abspath(a.out or os.path.join(HERE, "results", stamp))
    os.makedirs(out, exist_ok=True)
    install_missing([] if a.soak else a.targets.split(","), out, not a.no_install)
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install -y wrk (or run benchmarks/setup_peers.sh wrk)")
    with open(os.path.join(out, "versions.json"), "w") as f:
        json.dump(versions(), f, indent=1)
    log("results in", out)
    if a.soak:
        import soak

        soak.run(a, out)
    else:
        run_bench(a, out)
        print(report.summarize(out))
    log("results in", out)


if __name__ == "__main__":
    main()
