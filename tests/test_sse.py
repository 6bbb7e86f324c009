"""The SSE decoder yields the same events however the bytes are split (a CRLF or a UTF-8
character cut in two included)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from interlink.sse import SSEDecoder, encode_event

STREAM = (
    b'event: message_start\ndata: {"a": 1}\n\n'
    b": keepalive comment\n\n"
    b'event: ping\r\ndata: {"type": "ping"}\r\n\r\n'
    b"data: line one\ndata: line two\n\n"
    b"event: cr-only\rdata:no-space \xc3\xa9t\xc3\xa9\r\r"
    b"data: [DONE]\n\n"
)


def decode_all(chunks: list[bytes]) -> list[tuple[str | None, str]]:
    decoder = SSEDecoder()
    events = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    events += decoder.flush()
    return [(e.event, e.data) for e in events]


def test_decodes_events_comments_crlf_and_multiline_data() -> None:
    assert decode_all([STREAM]) == [
        ("message_start", '{"a": 1}'),
        ("ping", '{"type": "ping"}'),
        (None, "line one\nline two"),
        ("cr-only", "no-space \u00e9t\u00e9"),
        (None, "[DONE]"),
    ]


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_any_split_gives_the_same_events(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [STREAM[a:b] for a, b in zip([0, *points], [*points, len(STREAM)], strict=True)]
    assert decode_all(chunks) == decode_all([STREAM])


def test_final_event_without_blank_line_is_not_lost() -> None:
    assert decode_all([b'data: {"x": 2}']) == [(None, '{"x": 2}')]


def test_encode_round_trips_multiline_data() -> None:
    frame = encode_event("a\nb", "note")
    assert decode_all([frame]) == [("note", "a\nb")]
