"""Structured JSON log lines on stderr: one object per line, with the request id when there is one.

Secrets never reach a log: nothing here prints headers or bodies, and fields are explicit.

Lines are written at once into a buffer of our own on stderr's file descriptor and flushed at
most `FLUSH_SECONDS` later (or when the buffer fills, and at exit). Python's own stderr is line
buffered, so a line per request meant a `write` syscall per request: measured, a tenth of a small
request's CPU. A crash that skips the interpreter's exit loses at most the last tenth of a second
of log lines, never a usage record (the ledger does not depend on logs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from typing import IO, Protocol

import orjson

FLUSH_SECONDS = 0.1


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return self.format_bytes(record).decode()

    def format_bytes(self, record: logging.LogRecord) -> bytes:
        line = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            line.update(fields)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str, option=orjson.OPT_APPEND_NEWLINE)


class DeferredFlushHandler(logging.Handler):
    """JSON lines into a buffered binary stream, flushed within `FLUSH_SECONDS`.

    Inside a running event loop the flush is a timer on that loop; elsewhere (CLI commands,
    start-up, shutdown) each line is flushed at once.
    """

    def __init__(self, stream: ByteSink) -> None:
        super().__init__()
        self.stream = stream
        self.formatter: JSONFormatter = JSONFormatter()
        self._flush_pending = False
        self._pending_since = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.formatter.format_bytes(record))
            if self._flush_pending and time.monotonic() - self._pending_since < 1.0:
                return  # a timer will flush (and if its loop stopped first, the next line does)
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._flush_pending = True
            self._pending_since = time.monotonic()
            loop.call_later(FLUSH_SECONDS, self.flush)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        self._flush_pending = False
        with contextlib.suppress(ValueError, OSError):  # closed at exit, or stderr gone
            self.stream.flush()


class ByteSink(Protocol):
    """Where log lines go: stderr's file descriptor, or a text stream without one."""

    def write(self, data: bytes, /) -> object: ...

    def flush(self) -> None: ...


class _TextStream:
    """Bytes into a text stream without a file descriptor (a test runner's captured stderr)."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, data: bytes) -> None:
        self._stream.write(data.decode())

    def flush(self) -> None:
        self._stream.flush()


def _stderr_bytes() -> ByteSink:
    try:
        return open(sys.stderr.fileno(), "wb", buffering=1 << 16, closefd=False)
    except (AttributeError, OSError, ValueError):
        return _TextStream(sys.stderr)


def setup_logging(level: str = "info") -> None:
    handler = DeferredFlushHandler(_stderr_bytes())
    root = logging.getLogger("interlink")
    for old in root.handlers:
        old.flush()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
