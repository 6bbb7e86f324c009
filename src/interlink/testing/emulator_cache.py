"""Anthropic's prompt caching, as the emulator applies it to `/v1/messages` requests.

The rules, from Anthropic's prompt-caching documentation:

- The prompt is one sequence of blocks in the order tools → system → messages. A block marked
  `cache_control` is a breakpoint; the top-level `cache_control` marks the last cacheable block.
  At most 4 breakpoints (else 400); thinking blocks and empty text blocks cannot be marked.
- The prefix up to each breakpoint is written to the cache (per model, 5 minutes, or 1 hour with
  `ttl: "1h"`), unless it is shorter than the model's minimum cacheable length, in which case
  caching is skipped silently.
- A later request reads the longest cached prefix it finds at its breakpoints, looking back up
  to 20 block boundaries before each one; a hit refreshes that entry's lifetime.
- usage: `cache_read_input_tokens` = the prefix read, `cache_creation_input_tokens` = what was
  written after it up to the last breakpoint, `input_tokens` = the rest.

Tokens are counted like the rest of the emulator (characters / 4), and the figure includes tool
definitions. Deliberately independent of `interlink.*`, like the rest of the emulator.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_BREAKPOINTS = 4
LOOKBACK_BLOCKS = 20
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}
# Minimum cacheable prompt length in tokens, by model (Anthropic's table); others 1024.
MINIMUM_TOKENS = (
    ("*opus-4-5*", 4096),
    ("*opus-4-6*", 4096),
    ("*haiku-4-5*", 4096),
    ("*sonnet-4-6*", 2048),
    ("*3-5-haiku*", 2048),
    ("*3-haiku*", 2048),
)
DEFAULT_MINIMUM = 1024


class CacheProblem(Exception):
    """A request the real API refuses for its cache markers (400 invalid_request_error)."""


@dataclass
class Segment:
    digest: str  # hash of the whole prefix up to and including this block
    chars: int  # characters counted for this block
    ttl: str | None = None  # set when the block is a breakpoint ("5m" or "1h")


@dataclass
class CacheUsage:
    total_tokens: int
    read_tokens: int = 0
    write_tokens: int = 0
    written_by_ttl: dict[str, int] = field(default_factory=lambda: {"5m": 0, "1h": 0})


def minimum_tokens(model: str) -> int:
    return next((n for pattern, n in MINIMUM_TOKENS if fnmatch.fnmatchcase(model, pattern)), DEFAULT_MINIMUM)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text") or "" for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def _chars(block: dict[str, Any], kind: str) -> int:
    """The characters the emulator's token count sees in one block (as `emulator_script.input_tokens`)."""
    if kind == "tool":
        return (
            len(str(block.get("name") or ""))
            + len(str(block.get("description") or ""))
            + len(json.dumps(block.get("input_schema") or {}, separators=(",", ":"), sort_keys=True))
        )
    kind = block.get("type", "")
    if kind == "text":
        return len(block.get("text") or "")
    if kind == "thinking":
        return len(block.get("thinking") or "")
    if kind == "tool_use":
        return len(json.dumps(block.get("input") or {}, separators=(",", ":"), ensure_ascii=False))
    if kind == "tool_result":
        return len(_text_of(block.get("content")))
    return 0


def _ttl(marker: Any, where: str) -> str:
    if not isinstance(marker, dict) or marker.get("type") != "ephemeral":
        raise CacheProblem(f"{where}.cache_control.type: Input should be 'ephemeral'")
    ttl = marker.get("ttl", "5m")
    if ttl not in TTL_SECONDS:
        raise CacheProblem(f"{where}.cache_control.ttl: Input should be '5m' or '1h'")
    return str(ttl)


