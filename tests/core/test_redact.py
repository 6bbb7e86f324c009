"""Secrets out of upstream-derived text: whole, repeated, cut short, or inside other text."""

from __future__ import annotations

from interlink.config.settings import Config
from interlink.core.redact import REDACTED, Redactor

KEY = "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"


def test_whole_and_repeated_secrets_are_scrubbed() -> None:
    r = Redactor([KEY, None, "short"])
    assert r.scrub(f"invalid x-api-key {KEY}; you sent {KEY}.") == f"invalid x-api-key {REDACTED}; you sent {REDACTED}."


def test_a_cut_secret_is_still_scrubbed_before_truncation() -> None:
    r = Redactor([KEY])
    # an upstream (or a log truncation) that cut the key after 20 characters
    assert r.scrub(f"bad key: {KEY[:20]}") == f"bad key: {REDACTED}"
    assert KEY[:12] not in r.scrub(f"{KEY[:30]}...")
    # a secret's start that is too short to mean anything stays: "sk-ant" is in every docs page
    assert r.scrub("use an sk-ant key") == "use an sk-ant key"


def test_longest_secret_first_and_bytes() -> None:
    r = Redactor(["password1", "password1-and-more"])
    assert r.scrub("x password1-and-more y") == f"x {REDACTED} y"
    assert r.scrub_bytes(b'{"error": "password1"}') == f'{{"error": "{REDACTED}"}}'.encode()
    assert Redactor([]).scrub_bytes(b"x") == b"x"


def test_config_secrets_cover_keys_auth_headers_and_passwords() -> None:
    config = Config.model_validate(
        {
            "providers": {
                "a": {"kind": "anthropic", "base_url": "http://x", "api_key": KEY},
                "b": {
                    "kind": "openai-chat",
                    "base_url": "http://y/v1",
                    "headers": {"Authorization": "Bearer tok-123456789", "X-Title": "interlink"},
                },
            },
            "database_url": "postgresql+asyncpg://u:db-pass-123@h/db",
            "redis_url": "redis://:redis-pass-9@h:6379/0",
        }
    )
    assert set(config.secrets()) == {KEY, "Bearer tok-123456789", "tok-123456789", "db-pass-123", "redis-pass-9"}
