"""The reasoning store across replicas: two real `interlink serve` on one Postgres and one Redis, a
Chat client's thinking tool loop against an Anthropic upstream that verifies signatures and
refuses a tool loop replayed without its thinking (the emulator's strict mode). Turn one lands on
replica 0, turn two on replica 1: replica 1 finds the thinking replica 0 kept, in Redis. The same
turn under another key is not given it (entries are scoped by key and conversation)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import openai
import pytest
import redis

from interlink.auth.keys import KeyStore
from interlink.store import Database
from tests.contract.conftest import free_port, gateway_env, start_emulator, start_gateway, stop, write_config
from tests.replicas.test_replicas import REDIS_URL, require_redis
from tests.service.conftest import create_pg_database, drop_pg_database

BASH = {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}
TOOLS = [{"type": "function", "function": {"name": "bash", "parameters": BASH}}]


@dataclass
class Pair:
    urls: list[str]
    emulator: str
    keys: dict[str, str]

    def client(self, replica: int, key: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.urls[replica]}/v1", api_key=self.keys[key], max_retries=0)


async def _keys(db_url: str) -> dict[str, str]:
    db = Database(db_url)
    await db.start()
    try:
        return {name: (await KeyStore(db).create(name))[1] for name in ("alice", "bob")}
    finally:
        await db.close()


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    require_redis()
    redis.Redis.from_url(REDIS_URL).delete("interlink:rs:index")
    db_url = create_pg_database()
    root = tmp_path_factory.mktemp("reasoning-replicas")
    emu_port = free_port()
    emulator = start_emulator(emu_port)
    emu = f"http://127.0.0.1:{emu_port}"
    write_config(
        root / "interlink.yaml",
        emu,
        providers=f'  emu-strict: {{kind: anthropic, base_url: "{emu}", headers: {{x-emu-strict: anthropic}}}}',
        models="  strict-claude: {provider: emu-strict, model: claude-emu}",
    )
    keys = asyncio.run(_keys(db_url))
    env = gateway_env(root / "data", INTERLINK_DATABASE_URL=db_url, INTERLINK_REDIS_URL=REDIS_URL)
    procs = []
    try:
        for i in range(2):
            procs.append(start_gateway(root / "interlink.yaml", free_port(), root / f"gateway{i}.log", env=env))
        urls = [f"http://127.0.0.1:{p.args[p.args.index('--port') + 1]}" for p in procs]
        yield Pair(urls, emu, keys)
    finally:
        for proc in procs:
            stop(proc)
        stop(emulator)
        drop_pg_database(db_url)


def _first_turn(pair: Pair) -> list[dict]:
    """Turn one on replica 0, kept the way a plain OpenAI client keeps it: no thinking blocks."""
    messages: list[dict] = [{"role": "user", "content": "list the files, then count them"}]
    done = pair.client(0, "alice").chat.completions.create(
        model="strict-claude", messages=messages, tools=TOOLS, reasoning_effort="high"
    )
    message = done.choices[0].message
    assert message.tool_calls and (message.model_extra or {}).get("thinking_blocks")
    call = message.tool_calls[0]
    return [
        *messages,
        {
            "role": "assistant",
            "content": message.content,
            "tool_calls": [{"id": call.id, "type": "function", "function": call.function.model_dump()}],
        },
        {"role": "tool", "tool_call_id": call.id, "content": "a.txt b.txt"},
    ]


def test_the_next_turn_on_another_replica_gets_its_thinking_back(pair: Pair) -> None:
    messages = _first_turn(pair)
    raw = pair.client(1, "alice").chat.completions.with_raw_response.create(
        model="strict-claude", messages=messages, tools=TOOLS, reasoning_effort="high"
    )
    assert "Tool result received: a.txt b.txt" in raw.parse().choices[0].message.content
    assert "reasoning_restored=1" in raw.headers["interlink-repairs"]
    sent = httpx.get(f"{pair.emulator}/_emu/requests").json()[-1]["body"]["messages"][1]["content"]
    assert sent[0]["type"] == "thinking" and sent[0]["signature"]  # verified by the strict upstream


def test_another_key_replaying_the_same_turn_gets_nothing(pair: Pair) -> None:
    messages = _first_turn(pair)
    raw = pair.client(1, "bob").chat.completions.with_raw_response.create(
        model="strict-claude", messages=messages, tools=TOOLS, reasoning_effort="high"
    )
    # Without the thinking the strict upstream refuses the tool loop, or the gateway drops thinking
    # for the turn; either way alice's signed thinking never went upstream under bob's key.
    assert "reasoning_restored" not in raw.headers.get("interlink-repairs", "")
    sent = httpx.get(f"{pair.emulator}/_emu/requests").json()[-1]["body"]["messages"][1]["content"]
    assert all(block.get("type") != "thinking" for block in sent)