def _content(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def segments(body: dict[str, Any]) -> list[Segment]:
    """The prompt's blocks in cache order, each with the hash of the prefix it ends.
    Raises CacheProblem for markers the real API refuses."""
    out: list[Segment] = []
    running = hashlib.sha256(str(body.get("model", "")).encode())

    def add(block: dict[str, Any], kind: str, where: str, marker_allowed: bool = True) -> None:
        marker = block.get("cache_control")
        if marker is not None and not marker_allowed:
            raise CacheProblem(f"{where}.cache_control: Extra inputs are not permitted")
        if marker is not None and block.get("type") == "text" and not block.get("text"):
            raise CacheProblem(f"{where}: cache_control cannot be set for empty text blocks")
        plain = {k: v for k, v in block.items() if k != "cache_control"}
        running.update(f"{where}\0{kind}\0".encode() + json.dumps(plain, sort_keys=True).encode() + b"\0")
        ttl = _ttl(marker, where) if marker is not None else None
        out.append(Segment(running.hexdigest(), _chars(block, kind), ttl))

    for i, tool in enumerate(body.get("tools") or []):
        if isinstance(tool, dict):
            add(tool, "tool", f"tools.{i}")
    for i, block in enumerate(_content(body.get("system"))):
        add(block, "system", f"system.{i}")
    for i, message in enumerate(body.get("messages") or []):
        if not isinstance(message, dict):
            continue
        for j, block in enumerate(_content(message.get("content"))):
            where = f"messages.{i}.content.{j}"
            thinking = block.get("type") in ("thinking", "redacted_thinking")
            add(block, str(message.get("role")), where, marker_allowed=not thinking)
            for k, inner in enumerate(_content(block.get("content")) if block.get("type") == "tool_result" else []):
                if "cache_control" in inner:  # a marked block inside a tool result ends a prefix there
                    out[-1].ttl = _ttl(inner["cache_control"], f"{where}.content.{k}")
    top = body.get("cache_control")
    if top is not None and out:
        out[-1].ttl = out[-1].ttl or _ttl(top, "cache_control")
    found = sum(1 for s in out if s.ttl)
    if found > MAX_BREAKPOINTS:
        raise CacheProblem(f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {found}.")
    return out


class PromptCache:
    """The cache entries of one emulator (all its Anthropic models), with their expiry times."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._entries: dict[str, tuple[float, float]] = {}  # prefix hash → (expires at, lifetime)

    def clear(self) -> None:
        self._entries.clear()

    def apply(self, body: dict[str, Any]) -> CacheUsage:
        """Read and write the cache for one request; raises CacheProblem for invalid markers."""
        segs = segments(body)
        cumulative, total = [], 0
        for seg in segs:
            total += seg.chars
            cumulative.append(total)
        usage = CacheUsage(total_tokens=max(1, total // 4))
        breakpoints = [i for i, s in enumerate(segs) if s.ttl]
        if not breakpoints:
            return usage
        now = self.clock()
        hit = self._longest_hit(segs, breakpoints, now)
        minimum = minimum_tokens(str(body.get("model", "")))
        written = [p for p in breakpoints if cumulative[p] // 4 >= minimum]
        for p in written:
            lifetime = TTL_SECONDS[segs[p].ttl or "5m"]
            self._entries[segs[p].digest] = (now + lifetime, lifetime)
        read_chars = cumulative[hit] if hit is not None else 0
        usage.read_tokens = read_chars // 4
        done = usage.read_tokens
        for p in written:  # the tokens up to each breakpoint are written with that breakpoint's lifetime
            if hit is None or p > hit:
                usage.written_by_ttl[segs[p].ttl or "5m"] += cumulative[p] // 4 - done
                done = cumulative[p] // 4
        usage.write_tokens = done - usage.read_tokens
        return usage

    def _longest_hit(self, segs: list[Segment], breakpoints: list[int], now: float) -> int | None:
        for p in reversed(breakpoints):
            for j in range(p, max(-1, p - LOOKBACK_BLOCKS - 1), -1):
                expires, lifetime = self._entries.get(segs[j].digest, (0.0, 0.0))
                if expires > now:
                    self._entries[segs[j].digest] = (now + lifetime, lifetime)  # a hit refreshes the entry
                    return j
        return None
