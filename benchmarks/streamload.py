"""Streaming load client: N requests at fixed concurrency, bounded in count and time; prints one JSON line.

Per request it times, from just before sending: the response headers (hdr), the first body byte
(ttfb), the first content chunk (ttft: the first read holding the marker text the emulator streams)
and the end of the body (total). A request counts as ok only with status 200 and the API's
terminal event seen ([DONE], message_stop, response.completed), so a silently truncated stream is
an error. It also works for non-stream bodies (no terminal marker then).

    .venv/bin/python benchmarks/streamload.py --url http://127.0.0.1:19400/v1/messages \
        --body-file body.json --concurrency 16 --count 300 --max-seconds 30 --header 'x-api-key: k'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import aiohttp

try:
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None

END_MARKERS = {"/responses": b"response.completed", "/messages": b"message_stop", "/chat/completions": b"[DONE]"}


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return round(s[lo] + (s[hi] - s[lo]) * (k - lo), 3)


class Run:
    """Counters and timings of one load run."""

    def __init__(self, a: argparse.Namespace) -> None:
        self.a = a
        with open(a.body_file, "rb") as f:
            self.body = f.read()
        self.headers = {"Content-Type": "application/json"}
        for h in a.header:
            k, _, v = h.partition(":")
            self.headers[k.strip()] = v.strip()
        stream = json.loads(self.body).get("stream")
        self.end = next((m for s, m in END_MARKERS.items() if a.url.endswith(s)), b"") if stream else b""
        self.marker = a.marker.encode()
        self.times: dict[str, list[float]] = {"hdr": [], "ttfb": [], "ttft": [], "total": []}
        self.errors = {"status": 0, "incomplete": 0, "exception": 0}
        self.first_errors: list[str] = []
        self.issued = self.open = self.max_open = 0

    def fail(self, kind: str, detail: str) -> None:
        self.errors[kind] += 1
        if len(self.first_errors) < 3:
            self.first_errors.append(detail[:300])

    async def one(self, session: aiohttp.ClientSession, measure: bool) -> None:
        t0 = time.perf_counter()
        tfb = tft = None
        tail, seen_end = b"", not self.end
        self.open += 1
        self.max_open = max(self.max_open, self.open)
        try:
            async with session.post(self.a.url, data=self.body, headers=self.headers) as r:
                thdr = time.perf_counter()
                async for chunk in r.content.iter_any():
                    now = time.perf_counter()
                    tfb = tfb or now
                    if tft is None and self.marker in chunk:
                        tft = now
                    if not seen_end and self.end in tail + chunk:
                        seen_end = True
                    tail = (tail + chunk)[-400:]
                t1 = time.perf_counter()
                status = r.status
        except Exception as e:
            if measure:
                self.fail("exception", "%s: %s" % (type(e).__name__, e))
            return
        finally:
            self.open -= 1
        if not measure:
            return
        if status != 200:
            return self.fail("status", "status %d: %r" % (status, tail[:300]))
        if not seen_end:
            return self.fail("incomplete", "no terminal event; tail=%r" % tail[-200:])
        for name, t in (("hdr", thdr), ("ttfb", tfb or t1), ("ttft", tft or t1), ("total", t1)):
            self.times[name].append((t - t0) * 1000)

    async def main(self) -> dict:
        a = self.a
        conn = aiohttp.TCPConnector(limit=a.concurrency)
        async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=a.timeout)) as s:
            warm = list(range(a.warmup))

            async def warm_worker() -> None:
                while warm:
                    warm.pop()
                    await self.one(s, False)

            await asyncio.gather(*[warm_worker() for _ in range(min(a.concurrency, a.warmup))])
            t_start = time.perf_counter()
            deadline = t_start + a.max_seconds

            async def worker() -> None:
                while self.issued < a.count and time.perf_counter() < deadline:
                    self.issued += 1
                    await self.one(s, True)

            await asyncio.gather(*[worker() for _ in range(a.concurrency)])
            elapsed = time.perf_counter() - t_start
        return self.result(elapsed)

    def result(self, elapsed: float) -> dict:
        ok = len(self.times["total"])
        out = {
            "label": self.a.label,
            "concurrency": self.a.concurrency,
            "issued": self.issued,
            "ok": ok,
            "errors": sum(self.errors.values()),
            "error_kinds": self.errors,
            "max_open": self.max_open,
            "elapsed_s": round(elapsed, 3),
            "rps": round(ok / elapsed, 1) if elapsed else 0.0,
            "hit_time_bound": self.issued < self.a.count,
        }
        for name, values in self.times.items():
            for p in (50, 99):
                out["%s_p%d_ms" % (name, p)] = percentile(values, p)
        if self.first_errors:
            out["first_errors"] = self.first_errors
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True)
    ap.add_argument("--body-file", required=True)
    ap.add_argument("--header", action="append", default=[], help="'Name: value', repeatable")
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--max-seconds", type=float, default=30)
    ap.add_argument("--warmup", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--marker", default="lorem", help="text that marks a content chunk")
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    if a.count > 1_000_000 or a.max_seconds > 900 or a.concurrency > 5000:
        sys.exit("refusing: count <= 1e6, max-seconds <= 900, concurrency <= 5000")
    if uvloop is not None:
        uvloop.install()
    print(json.dumps(asyncio.run(Run(a).main())), flush=True)


if __name__ == "__main__":
    main()
