"""Running the app under uvicorn with a graceful drain.

On SIGTERM/SIGINT uvicorn stops accepting connections and waits for open ones. Streams may take
minutes, so after `drain_seconds` the gateway sets `Gateway.stopping`: every open stream ends
with its API's terminal error event (clients retry on those), then uvicorn finishes, the
lifespan shutdown flushes the usage ledger, and the process exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import math
from types import FrameType

import uvicorn
from starlette.applications import Starlette

from interlink.config.settings import ConnectionLimits
from interlink.server.connections import guarded_protocol

log = logging.getLogger("interlink")


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: Starlette, drain_seconds: float) -> None:
        super().__init__(config)
        self.gateway = app.state.gateway
        self.drain_seconds = drain_seconds
        self._drain_timer: asyncio.TimerHandle | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._drain_timer is None:
            log.info("shutting down: no new connections; open requests get up to %.0f s", self.drain_seconds)
            loop = asyncio.get_event_loop()
            self._drain_timer = loop.call_later(self.drain_seconds, self.gateway.stopping.set)
        elif not self.gateway.stopping.is_set():
            self.gateway.stopping.set()  # a second signal: stop waiting
        super().handle_exit(sig, frame)
        # uvicorn re-raises captured signals after its shutdown, which would turn a clean drain
        # into death by SIGTERM (exit -15); a drained gateway exits 0.
        self._captured_signals.clear()


def run_server(
    app: Starlette, *, host: str, port: int, drain_seconds: float, limits: ConnectionLimits | None = None
) -> None:
    limits = limits or ConnectionLimits()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        loop="auto",
        # uvicorn's httptools protocol with header and write timeouts and a header size limit.
        http=guarded_protocol(limits),
        limit_concurrency=limits.max_connections,
        ws="none",  # no WebSocket endpoints: skips importing the websockets package (memory, start-up)
        # Nothing here reads the client's address, so X-Forwarded-* parsing on every request buys nothing.
        proxy_headers=False,
        # uvicorn's own limit comes after ours, so the streams' error events get written first.
        timeout_graceful_shutdown=math.ceil(drain_seconds) + 5,
        timeout_keep_alive=math.ceil(limits.keep_alive),
    )
    DrainingServer(config, app, drain_seconds).run()
