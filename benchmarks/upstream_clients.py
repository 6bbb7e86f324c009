"""Which HTTP client should Interlink use towards upstreams? aiohttp against httpx, measured.

Both clients, with one pooled session each, send the same small POST to the benchmark's emulator
(started here on core 0) from a process pinned to core 1: CPU time per request (the cost the
gateway pays on every call), requests/s at concurrency 1 and 32, and a 200-chunk stream read to
its end. Rounds alternate the clients so drift hits both alike.

    .venv/bin/python benchmarks/upstream_clients.py [--rounds 5] [--requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time

import aiohttp
import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from targets import CORE_LOAD, start_emulator

BODY = b'{"model":"emu","max_tokens":64,"messages":[{"role":"user","content":"Say hello in one short sentence."}]}'
HEADERS = {"content-type": "application/json", "authorization": "Bearer sk-upstream"}


async def aiohttp_run(url: str, n: int, conc: int, stream: bool) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one() -> None:
            async with session.post(
                url, data=BODY if not stream else BODY[:-1] + b',"stream":true}', headers=HEADERS
            ) as r:
                if stream:
                    async for _ in r.content.iter_any():
                        pass
                else:
                    await r.read()

        await _drive(one, n, conc)


async def httpx_run(url: str, n: int, conc: int, stream: bool) -> None:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(limits=limits, timeout=None) as client:

        async def one() -> None:
            body = BODY if not stream else BODY[:-1] + b',"stream":true}'
            async with client.stream("POST", url, content=body, headers=HEADERS) as r:
                async for _ in r.aiter_raw():
                    pass

        await _drive(one, n, conc)


async def _drive(one, n: int, conc: int) -> None:  # type: ignore[no-untyped-def]
    left = n

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await one()

    await asyncio.gather(*(worker() for _ in range(conc)))


def measure(run, url: str, n: int, conc: int, stream: bool) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(CPU µs per request, requests/s)."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    cpu0, t0 = time.process_time(), time.perf_counter()
    asyncio.run(run(url, n, conc, stream))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
    return cpu * 1e6 / n, n / wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:  # one measurement, in a fresh process pinned to core 1
        client, url, conc, stream = a.child
        run = aiohttp_run if client == "aiohttp" else httpx_run
        n = a.requests // (10 if stream == "1" else 1)
        cpu, rps = measure(run, url, n, int(conc), stream == "1")
        print(f"{cpu:.1f} {rps:.1f}")
        return
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "upstream-clients")
    os.makedirs(out, exist_ok=True)
    emu, port = start_emulator(out)
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    cases = [("c1", "1", "0"), ("c32", "32", "0"), ("stream c8", "8", "1")]
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    try:
        for rnd in range(a.rounds):
            for client in ("aiohttp", "httpx") if rnd % 2 == 0 else ("httpx", "aiohttp"):
                for name, conc, stream in cases:
                    cmd = [
                        "taskset",
                        "-c",
                        "1",
                        sys.executable,
                        __file__,
                        "--requests",
                        str(a.requests),
                        "--child",
                        client,
                        url,
                        conc,
                        stream,
                    ]
                    line = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()
                    results.setdefault((client, name), []).append((float(line[0]), float(line[1])))
    finally:
        emu.stop()
    versions = f"aiohttp {aiohttp.__version__}, httpx {httpx.__version__}, emulator on core {CORE_LOAD}"
    print(f"upstream HTTP clients ({versions}; median of {a.rounds} rounds)")
    print(f"{'case':12s} {'client':8s} {'CPU µs/req':>11s} {'req/s':>8s}")
    for name, _, _ in cases:
        base = statistics.median(c for c, _ in results[("aiohttp", name)])
        for client in ("aiohttp", "httpx"):
            cpu = statistics.median(c for c, _ in results[(client, name)])
            rps = statistics.median(r for _, r in results[(client, name)])
            print(f"{name:12s} {client:8s} {cpu:11.0f} {rps:8.0f}   ×{cpu / base:.2f} CPU of aiohttp")


if __name__ == "__main__":
    main()
