"""Turns a results folder's raw.jsonl into summary.md: latency, throughput, streaming, memory and start-up
tables, the ratios to the peers, and the targets Interlink is held to (figures, not test assertions).

Every cell is the median over rounds, with [min..max] when there was more than one round. "added" is
target − direct for the same path and test, computed per round (then median [min..max]); the direct
baseline of a path is the emulator answering the path's client API itself.

    .venv/bin/python benchmarks/report.py benchmarks/results/<stamp>
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from collections import defaultdict

from targets import PATHS, SAME_API_REF

GATEWAYS = ("interlink-off", "interlink-on", "litellm", "portkey")
INTERLINK = ("interlink-off", "interlink-on")


class Results:
    """raw.jsonl indexed as (path, test, metric) -> target -> round -> value."""

    def __init__(self, out: str) -> None:
        with open(os.path.join(out, "raw.jsonl")) as f:
            self.rows = [json.loads(line) for line in f if line.strip()]
        self.v: dict = defaultdict(lambda: defaultdict(dict))
        self.targets: list[str] = []
        for r in self.rows:
            if r.get("target") and r["target"] not in self.targets:
                self.targets.append(r["target"])
            if r["kind"] != "load":
                continue
            cells = dict(r["result"])
            cells["gw_cpu_ms_per_req"] = r.get("gw_cpu_ms_per_req")
            for metric, value in cells.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    self.v[(r["path"], r["test"], metric)][r["target"]][r["round"]] = value

    def values(self, path: str, test: str, metric: str, target: str, added: bool = False) -> list[float]:
        d = self.v[(path, test, metric)]
        mine = d.get(target, {})
        if not added:
            return list(mine.values())
        base = d.get("direct", {})
        return [v - base[k] for k, v in mine.items() if k in base]

    def med(self, *args, **kw) -> float | None:  # type: ignore[no-untyped-def]
        vals = self.values(*args, **kw)
        return statistics.median(vals) if vals else None

    def cell(self, path: str, test: str, metric: str, target: str, added: bool = False, nd: int = 2) -> str:
        vals = self.values(path, test, metric, target, added)
        if not vals:
            return "–"
        med = "%.*f" % (nd, statistics.median(vals))
        return med if len(vals) == 1 else "%s [%.*f..%.*f]" % (med, nd, min(vals), nd, max(vals))

    def per_target(self, kind: str, key: str, target: str) -> list[float]:
        return [r[key] for r in self.rows if r["kind"] == kind and r.get("target") == target]

    def served(self, path: str, target: str) -> bool:
        return any(
            target in self.v[(path, test, "ok")] or target in self.v[(path, test, "requests")]
            for test in ("ns_c1", "st_c1")
        )


def fmt_list(vals: list[float], nd: int = 2) -> str:
    if not vals:
        return "–"
    med = "%.*f" % (nd, statistics.median(vals))
    return med if len(vals) == 1 else "%s [%.*f..%.*f]" % (med, nd, min(vals), nd, max(vals))


def table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in rows]


def nonstream_table(res: Results) -> list[str]:
    head = [
        "path",
        "target",
        "c1 p50",
        "c1 p50 added",
        "c1 p99",
        "c16 p50",
        "c16 p99",
        "c16 p99 added",
        "c64 req/s",
        "c64 errors",
        "CPU ms/req @c64",
    ]
    rows = []
    for path in PATHS:
        for t in res.targets:
            if not res.served(path, t) or not res.values(path, "ns_c1", "p50_ms", t):
                continue
            c = lambda test, m, added=False, nd=2, path=path, t=t: res.cell(path, test, m, t, added, nd)  # noqa: E731
            rows.append(
                [
                    path,
                    t,
                    c("ns_c1", "p50_ms", nd=3),
                    "–" if t == "direct" else c("ns_c1", "p50_ms", True, 3),
                    c("ns_c1", "p99_ms", nd=3),
                    c("ns_c16", "p50_ms"),
                    c("ns_c16", "p99_ms"),
                    "–" if t == "direct" else c("ns_c16", "p99_ms", True),
                    c("ns_c64", "rps", nd=0),
                    c("ns_c64", "errors", nd=0),
                    c("ns_c64", "gw_cpu_ms_per_req"),
                ]
            )
    return table(head, rows)


def stream_table(res: Results) -> list[str]:
    head = [
        "path",
        "target",
        "c1 TTFB",
        "c1 TTFB added",
        "c1 total",
        "c1 total added",
        "c16 TTFB added",
        "c16 total",
        "c16 total added",
        "c16 total p99",
        "errors c1+c16",
        "CPU ms/stream @c16",
    ]
    rows = []
    for path in PATHS:
        for t in res.targets:
            if not res.values(path, "st_c1", "total_p50_ms", t):
                continue
            c = lambda test, m, added=False, nd=2, path=path, t=t: res.cell(path, test, m, t, added, nd)  # noqa: E731
            dash = t == "direct"
            errs = sum(res.values(path, "st_c1", "errors", t)) + sum(res.values(path, "st_c16", "errors", t))
            rows.append(
                [
                    path,
                    t,
                    c("st_c1", "ttfb_p50_ms"),
                    "–" if dash else c("st_c1", "ttfb_p50_ms", True),
                    c("st_c1", "total_p50_ms"),
                    "–" if dash else c("st_c1", "total_p50_ms", True),
                    "–" if dash else c("st_c16", "ttfb_p50_ms", True),
                    c("st_c16", "total_p50_ms"),
                    "–" if dash else c("st_c16", "total_p50_ms", True),
                    c("st_c16", "total_p99_ms"),
                    "%d" % errs,
                    c("st_c16", "gw_cpu_ms_per_req"),
                ]
            )
    return table(head, rows)


def memory_table(res: Results) -> list[str]:
    rows = []
    for t in res.targets:
        if t == "direct":
            continue
        rows.append(
            [
                t,
                fmt_list(res.per_target("startup", "seconds", t)),
                fmt_list(res.per_target("startup", "rss_mb", t), 1),
                fmt_list(res.per_target("rss_after_load", "rss_mb", t), 1),
                fmt_list(res.per_target("ledger", "rows", t), 0) if t in INTERLINK else "–",
            ]
        )
    return table(["target", "start-up s", "RSS after start MB", "RSS after load MB", "usage ledger rows"], rows)


def ratio_lines(res: Results) -> list[str]:
    rows = []
    for path in PATHS:
        for mine in INTERLINK:
            rps = res.med(path, "ns_c64", "rps", mine)
            if rps is None:
                continue
            cells = [path, mine]
            for peer in ("portkey", "litellm"):
                other = res.med(path, "ns_c64", "rps", peer)
                cells.append("%.1f×" % (rps / other) if other else "–")
            ref = SAME_API_REF.get(path)
            for test, metric in (("ns_c1", "p50_ms"), ("st_c1", "total_p50_ms")):
                a, b = (
                    res.med(path, test, metric, mine, added=True),
                    ref and res.med(ref, test, metric, mine, added=True),
                )
                cells.append("%.2f× (vs %s)" % (a / b, ref) if a is not None and b else "–")
            if any(c != "–" for c in cells[2:]):
                rows.append(cells)
    return table(
        [
            "path",
            "Interlink",
            "c64 req/s ÷ Portkey",
            "c64 req/s ÷ LiteLLM",
            "translated ÷ same-API: ns c1 p50 added",
            "translated ÷ same-API: stream c1 total added",
        ],
        rows,
    )


def check(label: str, value: float | None, goal: str, ok: bool | None, unit: str = "") -> list[str]:
    shown = "–" if value is None else "%.2f%s" % (value, unit)
    return [label, shown, goal, "–" if ok is None or value is None else ("yes" if ok else "NO")]


def target_lines(res: Results) -> list[str]:
    rows = []
    for t in INTERLINK:
        if t not in res.targets:
            continue
        for path in ("chat", "msg"):
            v = res.med(path, "ns_c1", "p50_ms", t, added=True)
            rows.append([t, *check("%s: non-stream c1 p50 added" % path, v, "≤ 0.5 ms", v is not None and v <= 0.5)])
            v = res.med(path, "ns_c16", "p99_ms", t, added=True)
            rows.append([t, *check("%s: non-stream c16 p99 added" % path, v, "≤ 2 ms", v is not None and v <= 2)])
            v = res.med(path, "st_c1", "ttfb_p50_ms", t, added=True)
            rows.append([t, *check("%s: stream c1 TTFB added" % path, v, "≤ 1 ms", v is not None and v <= 1)])
            v = res.med(path, "st_c1", "total_p50_ms", t, added=True)
            rows.append([t, *check("%s: stream c1 total added" % path, v, "≤ 2 ms", v is not None and v <= 2)])
            for peer, factor in (("portkey", 2), ("litellm", 30)):
                mine, other = res.med(path, "ns_c64", "rps", t), res.med(path, "ns_c64", "rps", peer)
                v = mine / other if mine and other else None
                rows.append(
                    [
                        t,
                        *check(
                            "%s: c64 req/s ÷ %s" % (path, peer), v, "≥ %d×" % factor, v is not None and v >= factor, "×"
                        ),
                    ]
                )
        for path, ref in SAME_API_REF.items():
            if res.med(path, "ns_c1", "p50_ms", t) is None:
                continue  # a path this run did not measure (the clouds are opt-in)
            a, b = res.med(path, "ns_c1", "p50_ms", t, added=True), res.med(ref, "ns_c1", "p50_ms", t, added=True)
            v = a / b if a is not None and b else None
            rows.append(
                [t, *check("%s ÷ %s: ns c1 p50 added" % (path, ref), v, "≤ 1.5×", v is not None and v <= 1.5, "×")]
            )
        rss, st = res.per_target("rss_after_load", "rss_mb", t), res.per_target("startup", "seconds", t)
        v = statistics.median(rss) if rss else None
        rows.append([t, *check("RSS after load", v, "≤ 80 MB", v is not None and v <= 80, " MB")])
        v = statistics.median(st) if st else None
        rows.append([t, *check("start-up", v, "≤ 1 s", v is not None and v <= 1, " s")])
    return table(["Interlink", "figure", "value (median)", "target", "met"], [r for r in rows if r[2] != "–"])


def notes(res: Results) -> list[str]:
    out = []
    seen = set()
    for r in res.rows:
        key = (r["kind"], r.get("target"), r.get("path"), r.get("reason"))
        if r["kind"] in ("skipped", "unsupported") and key not in seen:
            seen.add(key)
            where = r["target"] + (" / " + r["path"] if r.get("path") else "")
            out.append("- %s %s: %s" % (r["kind"], where, str(r.get("reason"))[:300].replace("\n", " ")))
    for r in res.rows:
        if r["kind"] == "load" and (r["result"].get("errors") or r["result"].get("failed")):
            res_ = r["result"]
            out.append(
                "- errors in round %s %s / %s / %s: %s %s"
                % (
                    r["round"],
                    r["target"],
                    r["path"],
                    r["test"],
                    res_.get("errors", ""),
                    (res_.get("first_errors") or [res_.get("failed", "")])[0][:200],
                )
            )
    return out


def summarize(out: str) -> str:
    res = Results(out)
    meta = next((r for r in res.rows if r["kind"] == "meta"), {})
    ver = {}
    if os.path.exists(os.path.join(out, "versions.json")):
        with open(os.path.join(out, "versions.json")) as f:
            ver = json.load(f)
    lines = [
        "# Interlink benchmark: %s" % os.path.basename(out),
        "",
        "Started %s; %s round(s)%s. Times in ms; median [min..max] over rounds; added = target − direct "
        "(same path, same test, per round)."
        % (
            meta.get("started", "?"),
            meta.get("rounds", "?"),
            ", QUICK (smoke test, short runs)" if meta.get("quick") else "",
        ),
        "",
        "Versions: " + "; ".join("%s: %s" % kv for kv in ver.items()),
        "",
        "## Non-stream, small body (wrk; latency p50/p99, throughput at c64)",
        "",
    ]
    lines += nonstream_table(res)
    lines += ["", "## Streams of 200 chunks (aiohttp client; TTFB = first body byte, total = last byte)", ""]
    lines += stream_table(res)
    lines += ["", "## Start-up and memory", "", *memory_table(res)]
    lines += ["", "## Ratios", "", *ratio_lines(res)]
    lines += ["", "## Targets (figures to report against, not assertions)", "", *target_lines(res)]
    extra = notes(res)
    if extra:
        lines += ["", "## Skipped, unsupported, errors", "", *extra]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(text)
    return text


if __name__ == "__main__":
    print(summarize(sys.argv[1]))
