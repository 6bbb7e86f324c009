"""Rate limits shared by every replica through one Redis (used when `config.redis_url` is set).

Owns the Redis side of `interlink.limits`: the atomic Lua scripts shipped next to this module
(`*.lua`), loading them (SCRIPT LOAD, then EVALSHA; a NOSCRIPT reply after a Redis restart or
failover reloads and retries once), and what happens when Redis is not there.

- Clock: every script reads Redis `TIME`, never the replica's clock, so replicas whose clocks
  disagree still enforce one limit.
- Keys: `interlink:rl:req:<key_id>`, `interlink:rl:tok:<key_id>` (GCRA arrival times, strings)
  and `interlink:rl:streams:<key_id>` (sorted set of stream leases). Each carries a PX expiry
  equal to how long it holds information, so nothing outlives its usefulness.
- Concurrent streams: each open stream holds a lease (default 60 s) that a heartbeat task renews
  every third of the lease; a crashed replica stops renewing and its slots free themselves.
- Redis unavailable: FAIL OPEN. A request is never refused or delayed because the limiter's
  store is down: the call is let through, one warning is logged per outage, and for
  `retry_interval` seconds Redis is not tried at all (so a dead Redis costs no timeouts on the
  request path). After that the next call tries again; the first success logs the recovery and
  limits are enforced again. Tokens reserved during an outage are charged in full at `settle`
  if Redis is back by then.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from importlib import resources
from typing import cast
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError

from interlink.limits import (
    WINDOW_SECONDS,
    Release,
    Reservation,
    charge_for,
    requests_refused,
    streams_refused,
    tokens_refused,
)

log = logging.getLogger("interlink.limits")

_US = 1_000_000
_SCRIPTS = ("gcra_take", "gcra_adjust", "stream_open", "stream_renew")
_OUTAGE_REMINDER_SECONDS = 300.0
_UNAVAILABLE = object()
"""Returned by `_run` when Redis could not answer: the caller fails open."""


def redacted(url: str) -> str:
    """The URL without its password, for log lines."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class _Script:
    """One Lua script: its source and the SHA Redis knows it by once loaded."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.source = resources.files(__package__).joinpath(f"{name}.lua").read_text(encoding="utf-8")
        self.sha: str | None = None

    async def __call__(self, client: aioredis.Redis, keys: list[str], args: list[int | float | str]) -> object:
        if self.sha is None:
            self.sha = await client.script_load(self.source)
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            # Redis restarted, failed over or ran SCRIPT FLUSH: the cache is empty; load again.
            self.sha = await client.script_load(self.source)
            return await client.evalsha(self.sha, len(keys), *keys, *args)


class RedisLimiter:
    """The `Limiter` backed by Redis. See the module docstring for keys, clock and failure mode.

    `prefix` namespaces every key (tests use a random `interlink:test-…:` prefix); `timeout`
    bounds each Redis round trip so a stalled Redis fails open quickly; `stream_lease` is how
    long a stream slot survives without a heartbeat; `max_stream_seconds` stops the heartbeat of
    a stream whose release was never called, so a leaked Release cannot pin a slot forever.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "interlink:",
        timeout: float = 0.5,
        retry_interval: float = 1.0,
        stream_lease: float = 60.0,
        max_stream_seconds: float = 4 * 3600.0,
    ) -> None:
        self._url = redacted(url)
        self._prefix = prefix
        # One quick retry without backoff replaces a pooled connection that died with a
        # restarted Redis; redis-py's default exponential retries would stall the request path.
        self._client = aioredis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 1),
        )
        self._scripts = {name: _Script(name) for name in _SCRIPTS}
        self._retry_interval = retry_interval
        self._lease = stream_lease
        self._max_stream_seconds = max_stream_seconds
        self._down_until = 0.0
        self._down_since: float | None = None
        self._last_warning = 0.0
        self._heartbeats: set[asyncio.Task[None]] = set()

    # --- Limiter ----------------------------------------------------------------------------

    async def check_request(self, key_id: str, rpm: int | None, *, name: str | None = None) -> None:
        if rpm is None:
            return
        if rpm <= 0:
            raise requests_refused(key_id, name, rpm, None)
        wait = await self._take(self._key("req", key_id), rpm, 1)
        if wait is not None:
            raise requests_refused(key_id, name, rpm, wait)

    async def reserve_tokens(
        self, key_id: str, tpm: int | None, estimate: int, *, name: str | None = None
    ) -> Reservation:
        if tpm is None:
            return Reservation(key_id, None, 0, name)
        if tpm <= 0:
            raise tokens_refused(key_id, name, tpm, estimate, None)
        charge = charge_for(tpm, estimate)
        result = await self._run("gcra_take", self._key("tok", key_id), _interval_us(tpm), _window_us(), charge)
        if result is _UNAVAILABLE:
            return Reservation(key_id, tpm, 0, name)  # nothing charged: settle charges it all
        admitted, wait_us = cast("tuple[int, int]", result)
        if not admitted:
            raise tokens_refused(key_id, name, tpm, estimate, int(wait_us) / _US)
        return Reservation(key_id, tpm, charge, name)

    async def settle(self, reservation: Reservation, actual_tokens: int) -> None:
        if reservation.settled or not reservation.tpm or reservation.tpm <= 0:
            reservation.settled = True
            return
        reservation.settled = True
        delta = max(0, int(actual_tokens)) - reservation.tokens
        if delta:
            key = self._key("tok", reservation.key_id)
            await self._run("gcra_adjust", key, _interval_us(reservation.tpm), delta)

    async def open_stream(self, key_id: str, limit: int | None, *, name: str | None = None) -> Release:
        if limit is None:
            return Release()
        if limit <= 0:
            raise streams_refused(key_id, name, limit)
        key = self._key("streams", key_id)
        member = uuid.uuid4().hex
        result = await self._run("stream_open", key, member, limit, int(self._lease * _US))
        if result is _UNAVAILABLE:
            return Release()  # failing open: no slot was taken, so none to give back
        if not cast("list[int]", result)[0]:
            raise streams_refused(key_id, name, limit)
        heartbeat = asyncio.create_task(self._heartbeat(key, member), name=f"interlink-stream-lease-{member}")
        self._heartbeats.add(heartbeat)
        heartbeat.add_done_callback(self._heartbeats.discard)

        async def release() -> None:
            # Stop renewing first; the renew script ignores a member that is gone, so a renewal
            # already in flight cannot bring the slot back after the ZREM below.
            heartbeat.cancel()
            # Shielded: release usually runs in a `finally` of a request being cancelled (client
            # gone), and an interrupted ZREM would hold the slot until its lease runs out.
            await asyncio.shield(self._call(self._client.zrem(key, member)))

        return Release(release)

    async def open_streams(self, key_id: str) -> int:
        """Live stream leases for the key across all replicas (for tests and diagnostics)."""
        key = self._key("streams", key_id)
        now = await self._call(self._client.time())
        if now is _UNAVAILABLE:
            return 0
        seconds, micros = cast("tuple[int, int]", now)
        now_us = int(seconds) * _US + int(micros)
        count = await self._call(self._client.zcount(key, f"({now_us}", "+inf"))
        return 0 if count is _UNAVAILABLE else int(cast("int", count))

    async def ready(self) -> str | None:
        try:
            async with asyncio.timeout(2.0):
                await self._client.ping()
        except (RedisError, OSError, TimeoutError) as exc:
            return f"redis at {self._url} does not answer: {type(exc).__name__}"
        return None

    async def close(self) -> None:
        """Stop the lease heartbeats and close the connection pool. Unreleased leases expire."""
        for task in list(self._heartbeats):
            task.cancel()
        if self._heartbeats:
            await asyncio.gather(*self._heartbeats, return_exceptions=True)
        await self._client.aclose()

    # --- internals --------------------------------------------------------------------------

    def _key(self, family: str, key_id: str) -> str:
        return f"{self._prefix}rl:{family}:{key_id}"

    async def _take(self, key: str, rate: int, amount: int) -> float | None:
        """GCRA admission; None when admitted (or failing open), else seconds to wait."""
        result = await self._run("gcra_take", key, _interval_us(rate), _window_us(), amount)
        if result is _UNAVAILABLE:
            return None
        admitted, wait_us = cast("tuple[int, int]", result)
        return None if admitted else int(wait_us) / _US

    async def _run(self, script: str, key: str, *args: int | float | str) -> object:
        if self._skipping():
            return _UNAVAILABLE
        try:
            result = await self._scripts[script](self._client, [key], list(args))
        except (RedisError, OSError) as exc:
            self._went_down(exc)
            return _UNAVAILABLE
        self._came_back()
        return result

    async def _call(self, command) -> object:
        """A plain command with the same fail-open handling as the scripts."""
        if self._skipping():
            command.close()  # never awaited: close it so Python does not warn
            return _UNAVAILABLE
        try:
            result = await command
        except (RedisError, OSError) as exc:
            self._went_down(exc)
            return _UNAVAILABLE
        self._came_back()
        return result

    async def _heartbeat(self, key: str, member: str) -> None:
        deadline = time.monotonic() + self._max_stream_seconds
        while time.monotonic() < deadline:
            await asyncio.sleep(self._lease / 3)
            await self._run("stream_renew", key, member, int(self._lease * _US))

    # --- outage bookkeeping (fail open, warn once, recover) ---------------------------------

    def _skipping(self) -> bool:
        return time.monotonic() < self._down_until

    def _went_down(self, exc: BaseException) -> None:
        now = time.monotonic()
        self._down_until = now + self._retry_interval
        if self._down_since is None:
            self._down_since = now
            self._last_warning = now
            log.warning(
                "redis at %s is unavailable (%s: %s): rate limits are NOT enforced (failing open) "
                "until it answers again",
                self._url,
                type(exc).__name__,
                exc,
            )
        elif now - self._last_warning >= _OUTAGE_REMINDER_SECONDS:
            self._last_warning = now
            log.warning(
                "redis at %s still unavailable after %.0f s: rate limits are still not enforced",
                self._url,
                now - self._down_since,
            )

    def _came_back(self) -> None:
        if self._down_since is None:
            return
        log.warning(
            "redis at %s is back after %.0f s: rate limits are enforced again",
            self._url,
            time.monotonic() - self._down_since,
        )
        self._down_since = None
        self._down_until = 0.0

    @property
    def available(self) -> bool:
        """False while an outage is known (for health checks and tests)."""
        return self._down_since is None


def _interval_us(rate: int) -> float:
    return WINDOW_SECONDS * _US / rate


def _window_us() -> int:
    return int(WINDOW_SECONDS * _US)
