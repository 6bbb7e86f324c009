"""What the emulated model "says" and which conversations it rejects, written once for all three APIs.

Each API's request body is first reduced to a neutral `Conversation` (user/assistant messages holding
Anthropic-style blocks: text, tool_use, tool_result, thinking). The deterministic script (`script`) and
the Anthropic validation rules (`problems`) then work on that, and `emulator_wire` renders the resulting
`Answer` in the exact shape of the API that was called.

Deliberately independent of `interlink.*`: the emulator is the judge of the gateway's codecs, so it
must not share their code or their bugs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any

ANTHROPIC = "anthropic"
CHAT = "openai-chat"
RESPONSES = "openai-responses"

THINKING_TEXT = "Let me think about this."
TOOL_ID_PATTERN = re.compile(r"^[a-zA-Z0-9_-]+$")
_MAC_LEN = 32  # sha256 digest size


class InvalidRequest(Exception):
    """A request the emulated API answers with 400 invalid_request_error (message in the API's words)."""


@dataclass
class Message:
    role: str  # "user" | "assistant"
    blocks: list[dict[str, Any]]
    index: int  # position in the API's own list, for error messages


@dataclass
class Tool:
    name: str
    schema: dict[str, Any]


@dataclass
class Conversation:
    api: str
    model: str
    system: str = ""
    messages: list[Message] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    tool_choice_none: bool = False
    thinking: bool = False
    encrypted_reasoning: bool = False  # Responses: include has "reasoning.encrypted_content"


@dataclass
class ToolCall:
    id: str
    name: str
    input: dict[str, Any]

    @property
    def arguments(self) -> str:
        # compact JSON like the real OpenAI APIs send
        return json.dumps(self.input, separators=(",", ":"), ensure_ascii=False)


@dataclass
class Answer:
    text: str
    thinking: str | None = None
    signature: str | None = None  # Anthropic signature or Responses encrypted_content
    tool_call: ToolCall | None = None
    input_tokens: int = 1  # total input, cached included
    cached_tokens: int = 0
    cache_write_tokens: int = 0  # Anthropic prompt-cache mode only
    cache_write_by_ttl: dict[str, int] | None = None  # "5m"/"1h" → tokens; None: all 5m
    output_tokens: int = 1
    reasoning_tokens: int = 0


class Ids:
    """Per-emulator id counter, so ids are deterministic within one emulator instance."""

    def __init__(self) -> None:
        self._next = itertools.count(1)

    def new(self, prefix: str) -> str:
        return f"{prefix}emu{next(self._next):016d}"


class Signer:
    """Issues and checks opaque reasoning tokens, like the real APIs do with their own keys.

    Anthropic signatures bind the thinking text (an edited block must fail, as on the real API);
    Responses `encrypted_content` carries its text so it verifies without the summary being replayed.
    The origin is mixed into the MAC so one API's token never passes as the other's.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, origin: str, text: str) -> bytes:
        return hmac.new(self._key, f"{origin}\0{text}".encode(), hashlib.sha256).digest()

    def signature(self, text: str) -> str:
        return base64.b64encode(self._mac(ANTHROPIC, text)).decode()

    def signature_ok(self, text: str, signature: Any) -> bool:
        return isinstance(signature, str) and hmac.compare_digest(signature, self.signature(text))

    def encrypted_content(self, text: str) -> str:
        return base64.b64encode(self._mac(RESPONSES, text) + text.encode()).decode()

    def encrypted_content_ok(self, token: Any) -> bool:
        try:
            raw = base64.b64decode(token, validate=True)
            mac, text = raw[:_MAC_LEN], raw[_MAC_LEN:].decode()
        except (TypeError, ValueError):
            return False
        return hmac.compare_digest(mac, self._mac(RESPONSES, text))


# ---------------------------------------------------------------------------------------- parsing
def _text_of(content: Any) -> str:
    """Plain text of a string or a list of text-ish parts (any API's part names)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict)]
        return "".join(p for p in parts if isinstance(p, str))
    return ""


def _parse_args(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw) if isinstance(raw, str) and raw else {}
    except ValueError:
        return {"_raw": raw}  # keep the characters for the usage count
    return value if isinstance(value, dict) else {"_raw": raw}


def _append(messages: list[Message], role: str, blocks: list[dict[str, Any]], index: int) -> None:
    # Chat and Responses spread one Anthropic turn over several entries (one per tool result or call):
    # merge consecutive same-role entries, as the real Anthropic API merges consecutive turns.
    if messages and messages[-1].role == role:
        messages[-1].blocks.extend(blocks)
    else:
        messages.append(Message(role, list(blocks), index))


def from_anthropic(body: dict[str, Any]) -> Conversation:
    if "max_tokens" not in body:
        raise InvalidRequest("max_tokens: Field required")
    raw = body.get("messages")
    if not isinstance(raw, list):
        raise InvalidRequest("messages: Field required" if raw is None else "messages: Input should be a valid list")
    conv = Conversation(ANTHROPIC, str(body.get("model", "")), system=_text_of(body.get("system")))
    for i, m in enumerate(raw):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
            raise InvalidRequest(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        content = m.get("content")
        if isinstance(content, str):
            blocks = [{"type": "text", "text": content}] if content else []
        elif isinstance(content, list):
            blocks = [b for b in content if isinstance(b, dict)]
        else:
            raise InvalidRequest(f"messages.{i}.content: Input should be a valid list")
        conv.messages.append(Message(m["role"], blocks, i))
    for t in body.get("tools") or []:
        if isinstance(t, dict) and t.get("type") in (None, "custom") and isinstance(t.get("name"), str):
            conv.tools.append(Tool(t["name"], t.get("input_schema") or {}))
    choice = body.get("tool_choice")
    conv.tool_choice_none = isinstance(choice, dict) and choice.get("type") == "none"
    thinking = body.get("thinking")
    conv.thinking = isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")
    return conv


def _chat_message(conv: Conversation, m: dict[str, Any], i: int) -> None:
    role = m.get("role")
    if role in ("system", "developer"):
        conv.system += _text_of(m.get("content"))
    elif role == "user":
        _append(conv.messages, "user", [{"type": "text", "text": _text_of(m.get("content"))}], i)
    elif role == "tool":
        block = {"type": "tool_result", "tool_use_id": m.get("tool_call_id"), "content": _text_of(m.get("content"))}
        _append(conv.messages, "user", [block], i)
    elif role == "assistant":
        blocks: list[dict[str, Any]] = []
        reasoning = m.get("reasoning_content") or m.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            blocks.append({"type": "thinking", "thinking": reasoning, "signature": None})
        text = _text_of(m.get("content"))
        if text:  # assistant content "" or null next to tool_calls is normal in Chat
            blocks.append({"type": "text", "text": text})
        for call in m.get("tool_calls") or []:
            if not isinstance(call, dict):
                raise InvalidRequest(f"Invalid type for 'messages[{i}].tool_calls': expected an object.")
            fn = call.get("function")
            fn = fn if isinstance(fn, dict) else {}
            blocks.append(
                {
                    "type": "tool_use",
                    "id": call.get("id"),
                    "name": fn.get("name"),
                    "input": _parse_args(fn.get("arguments")),
                }
            )
        _append(conv.messages, "assistant", blocks, i)
    else:
        raise InvalidRequest(
            f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', "
            "'user', 'tool', 'function', and 'developer'."
        )


def from_chat(body: dict[str, Any]) -> Conversation:
    raw = body.get("messages")
    if not isinstance(raw, list):
        raise InvalidRequest("Missing required parameter: 'messages'.")
    conv = Conversation(CHAT, str(body.get("model", "")))
    for i, m in enumerate(raw):
        if not isinstance(m, dict):
            raise InvalidRequest(f"Invalid type for 'messages[{i}]': expected an object.")
        _chat_message(conv, m, i)
    for t in body.get("tools") or []:
        fn = t.get("function") if isinstance(t, dict) and t.get("type") == "function" else None
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            conv.tools.append(Tool(fn["name"], fn.get("parameters") or {}))
    conv.tool_choice_none = body.get("tool_choice") == "none"
    conv.thinking = body.get("reasoning_effort") not in (None, "none")
    return conv


def _responses_item(conv: Conversation, item: dict[str, Any], i: int) -> None:
    kind = item.get("type", "message")
    if kind == "message":
        role = item.get("role")
        if role in ("system", "developer"):
            conv.system += _text_of(item.get("content"))
        elif role in ("user", "assistant"):
            text = _text_of(item.get("content"))
            if role == "user" or text:
                _append(conv.messages, role, [{"type": "text", "text": text}], i)
    elif kind == "function_call":
        block = {
            "type": "tool_use",
            "id": item.get("call_id"),
            "name": item.get("name"),
            "input": _parse_args(item.get("arguments")),
        }
        _append(conv.messages, "assistant", [block], i)
    elif kind == "function_call_output":
        block = {"type": "tool_result", "tool_use_id": item.get("call_id"), "content": _text_of(item.get("output"))}
        _append(conv.messages, "user", [block], i)
    elif kind == "reasoning":
        summary = "\n\n".join(_text_of([s]) for s in item.get("summary") or [] if isinstance(s, dict))
        block = {"type": "thinking", "thinking": summary, "encrypted_content": item.get("encrypted_content")}
        _append(conv.messages, "assistant", [block], i)
    # item_reference and hosted-tool items carry nothing the script needs


def from_responses(body: dict[str, Any]) -> Conversation:
    conv = Conversation(RESPONSES, str(body.get("model", "")), system=_text_of(body.get("instructions")))
    raw = body.get("input")
    if isinstance(raw, str):
        conv.messages.append(Message("user", [{"type": "text", "text": raw}], 0))
    elif isinstance(raw, list):
        for i, item in enumerate(raw):
            if not isinstance(item, dict):
                raise InvalidRequest(f"Invalid type for 'input[{i}]': expected an object.")
            _responses_item(conv, item, i)
    elif raw is not None:
        raise InvalidRequest("Invalid type for 'input': expected a string or an array of input items.")
    for t in body.get("tools") or []:
        if isinstance(t, dict) and t.get("type") == "function" and isinstance(t.get("name"), str):
            conv.tools.append(Tool(t["name"], t.get("parameters") or {}))
    conv.tool_choice_none = body.get("tool_choice") == "none"
    reasoning = body.get("reasoning")
    conv.thinking = isinstance(reasoning, dict) and reasoning.get("effort") != "none"
    conv.encrypted_reasoning = "reasoning.encrypted_content" in (body.get("include") or [])
    return conv


PARSERS = {ANTHROPIC: from_anthropic, CHAT: from_chat, RESPONSES: from_responses}


# ------------------------------------------------------------------------------------ the script
def _block_chars(block: dict[str, Any]) -> int:
    kind = block.get("type")
    if kind == "text":
        return len(block.get("text") or "")
    if kind == "thinking":
        return len(block.get("thinking") or "")
    if kind == "tool_use":
        return len(json.dumps(block.get("input") or {}, separators=(",", ":"), ensure_ascii=False))
    if kind == "tool_result":
        return len(_text_of(block.get("content")))
    return 0


def input_tokens(conv: Conversation) -> int:
    """Characters of system + message text, thinking, tool arguments and tool results, / 4 (at least 1).

    Counting text rather than JSON keeps the figure identical whichever API carried the conversation.
    """
    chars = len(conv.system) + sum(_block_chars(b) for m in conv.messages for b in m.blocks)
    return max(1, chars // 4)


def _value_for(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return "echo hello"
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):  # e.g. ["string", "null"]
        kind = next((k for k in kind if k != "null"), "string")
    samples: dict[Any, Any] = {"number": 1, "integer": 1, "boolean": True, "array": [], "object": {}, "null": None}
    return samples.get(kind, "echo hello")


def arguments_for(schema: dict[str, Any]) -> dict[str, Any]:
    """Required properties only, or the first property when none is required."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(props, dict) or not props:
        return {}
    required = [r for r in schema.get("required") or [] if r in props]
    names = required or [next(iter(props))]
    return {n: _value_for(props[n]) for n in names}


def _last_user(conv: Conversation) -> Message | None:
    return next((m for m in reversed(conv.messages) if m.role == "user"), None)


def _reply(conv: Conversation, ids: Ids) -> tuple[str, ToolCall | None]:
    has_result = any(b.get("type") == "tool_result" for m in conv.messages for b in m.blocks)
    if conv.tools and not has_result and not conv.tool_choice_none:
        tool = conv.tools[0]
        prefix = "toolu_" if conv.api == ANTHROPIC else "call_"
        return f"I'll call {tool.name}.", ToolCall(ids.new(prefix), tool.name, arguments_for(tool.schema))
    last = _last_user(conv)
    blocks = last.blocks if last else []
    results = [b for b in blocks if b.get("type") == "tool_result"]
    if results:
        return f"Tool result received: {_text_of(results[0].get('content'))[:60]}", None
    said = " ".join(b.get("text") or "" for b in blocks if b.get("type") == "text")
    text = f"Hello from the emulator ({conv.api}): you said: {said[:60]}"
    return _continue_prefill(conv, text), None


def _continue_prefill(conv: Conversation, text: str) -> str:
    """A conversation ending in assistant text is a prefill: like the real API, continue it
    instead of starting over (what a gateway resuming a broken stream relies on)."""
    if not conv.messages or conv.messages[-1].role != "assistant":
        return text
    prefill = "".join(b.get("text") or "" for b in conv.messages[-1].blocks if b.get("type") == "text")
    return text[len(prefill) :] if prefill and text.startswith(prefill) else text


def script(conv: Conversation, ids: Ids, signer: Signer, cached: int = 0) -> Answer:
    """The deterministic answer to a conversation (see the module docstring of `emulator`)."""
    text, call = _reply(conv, ids)
    answer = Answer(text=text, tool_call=call)
    if conv.thinking:
        answer.thinking = THINKING_TEXT
        if conv.api == ANTHROPIC:
            answer.signature = signer.signature(THINKING_TEXT)
        elif conv.api == RESPONSES and conv.encrypted_reasoning:
            answer.signature = signer.encrypted_content(THINKING_TEXT)
        answer.reasoning_tokens = max(1, len(THINKING_TEXT) // 4)
    out_chars = len(text) + len(answer.thinking or "") + (len(call.arguments) if call else 0)
    answer.output_tokens = max(1, out_chars // 4)
    answer.input_tokens = input_tokens(conv)
    answer.cached_tokens = max(0, min(cached, answer.input_tokens - 1))
    return answer


# -------------------------------------------------------------------------------- validation
def _tool_ids_problem(conv: Conversation) -> str | None:
    for m in conv.messages:
        for j, b in enumerate(m.blocks):
            key = {"tool_use": "id", "tool_result": "tool_use_id"}.get(b.get("type", ""))
            if key and not (isinstance(b.get(key), str) and TOOL_ID_PATTERN.match(b[key])):
                return (
                    f"messages.{m.index}.content.{j}.{b['type']}.{key}: String should match pattern '^[a-zA-Z0-9_-]+$'"
                )
    return None


def _content_problem(conv: Conversation) -> str | None:
    for k, m in enumerate(conv.messages):
        if not m.blocks and not (k == len(conv.messages) - 1 and m.role == "assistant"):
            return (
                f"messages.{m.index}: all messages must have non-empty content except for "
                "the optional final assistant message"
            )
        if any(b.get("type") == "text" and not b.get("text") for b in m.blocks):
            return "messages: text content blocks must be non-empty"
    return None


def _pairing_problem(conv: Conversation) -> str | None:
    previous_ids: list[str] = []
    for k, m in enumerate(conv.messages):
        if m.role == "user":
            for j, b in enumerate(m.blocks):
                if b.get("type") == "tool_result" and b.get("tool_use_id") not in previous_ids:
                    return (
                        f"messages.{m.index}.content.{j}: unexpected `tool_use_id` found in `tool_result` "
                        f"blocks: {b.get('tool_use_id')}. Each `tool_result` block must have a "
                        "corresponding `tool_use` block in the previous message."
                    )
            previous_ids = []
            continue
        previous_ids = [str(b.get("id")) for b in m.blocks if b.get("type") == "tool_use"]
        if not previous_ids:
            continue
        nxt = conv.messages[k + 1] if k + 1 < len(conv.messages) else None
        leading: set[Any] = set()
        for b in nxt.blocks if nxt and nxt.role == "user" else []:
            if b.get("type") != "tool_result":
                break  # tool results must come first in that message
            leading.add(b.get("tool_use_id"))
        missing = [i for i in previous_ids if i not in leading]
        if missing:
            return (
                f"messages.{m.index}: `tool_use` ids were found without `tool_result` blocks immediately "
                f"after: {', '.join(map(str, missing))}. Each `tool_use` block must have a corresponding "
                "`tool_result` block in the next message."
            )
    return None


def _signature_problem(conv: Conversation, signer: Signer) -> str | None:
    for m in conv.messages:
        for j, b in enumerate(m.blocks):
            if b.get("type") != "thinking":
                continue
            if conv.api == ANTHROPIC:
                bad = not signer.signature_ok(b.get("thinking") or "", b.get("signature"))
            else:  # Responses: only replayed encrypted_content is checked; Chat has no token at all
                token = b.get("encrypted_content")
                bad = token is not None and not signer.encrypted_content_ok(token)
            if bad:
                return f"messages.{m.index}.content.{j}: Invalid `signature` in `thinking` block"
    return None


def problems(conv: Conversation, signer: Signer, strict: bool) -> str | None:
    """The first reason the real Anthropic API would reject this conversation, or None.

    Structural rules always apply; the prefill and signature rules only in strict mode, because a
    gateway under test may legitimately talk to a lenient Anthropic-compatible upstream.
    """
    found = _content_problem(conv) or _tool_ids_problem(conv) or _pairing_problem(conv)
    if found or not strict:
        return found
    if not conv.messages or conv.messages[-1].role != "user":
        return "This model does not support assistant message prefill. The conversation must end with a user message."
    return _signature_problem(conv, signer)
