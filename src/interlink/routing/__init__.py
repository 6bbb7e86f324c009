"""Routing: which upstream serves a model (`catalog`), how a request reaches it (`transport`),
and the attempt/retry/failover loop around it (`dispatch`, `retry`)."""
