"""SIGHUP reloads the config without dropping requests (and keeps the old one when the new one
is invalid); SIGTERM drains open streams and ends the rest with a terminal error event."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from pathlib import Path

import httpx

from tests.contract.conftest import DEFAULTS, free_port, start_emulator, start_gateway, stop, write_config


def slow_stream(gateway: str, results: list, index: int, started: threading.Semaphore | None = None) -> None:
    body = {
        "model": "slow-chat",
        "stream": True,
        "messages": [{"role": "user", "content": f"stream number {index} with a long enough text"}],
    }
    try:
        with httpx.stream("POST", f"{gateway}/v1/chat/completions", json=body, timeout=60) as r:
            if started is not None:
                started.release()
            results[index] = b"".join(r.iter_bytes())
    except httpx.HTTPError as exc:
        results[index] = exc


def ledger_rows(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "interlink.db") as db:
        return db.execute("SELECT count(*) FROM usage").fetchone()[0]


def setup(tmp_path: Path, drain: float = 30):  # type: ignore[no-untyped-def]
    emu_port, gw_port = free_port(), free_port()
    emulator = start_emulator(emu_port)
    emu = f"http://127.0.0.1:{emu_port}"
    config = tmp_path / "interlink.yaml"

    def write(extra: str = "") -> None:
        write_config(
            config,
            emu,
            models='  slow-chat: {provider: emu-chat, model: "gpt-emu@delay=400"}\n' + extra,
            defaults=DEFAULTS + f"server: {{drain_seconds: {drain}}}\n",
        )

    write()
    gateway = start_gateway(config, gw_port, tmp_path / "gateway.log")
    return emulator, gateway, f"http://127.0.0.1:{gw_port}", write, config


def test_sighup_reload_good_and_bad(tmp_path: Path) -> None:
    emulator, gateway, url, write, config = setup(tmp_path)
    try:
        results: list = [None]
        streaming = threading.Thread(target=slow_stream, args=(url, results, 0))
        streaming.start()
        time.sleep(0.5)
        write("  added-later: {provider: emu-chat, model: gpt-emu}\n")
        gateway.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while "added-later" not in httpx.get(f"{url}/v1/models").text and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "added-later" in httpx.get(f"{url}/v1/models").text
        streaming.join(30)
        assert results[0].rstrip().endswith(b"data: [DONE]")  # the stream in flight was not dropped

        config.write_text("providers: {p: {kind: nonsense}}\n")
        gateway.send_signal(signal.SIGHUP)
        time.sleep(1)
        r = httpx.post(
            f"{url}/v1/chat/completions",
            json={"model": "added-later", "messages": [{"role": "user", "content": "still here?"}]},
        )
        assert r.status_code == 200
        log = (tmp_path / "gateway.log").read_text()
        assert "config reload failed; keeping the running config" in log
        assert "providers.p.kind" in log
    finally:
        stop(gateway)
        stop(emulator)


def test_sigterm_drains_then_ends_open_streams_with_an_error_event(tmp_path: Path) -> None:
    emulator, gateway, url, _, _ = setup(tmp_path, drain=1)
    try:
        results: list = [None] * 50
        started = threading.Semaphore(0)
        threads = [threading.Thread(target=slow_stream, args=(url, results, i, started)) for i in range(50)]
        for t in threads:
            t.start()
        # every stream is open (headers in) before the signal, however slow the machine is today
        assert all(started.acquire(timeout=60) for _ in range(50))
        gateway.send_signal(signal.SIGTERM)
        for t in threads:
            t.join(30)
        assert gateway.wait(20) == 0
        complete = sum(1 for r in results if isinstance(r, bytes) and r.rstrip().endswith(b"data: [DONE]"))
        errored = sum(1 for r in results if isinstance(r, bytes) and b'"error"' in r and b"shutting down" in r)
        assert complete + errored == 50, [r if not isinstance(r, bytes) else r[-200:] for r in results]
        assert errored > 0  # the streams outlived the 1 s drain and got a terminal error event
        assert ledger_rows(tmp_path / "data") == 50  # every stream recorded, cut or not
    finally:
        if gateway.poll() is None:
            stop(gateway)
        stop(emulator)
