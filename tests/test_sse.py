"""The SSE parser against the spec's edge cases."""

from __future__ import annotations

import pytest

from tokmeter.extract.sse import SSEEvent, SSEStreamParser, looks_like_sse, parse_sse


def events(text: str) -> list[tuple[str | None, str]]:
    return [(e.event, e.data) for e in parse_sse(text)]


def test_data_with_and_without_space() -> None:
    assert events("data: a\n\ndata:b\n\ndata:  c\n\n") == [(None, "a"), (None, "b"), (None, " c")]


def test_multiline_data_is_joined_with_newline() -> None:
    assert events('data: {\ndata: "x": 1\ndata: }\n\n') == [(None, '{\n"x": 1\n}')]


def test_event_names_comments_and_ids() -> None:
    text = ": keep-alive\nevent: message_start\nid: 7\ndata: {}\n\n:comment\n\nevent: ping\ndata: {}\n\n"
    parsed = list(parse_sse(text))
    assert [(e.event, e.data, e.id) for e in parsed] == [("message_start", "{}", "7"), ("ping", "{}", "7")]


@pytest.mark.parametrize("newline", ["\r\n", "\r", "\n"])
def test_any_line_ending(newline: str) -> None:
    text = f"event: a{newline}data: 1{newline}{newline}data: 2{newline}{newline}"
    assert events(text) == [("a", "1"), (None, "2")]


def test_event_without_data_is_not_dispatched_and_name_resets() -> None:
    assert events("event: lonely\n\ndata: x\n\n") == [(None, "x")]


def test_field_without_colon_and_unknown_fields() -> None:
    assert events("data\nretry: 10\nfoo: bar\n\n") == [(None, "")]


def test_done_sentinel() -> None:
    parsed = list(parse_sse('data: {"a":1}\n\ndata: [DONE]\n\n'))
    assert [e.is_done for e in parsed] == [False, True]


def test_bom_is_dropped() -> None:
    assert events("\ufeffdata: x\n\n") == [(None, "x")]


def test_bom_only_at_the_very_start() -> None:
    # after the start a BOM is part of the line: "\ufeffdata" is an unknown field, and one BOM is dropped
    text = "\ufeff\ufeffdata: a\n\ndata: b\n\n\ufeffdata: c\n\ndata: d\n\n"
    assert events(text) == [(None, "b"), (None, "d")]
    assert [(e.event, e.data) for e in parse_sse("\ufeffdata: c\n\n", bom=False)] == []
    for cut in range(len(text) + 1):  # wherever a chunk starts, the incremental parser agrees
        parser = SSEStreamParser()
        got = parser.feed(text[:cut]) + parser.feed(text[cut:]) + parser.close()
        assert [(e.event, e.data) for e in got] == events(text), cut


def test_final_event_without_blank_line_is_marked_unterminated() -> None:
    parsed = list(parse_sse('data: 1\n\ndata: {"cut'))
    assert parsed == [SSEEvent(None, "1"), SSEEvent(None, '{"cut', terminated=False)]
    assert list(parse_sse("data: 1\n"))[0].terminated is False


def test_empty_and_blank_streams() -> None:
    assert events("") == []
    assert events("\n\n\n") == []


def test_looks_like_sse() -> None:
    assert looks_like_sse("event: x\ndata: y")
    assert looks_like_sse("\n\ndata: y")
    assert looks_like_sse(": comment\n")
    assert not looks_like_sse('{"data": 1}')
