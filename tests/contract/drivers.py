"""One driver per client API, each using that API's official SDK the way real clients do.

Every driver offers the same three conversations (plain text, a tool round trip, thinking), so
the contract tests run the same assertions over every client API × upstream API pair.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import anthropic
import openai

BASH_SCHEMA = {
    "type": "object",
    "properties": {"command": {"type": "string", "description": "The command to run"}},
    "required": ["command"],
    "additionalProperties": False,
}
TOOL_OUTPUT = "file1.txt file2.txt"


@dataclass
class Turn:
    text: str
    reasoning: str = ""
    tool_calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    """(id, name, arguments)."""
    stop: str = ""
    usage: tuple[int, int] = (0, 0)
    """(input incl. cache, output) as the client API reports them."""


class AnthropicDriver:
    api = "anthropic"

    def __init__(self, base_url: str) -> None:
        self.client = anthropic.Anthropic(base_url=base_url, api_key="sk-test", max_retries=0)

    def send(
        self, model: str, messages: list[dict], *, stream: bool, tools: bool = False, thinking: bool = False
    ) -> tuple[Turn, Any]:
        kwargs: dict[str, Any] = {"model": model, "max_tokens": 2048, "messages": messages}
        if tools:
            kwargs["tools"] = [{"name": "bash", "description": "Run a shell command", "input_schema": BASH_SCHEMA}]
        if thinking:
            kwargs["thinking"] = {"type": "enabled", "budget_tokens": 1024}
        if stream:
            with self.client.messages.stream(**kwargs) as s:
                message = s.get_final_message()
        else:
            message = self.client.messages.create(**kwargs)
        turn = Turn(
            text="".join(b.text for b in message.content if b.type == "text"),
            reasoning="".join(b.thinking for b in message.content if b.type == "thinking"),
            tool_calls=[(b.id, b.name, b.input) for b in message.content if b.type == "tool_use"],
            stop=message.stop_reason or "",
            usage=(
                message.usage.input_tokens + (message.usage.cache_read_input_tokens or 0),
                message.usage.output_tokens,
            ),
        )
        return turn, message

    def user(self, text: str) -> list[dict]:
        return [{"role": "user", "content": text}]

    def follow_up(self, messages: list[dict], reply: Any, turn: Turn) -> list[dict]:
        assistant = {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in reply.content]}
        results = [{"type": "tool_result", "tool_use_id": cid, "content": TOOL_OUTPUT} for cid, _, _ in turn.tool_calls]
        return [*messages, assistant, {"role": "user", "content": results}]


class ChatDriver:
    api = "openai-chat"

    def __init__(self, base_url: str) -> None:
        self.client = openai.OpenAI(base_url=base_url + "/v1", api_key="sk-test", max_retries=0)

    def send(
        self, model: str, messages: list[dict], *, stream: bool, tools: bool = False, thinking: bool = False
    ) -> tuple[Turn, Any]:
        kwargs: dict[str, Any] = {"model": model, "messages": messages}
        if tools:
            kwargs["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": "bash",
                        "description": "Run a shell command",
                        "parameters": BASH_SCHEMA,
                        "strict": True,
                    },
                }
            ]
        if thinking:
            kwargs["reasoning_effort"] = "low"
        if stream:
            with self.client.chat.completions.stream(**kwargs, stream_options={"include_usage": True}) as s:
                completion = s.get_final_completion()
        else:
            completion = self.client.chat.completions.create(**kwargs)
        choice = completion.choices[0]
        message = choice.message
        extra = message.model_extra or {}
        calls = [(c.id, c.function.name, _json(c.function.arguments)) for c in message.tool_calls or []]
        usage = completion.usage
        turn = Turn(
            text=message.content or "",
            reasoning=extra.get("reasoning_content") or "",
            tool_calls=calls,
            stop=choice.finish_reason,
            usage=(usage.prompt_tokens, usage.completion_tokens) if usage else (0, 0),
        )
        return turn, message

    def user(self, text: str) -> list[dict]:
        return [{"role": "user", "content": text}]

    def follow_up(self, messages: list[dict], reply: Any, turn: Turn) -> list[dict]:
        assistant: dict[str, Any] = {
            "role": "assistant",
            "content": reply.content,
            "tool_calls": [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.function.name, "arguments": c.function.arguments},
                }
                for c in reply.tool_calls or []
            ],
        }
        reasoning = (reply.model_extra or {}).get("reasoning_content")
        if reasoning:
            assistant["reasoning_content"] = reasoning
        results = [{"role": "tool", "tool_call_id": cid, "content": TOOL_OUTPUT} for cid, _, _ in turn.tool_calls]
        return [*messages, assistant, *results]


class ResponsesDriver:
    api = "openai-responses"

    def __init__(self, base_url: str) -> None:
        self.client = openai.OpenAI(base_url=base_url + "/v1", api_key="sk-test", max_retries=0)

    def send(
        self, model: str, messages: list[dict], *, stream: bool, tools: bool = False, thinking: bool = False
    ) -> tuple[Turn, Any]:
        kwargs: dict[str, Any] = {"model": model, "input": messages, "store": False}
        if tools:
            kwargs["tools"] = [
                {
                    "type": "function",
                    "name": "bash",
                    "description": "Run a shell command",
                    "parameters": BASH_SCHEMA,
                    "strict": False,
                }
            ]
        if thinking:
            kwargs["reasoning"] = {"effort": "low", "summary": "auto"}
            kwargs["include"] = ["reasoning.encrypted_content"]
        if stream:
            with self.client.responses.stream(**kwargs) as s:
                response = s.get_final_response()
        else:
            response = self.client.responses.create(**kwargs)
        reasoning = "".join(s.text for o in response.output if o.type == "reasoning" for s in o.summary)
        calls = [(o.call_id, o.name, _json(o.arguments)) for o in response.output if o.type == "function_call"]
        usage = response.usage
        turn = Turn(
            text=response.output_text,
            reasoning=reasoning,
            tool_calls=calls,
            stop=response.status or "",
            usage=(usage.input_tokens, usage.output_tokens) if usage else (0, 0),
        )
        return turn, response

    def user(self, text: str) -> list[dict]:
        return [{"role": "user", "content": text}]

    def follow_up(self, messages: list[dict], reply: Any, turn: Turn) -> list[dict]:
        items = [o.model_dump(exclude_none=True) for o in reply.output]
        results = [
            {"type": "function_call_output", "call_id": cid, "output": TOOL_OUTPUT} for cid, _, _ in turn.tool_calls
        ]
        return [*messages, *items, *results]


def _json(text: str) -> dict[str, Any]:
    import json

    return json.loads(text) if text else {}


DRIVERS = {"anthropic": AnthropicDriver, "openai-chat": ChatDriver, "openai-responses": ResponsesDriver}
