"""Soak test (`benchmarks/run.py --soak`): Interlink with keys, limits and the usage ledger on.

1. Slow streams: 1,000 concurrent streams of 60 chunks at 1 chunk/s, held ~60 s (the upstream model
   `emu-oai-slow`); every stream must end with its terminal event. RSS at start, middle and end.
2. Requests in a row: 100,000 non-stream requests at concurrency 16, in 10 segments of 10,000 that
   cycle through the five paths; no errors allowed; RSS after every segment.

--quick: the same 1,000 streams but of 10 chunks (~10 s), and 10 × 1,000 requests. Results: soak.jsonl and soak.md.
"""

from __future__ import annotations

import json
import os
import sys
import time

import load
from targets import PATHS, Target, ledger_rows, make_targets, start, start_emulator

SEGMENTS = 10


def log(*parts: object) -> None:
    print(time.strftime("%H:%M:%S"), *parts, file=sys.stderr, flush=True)


def slow_streams(t: Target, out: str, emu_port: int, quick: bool, rec) -> dict:  # type: ignore[no-untyped-def]
    n, model, hold = (1000, "emu-oai-slow-quick", 10) if quick else (1000, "emu-oai-slow", 60)
    body = load.body_file(out, "chat", model, True)
    rss = {"start": t.proc.rss_mb()}
    log("slow streams: %d concurrent, ~%d s each (RSS at start %.1f MB)" % (n, hold, rss["start"]))
    p = load.streams(t.url("chat", emu_port), body, t.headers["chat"], n, n, hold + 60, popen=True)
    t0 = time.time()
    while p.poll() is None and time.time() - t0 < hold + 240:
        time.sleep(1)
        if "middle" not in rss and time.time() - t0 >= hold / 2:
            rss["middle"] = t.proc.rss_mb()
            log("  middle: RSS %.1f MB" % rss["middle"])
    r = load.collect(p, 60)
    rss["end"] = t.proc.rss_mb()
    row = {
        "phase": "slow_streams",
        "streams": n,
        "ok": r.get("ok"),
        "errors": r.get("errors", r.get("failed")),
        "max_open": r.get("max_open"),
        "seconds": round(time.time() - t0, 1),
        "rss_mb": rss,
        "total_p50_ms": r.get("total_p50_ms"),
        "first_errors": r.get("first_errors"),
    }
    rec(row)
    log("  done:", json.dumps(row))
    return row


def requests_in_a_row(t: Target, out: str, emu_port: int, quick: bool, rec) -> dict:  # type: ignore[no-untyped-def]
    per = 1000 if quick else 10_000
    paths = list(PATHS)
    rss, ok, errors, first = [t.proc.rss_mb()], 0, 0, []
    t0 = time.time()
    log("requests in a row: %d × %d at concurrency 16 (RSS at start %.1f MB)" % (SEGMENTS, per, rss[0]))
    for i in range(SEGMENTS):
        path = paths[i % len(paths)]
        body = load.body_file(out, path, t.models[path], False)
        r = load.streams(t.url(path, emu_port), body, t.headers[path], 16, per, 600)
        ok += r.get("ok", 0)
        errors += r.get("errors", 0) + (per - r.get("issued", 0))
        first += r.get("first_errors", []) + ([r["failed"]] if "failed" in r else [])
        rss.append(t.proc.rss_mb())
        log(
            "  segment %d %-8s ok=%s errors=%s rps=%s RSS %.1f MB"
            % (i + 1, path, r.get("ok"), r.get("errors"), r.get("rps"), rss[-1])
        )
    row = {
        "phase": "requests_in_a_row",
        "requests": SEGMENTS * per,
        "ok": ok,
        "errors": errors,
        "seconds": round(time.time() - t0, 1),
        "rss_mb": {"start": rss[0], "middle": rss[SEGMENTS // 2], "end": rss[-1], "all": rss},
        "first_errors": first[:3],
    }
    rec(row)
    return row


def report(rows: list[dict], out: str, extra: dict) -> str:
    lines = [
        "# Interlink soak: %s" % os.path.basename(out),
        "",
        "Interlink with a key (limits far above the load) and the SQLite usage ledger; "
        "upstream = benchmarks/emulator.py. RSS of the gateway process in MB.",
        "",
        "| phase | requests | ok | errors | seconds | RSS start | RSS middle | RSS end |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        n = r.get("streams") or r.get("requests")
        lines.append(
            "| %s | %s | %s | %s | %s | %s | %s | %s |"
            % (
                r["phase"],
                n,
                r["ok"],
                r["errors"],
                r["seconds"],
                r["rss_mb"].get("start"),
                r["rss_mb"].get("middle"),
                r["rss_mb"].get("end"),
            )
        )
    lines += [""] + ["- %s: %s" % kv for kv in extra.items()]
    for r in rows:
        if r.get("first_errors"):
            lines.append("- first errors (%s): %s" % (r["phase"], r["first_errors"]))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "soak.md"), "w") as f:
        f.write(text)
    return text


def run(a, out: str) -> None:  # type: ignore[no-untyped-def]
    f = open(os.path.join(out, "soak.jsonl"), "a")  # noqa: SIM115 - open for the whole soak

    def rec(row: dict) -> None:
        f.write(json.dumps(row) + "\n")
        f.flush()

    emu, emu_port = start_emulator(out)
    t = make_targets(["interlink-on"])[0]
    rows: list[dict] = []
    try:
        seconds = start(t, out, emu_port, 1)
        log("interlink-on started in %.2f s" % seconds)
        time.sleep(1)
        rows.append(slow_streams(t, out, emu_port, a.quick, rec))
        rows.append(requests_in_a_row(t, out, emu_port, a.quick, rec))
    finally:
        if t.proc:
            t.proc.stop(grace=30)
        emu.stop()
    print(
        report(
            rows,
            out,
            {"start-up s": round(seconds, 2), "usage ledger rows after stop": ledger_rows(out, "interlink-on-r1")},
        )
    )
