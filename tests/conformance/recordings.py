"""Loading the recorded real streams in ../shared/fixtures as raw SSE bytes, per upstream API.

Formats (see shared/fixtures/PROVENANCE.md): `*.sse` raw bodies; `*.chunks.jsonl` one data JSON a
line (re-framed here with `event: <type>` for the APIs that name events); pydantic-ai cassette
folders with `<name>.<n>.response.sse` files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

# fixture folder → upstream API that produced it
FOLDERS = {
    "anthropic": "anthropic",
    "openai-chat": "openai-chat",
    "openai-compatible": "openai-chat",
    "openai-responses": "openai-responses",
}


@dataclass(frozen=True)
class Recording:
    api: str
    path: Path

    @property
    def name(self) -> str:
        return f"{self.path.parent.name}/{self.path.name}"

    def body(self) -> bytes:
        if self.path.name.endswith(".chunks.jsonl"):
            return frame_jsonl(self.path.read_text(), named_events=self.api != "openai-chat")
        return self.path.read_bytes()


def frame_jsonl(text: str, *, named_events: bool) -> bytes:
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        data = json.loads(line)
        if named_events and isinstance(data, dict) and "type" in data:
            out.append(f"event: {data['type']}\ndata: {line}\n\n")
        else:
            out.append(f"data: {line}\n\n")
    if not named_events:
        out.append("data: [DONE]\n\n")
    return "".join(out).encode()


def recordings(fixtures: Path) -> list[Recording]:
    found: list[Recording] = []
    for folder, api in FOLDERS.items():
        root = fixtures / folder
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if path.name.endswith((".chunks.jsonl", ".response.sse")) or (
                path.suffix == ".sse" and path.parent == root
            ):
                found.append(Recording(api, path))
    return found
