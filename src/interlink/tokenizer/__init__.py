"""OpenAI's real tokenizer (tiktoken) for `count_tokens` on OpenAI models, with no network.

tiktoken downloads an encoding's BPE ranks from OpenAI's blob storage the first time it is used
(`tiktoken.get_encoding("o200k_base")` fails on a machine without internet), and no package on
PyPI ships `o200k_base` in a form tiktoken reads. So the two encodings OpenAI's chat models use
are vendored in `bpe/`, gzip-compressed (2.4 MB): `o200k_base` (GPT-4o, GPT-4.1, GPT-5, o1/o3/o4)
and `cl100k_base` (GPT-4, GPT-3.5). They are the files tiktoken itself downloads, checked at
load against the sha256 tiktoken pins for them, and given to `tiktoken.Encoding` with the split
pattern and special tokens of tiktoken's own definitions (`tiktoken_ext.openai_public`): the same
encoder, byte for byte (tests/test_tokenizer.py compares the two).

Counting a request follows OpenAI's published accounting for chat messages (every message costs
its content plus 3 tokens, the reply is primed with 3); tool definitions are counted as their
JSON, images at a flat 765 tokens (a 1024×1024 image at high detail). Which models map to which
encoding is tiktoken's own table; a model it does not know gets None (the caller estimates).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from interlink.core import (
    ChatRequest,
    ImageBlock,
    RawBlock,
    ReasoningBlock,
    TextBlock,
    ToolCallBlock,
    ToolResultBlock,
)
from interlink.core.content import Block

if TYPE_CHECKING:  # tiktoken is imported when first used: it is not needed to start serving
    import tiktoken

DATA = Path(__file__).resolve().parent / "bpe"
TOKENS_PER_MESSAGE = 3
REPLY_PRIMING = 3
IMAGE_TOKENS = 765

_O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
_CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|"""
    r"""\s+(?!\S)|\s"""
)
# name → (split pattern, special tokens, sha256 of the uncompressed file as tiktoken pins it)
ENCODINGS: dict[str, tuple[str, dict[str, int], str]] = {
    "o200k_base": (
        _O200K_PATTERN,
        {"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "cl100k_base": (
        _CL100K_PATTERN,
        {
            "<|endoftext|>": 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            "<|endofprompt|>": 100276,
        },
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}


class VendoredDataError(RuntimeError):
    """A vendored encoding file is missing or not the one tiktoken pins (a broken install)."""


def encoding_name(model: str) -> str | None:
    """The vendored encoding tiktoken assigns to `model`, or None."""
    from tiktoken.model import encoding_name_for_model

    try:
        name = encoding_name_for_model(model)
    except KeyError:
        return None
    return name if name in ENCODINGS else None


@cache
def get_encoding(name: str) -> tiktoken.Encoding:
    """A vendored encoding, loaded once per process (o200k_base: about a second of CPU)."""
    import tiktoken

    pattern, special, expected = ENCODINGS[name]
    path = DATA / f"{name}.tiktoken.gz"
    try:
        raw = gzip.decompress(path.read_bytes())
    except OSError as exc:
        raise VendoredDataError(f"cannot read {path}: {exc}") from None
    if hashlib.sha256(raw).hexdigest() != expected:
        raise VendoredDataError(f"{path} is not tiktoken's {name} (sha256 mismatch)")
    ranks = {base64.b64decode(token): int(rank) for token, rank in (line.split() for line in raw.splitlines() if line)}
    return tiktoken.Encoding(name=name, pat_str=pattern, mergeable_ranks=ranks, special_tokens=special)


def count_request(request: ChatRequest, encoding: tiktoken.Encoding) -> int:
    """Input tokens of `request` under `encoding` (module docstring for the accounting)."""

    def size(text: str) -> int:
        return len(encoding.encode_ordinary(text)) if text else 0

    total = REPLY_PRIMING
    if request.system:
        total += TOKENS_PER_MESSAGE + size("system") + size("\n".join(b.text for b in request.system))
    for message in request.messages:
        total += TOKENS_PER_MESSAGE + size(message.role) + sum(_block_tokens(b, size) for b in message.content)
    for tool in request.tools:
        definition = tool.raw or {"name": tool.name, "description": tool.description, "parameters": tool.parameters}
        total += size(orjson.dumps(definition).decode())
    return total


def _block_tokens(block: Block, size: Callable[[str], int]) -> int:
    match block:
        case TextBlock(text=text) | ReasoningBlock(text=text):
            return size(text)
        case ToolCallBlock():
            return size(block.name) + size(block.arguments) + TOKENS_PER_MESSAGE
        case ToolResultBlock():
            return TOKENS_PER_MESSAGE + sum(_block_tokens(b, size) for b in block.content)
        case ImageBlock():
            return IMAGE_TOKENS
        case RawBlock():
            return size(orjson.dumps(block.data).decode())
    return 0
