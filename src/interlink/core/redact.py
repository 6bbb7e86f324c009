"""Keeping secrets out of text the gateway did not write.

Some upstreams quote the credential they were sent in their error text ("invalid api key
sk-…"). Everything derived from an upstream — error messages in responses and stream error
events, log lines, `doctor` output — goes through a `Redactor` that knows every configured
secret, before any truncation (a cut secret is still a secret): a secret, or any run of at least
`MIN_PREFIX` characters from its start, becomes `[redacted]`.
"""

from __future__ import annotations

from collections.abc import Iterable

REDACTED = "[redacted]"
MIN_PREFIX = 8
"""Shorter runs are too common to be a secret's start (and say too little about it)."""
MIN_SECRET = 8


class Redactor:
    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        unique = {s for s in secrets if s and len(s) >= MIN_SECRET}
        # Longest first, so a secret that starts with another is replaced whole.
        self.secrets = sorted(unique, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def scrub(self, text: str) -> str:
        if not self.secrets or not text:
            return text
        for secret in self.secrets:
            head = secret[:MIN_PREFIX]
            start = text.find(head)
            while start != -1:
                end = start + MIN_PREFIX
                limit = min(len(text), start + len(secret))
                while end < limit and text[end] == secret[end - start]:
                    end += 1
                text = text[:start] + REDACTED + text[end:]
                start = text.find(head, start + len(REDACTED))
        return text

    def scrub_bytes(self, data: bytes) -> bytes:
        if not self.secrets or not data:
            return data
        text = data.decode("utf-8", errors="replace")
        cleaned = self.scrub(text)
        return data if cleaned == text else cleaned.encode()
