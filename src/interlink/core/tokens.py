"""A cheap token estimate for a request, for count_tokens and budgeting before a call.

Four characters a token and a flat cost per image: no tokenizer matches every upstream, and
clients use the figure to budget context, not to bill.
"""

from __future__ import annotations

import orjson

from interlink.core.content import (
    Block,
    ImageBlock,
    RawBlock,
    ReasoningBlock,
    TextBlock,
    ToolCallBlock,
    ToolResultBlock,
)
from interlink.core.request import ChatRequest

IMAGE_TOKENS = 1500


def _block_chars(block: Block) -> int:
    match block:
        case TextBlock(text=text) | ReasoningBlock(text=text):
            return len(text)
        case ToolCallBlock():
            return len(block.name) + len(block.arguments)
        case ToolResultBlock():
            return sum(_block_chars(b) for b in block.content)
        case ImageBlock():
            return IMAGE_TOKENS * 4
        case RawBlock():
            return len(orjson.dumps(block.data))
    return 0


def estimate_input_tokens(request: ChatRequest) -> int:
    chars = sum(len(b.text) for b in request.system)
    chars += sum(_block_chars(b) for m in request.messages for b in m.content)
    for tool in request.tools:
        chars += len(tool.name) + len(tool.description or "") + len(orjson.dumps(tool.parameters))
    return max(1, chars // 4)
