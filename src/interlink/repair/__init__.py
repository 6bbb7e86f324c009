"""Making each request valid for the upstream it is about to go to.

`capabilities` knows what each model accepts; `history` repairs the conversation (orphaned tool
calls, trailing assistant turns, empty blocks, tool ids, foreign thinking); `limits` clamps
max_tokens and reconciles thinking; `reasoning_store` brings back thinking a client dropped.
`prepare` runs them for one deployment and says what it did.
"""

from interlink.repair.prepare import Prepared, prepare

__all__ = ["Prepared", "prepare"]
