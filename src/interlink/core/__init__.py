"""The neutral internal model every protocol and provider is written against.

`core` imports nothing else of the package. Its public names are re-exported here.
"""

from interlink.core.content import (
    Block,
    CacheControl,
    ImageBlock,
    Opaque,
    RawBlock,
    ReasoningBlock,
    TextBlock,
    ToolCallBlock,
    ToolResultBlock,
)
from interlink.core.errors import ErrorKind, GatewayError, quoted
from interlink.core.events import (
    BlockDelta,
    BlockStart,
    BlockStop,
    Event,
    ReasoningDelta,
    ResponseDelta,
    ResponseStart,
    ResponseStop,
    SignatureDelta,
    StreamError,
    TextDelta,
    ToolArgsDelta,
)
from interlink.core.request import (
    ChatRequest,
    Message,
    Passthrough,
    ReasoningConfig,
    ResponseFormat,
    ToolChoice,
    ToolSpec,
)
from interlink.core.response import ChatResponse, StopReason, Usage

__all__ = [
    "Block",
    "BlockDelta",
    "BlockStart",
    "BlockStop",
    "CacheControl",
    "ChatRequest",
    "ChatResponse",
    "ErrorKind",
    "Event",
    "GatewayError",
    "ImageBlock",
    "Message",
    "Opaque",
    "Passthrough",
    "RawBlock",
    "ReasoningBlock",
    "ReasoningConfig",
    "ReasoningDelta",
    "ResponseDelta",
    "ResponseFormat",
    "ResponseStart",
    "ResponseStop",
    "SignatureDelta",
    "StopReason",
    "StreamError",
    "TextBlock",
    "TextDelta",
    "ToolArgsDelta",
    "ToolCallBlock",
    "ToolChoice",
    "ToolResultBlock",
    "ToolSpec",
    "Usage",
    "quoted",
]
