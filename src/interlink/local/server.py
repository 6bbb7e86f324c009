"""The local model's server process: `python -m llama_cpp.server` on a free 127.0.0.1 port.

Owns starting it, waiting until it answers, and stopping it. A child process rather than
`llama_cpp.Llama` inside the gateway because generation is CPU-bound native code: out of process
it cannot stall the gateway's event loop, a crash in llama.cpp cannot take the gateway down, and
the gateway reaches it exactly as it reaches any other OpenAI-compatible server (the `llamacpp`
preset), so the local model exercises the real translation paths.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

log = logging.getLogger("interlink.local")

# Measured on a 2-core machine (../shared/model/REPORT.md §3): one thread generates 55–107 tok/s
# whatever else runs; two threads are faster only on an idle machine and collapse 5–20× as soon
# as another process wants a core, which is exactly when a gateway is busy.
THREADS = 1
# SmolLM2's trained context. The server then takes ~450 MB (~280 MB at 4096), worth it so that
# longer conversations and the system prompts of coding tools fit.
CONTEXT = 8192


class LocalModelError(RuntimeError):
    """The local model cannot be used or did not start; the message says why and what to do."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    # Runs in the child before exec: if the gateway is killed without a chance to stop us
    # (SIGKILL, OOM), the kernel sends SIGTERM, so no orphaned server keeps the port and 300 MB.
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _server_env() -> dict[str, str]:
    """Our environment without the variables llama_cpp.server's settings read (PORT, HOST, MODEL,
    N_CTX, ...): they beat its command line, so `make run PORT=4000` would put the model server on
    the gateway's own port."""
    return {k: v for k, v in os.environ.items() if k.upper() not in _SERVER_SETTINGS}


_SERVER_SETTINGS = {
    "PORT",
    "HOST",
    "MODEL",
    "MODEL_ALIAS",
    "N_CTX",
    "N_THREADS",
    "N_THREADS_BATCH",
    "N_GPU_LAYERS",
    "INTERRUPT_REQUESTS",
    "CONFIG_FILE",
    "API_KEY",
    "CHAT_FORMAT",
    "VERBOSE",
}


class LocalModel:
    """A handle on the local model server: `start()` before serving, `stop()` after.

    `port` is chosen when the handle is made, so the gateway's config can name the server's URL
    before the server runs.
    """

    def __init__(self, gguf: Path, *, alias: str, port: int | None = None, log_dir: str | None = None) -> None:
        self.gguf = gguf
        self.alias = alias
        self.port = port or free_port()
        self.log_path = _log_path(log_dir)
        self.started_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL (with /v1), as the gateway's provider config wants it."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.gguf),
            "--model_alias",
            self.alias,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            str(CONTEXT),
            "--n_threads",
            str(THREADS),
            "--n_threads_batch",
            str(THREADS),
            # By default each new request cuts off the stream in progress and ends it with
            # [DONE] and no finish_reason: a silent truncation. Off, requests queue instead.
            "--interrupt_requests",
            "False",
        ]

    def start(self, timeout: float = 60.0) -> float:
        """Start the server and wait until it answers; returns the seconds it took.

        Raises LocalModelError (with the end of the server's log) if it exits or is not ready in time.
        Call it before starting threads (as `serve` and `doctor` do): `preexec_fn` is unsafe once
        other threads run.
        """
        if self.running:
            return self.started_seconds or 0.0
        began = time.monotonic()
        self._log = self.log_path.open("wb")  # this run only: the file would otherwise grow forever
        self._proc = subprocess.Popen(
            self.command(),
            env=_server_env(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        try:
            self._wait_ready(began + timeout)
        except LocalModelError:
            self.stop()
            raise
        self.started_seconds = time.monotonic() - began
        return self.started_seconds

    def _wait_ready(self, deadline: float) -> None:
        assert self._proc is not None
        url = f"{self.base_url}/models"
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise LocalModelError(
                    f"the local model server exited with code {self._proc.returncode} before it was ready; "
                    f"its log ({self.log_path}) ends with:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=1.0) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise LocalModelError(
            f"the local model server did not answer on {url} in time; its log ({self.log_path}) ends with:\n"
            f"{self.log_tail()}"
        )

    def stop(self, grace: float = 5.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after `grace` seconds). Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(grace)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> LocalModel:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _log_path(log_dir: str | None) -> Path:
    """`<data dir>/local-model.log`, or a temp file when the data dir cannot be written:
    llama.cpp logs every load and request, which does not belong in the gateway's JSON log."""
    if log_dir:
        try:
            Path(log_dir).mkdir(parents=True, exist_ok=True)
            path = Path(log_dir) / "local-model.log"
            path.touch()
            return path
        except OSError:
            pass
    return Path(tempfile.gettempdir()) / f"interlink-local-model-{os.getpid()}.log"
