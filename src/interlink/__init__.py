"""Interlink: one gateway for Anthropic Messages, OpenAI Chat Completions and OpenAI Responses.

The package is laid out hub-and-spoke around `interlink.core`, the neutral internal model:
client protocols (`interlink.protocols.<api>`) and upstream providers (`interlink.providers.<api>`)
are each written once against it.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
