"""The vendored OpenAI encodings (`interlink.tokenizer`) are tiktoken's own, loaded with no network."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest
import tiktoken
import tiktoken.registry

from interlink.core import ChatRequest, ImageBlock, Message, TextBlock
from interlink.tokenizer import DATA, IMAGE_TOKENS, count_request, encoding_name, get_encoding

SAMPLE = (
    "Compaction decides from this count. naïve café 東京 😀 <|endoftext|> def f(x):\n    return x**2  # 12345678\r\n"
)


def test_vendored_files_are_what_tiktoken_would_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """tiktoken's own loader, given the vendored file through its cache, builds the same encoder."""
    for name in ("o200k_base", "cl100k_base"):
        url = f"https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
        (tmp_path / hashlib.sha1(url.encode()).hexdigest()).write_bytes(
            gzip.decompress((DATA / f"{name}.tiktoken.gz").read_bytes())
        )
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    sample = SAMPLE * 20
    for name in ("o200k_base", "cl100k_base"):
        official = tiktoken.get_encoding(name)  # would raise without network if the cache missed
        ours = get_encoding(name)
        assert ours.encode_ordinary(sample) == official.encode_ordinary(sample)
        assert ours._special_tokens == official._special_tokens and ours.n_vocab == official.n_vocab


def test_model_names_map_as_tiktoken_maps_them() -> None:
    assert encoding_name("gpt-5") == encoding_name("gpt-4.1-mini") == encoding_name("o3") == "o200k_base"
    assert encoding_name("gpt-4") == encoding_name("gpt-3.5-turbo") == "cl100k_base"
    assert encoding_name("claude-sonnet-4-5") is None and encoding_name("qwen3-coder") is None


def test_request_accounting_adds_message_overheads_and_flat_images() -> None:
    encoding = get_encoding("o200k_base")
    text = len(encoding.encode_ordinary("hello there"))
    one = count_request(ChatRequest(model="m", messages=[Message("user", [TextBlock("hello there")])]), encoding)
    assert one == 3 + 3 + len(encoding.encode_ordinary("user")) + text
    image = ChatRequest(
        model="m", messages=[Message("user", [TextBlock("hello there"), ImageBlock(url="https://x/y.png")])]
    )
    assert count_request(image, encoding) == one + IMAGE_TOKENS
