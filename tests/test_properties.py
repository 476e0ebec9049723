"""Property-based tests (hypothesis): chunking, ordering and duplication never change the result, and no
input makes extraction raise anything but tokmeter's own error types."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SAMPLE_LOGS
from tokmeter.capture import BadCapture, Capture, EscapedBody
from tokmeter.errors import TokmeterError
from tokmeter.extract import extract_row
from tokmeter.extract.sse import SSEStreamParser, parse_sse
from tokmeter.sources import find_files, read_captures
from tokmeter.store.local import Store

# bodies as text (a capture log read with the accelerator leaves its SSE bodies escaped)
BODIES = [
    c.body.text() if isinstance(c.body, EscapedBody) else c.body
    for path in find_files([SAMPLE_LOGS])
    for c in read_captures(path)
    if isinstance(c, Capture)
]
STREAMS = [body for body in BODIES if isinstance(body, str) and body.startswith(("event:", "data:"))]


def chunked(text: str, cuts: list[int]) -> list[str]:
    points = sorted({min(c, len(text)) for c in cuts})
    pieces, last = [], 0
    for point in points:
        pieces.append(text[last:point])
        last = point
    pieces.append(text[last:])
    return pieces


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(STREAMS),
    st.lists(st.integers(min_value=0, max_value=60_000), max_size=40),
    st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_any_chunking_of_a_stream_gives_the_same_events_and_usage(
    body: str, cuts: list[int], newline: str
) -> None:
    text = body.replace("\n", newline)
    parser = SSEStreamParser()
    events = []
    for piece in chunked(text, cuts):
        events += parser.feed(piece)
    events += parser.close()
    assert [(e.event, e.data) for e in events] == [(e.event, e.data) for e in parse_sse(text)]
    whole = extract_row(Capture("s", 0, {"ts": "2026-11-03T10:00:00Z"}, text))
    rejoined = extract_row(Capture("s", 0, {"ts": "2026-11-03T10:00:00Z"}, "".join(chunked(text, cuts))))
    assert whole == rejoined


def sample_captures() -> list[Capture]:
    return [
        c for path in find_files([SAMPLE_LOGS]) for c in read_captures(path) if not isinstance(c, BadCapture)
    ]


CAPTURES = sample_captures()


def store_totals(store: Store) -> dict:
    with store.reading():
        frame = store.scan().collect()
    return {
        "ids": sorted(frame["request_id"].to_list()),
        "sums": frame.select(pl.col("^.*_tokens$").sum()).row(0),
        "kept": sorted(zip(frame["request_id"], frame["response_id"], frame["complete"], strict=True)),
    }


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.permutations(range(len(CAPTURES))),
    st.lists(st.integers(0, len(CAPTURES) - 1), max_size=8),
    st.integers(min_value=1, max_value=6),
)
def test_any_order_and_duplication_gives_the_same_store(
    tmp_path_factory, order: list[int], repeats: list[int], batch: int
) -> None:
    rows = [extract_row(CAPTURES[i]) for i in [*order, *repeats]]
    reference = Store(tmp_path_factory.mktemp("ref"))
    with reference.writing():
        reference.commit(pl.DataFrame([extract_row(c) for c in CAPTURES]))
    shuffled = Store(tmp_path_factory.mktemp("shuffled"))
    for start in range(0, len(rows), batch):
        with shuffled.writing():
            shuffled.commit(pl.DataFrame(rows[start : start + batch]))
    assert store_totals(shuffled) == store_totals(reference)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)
usage_like = st.fixed_dictionaries(
    {},
    optional={
        k: json_values | st.integers(min_value=-5, max_value=10**20)
        for k in (
            "prompt_tokens",
            "completion_tokens",
            "input_tokens",
            "output_tokens",
            "cache_read_input_tokens",
            "prompt_tokens_details",
            "usage",
            "type",
            "object",
            "model",
            "id",
            "message",
            "choices",
        )
    },
)


@settings(max_examples=400, deadline=None)
@given(
    meta=st.fixed_dictionaries(
        {},
        optional={
            k: json_values
            for k in (
                "ts",
                "request_id",
                "user",
                "provider",
                "path",
                "url",
                "status",
                "request",
                "response_headers",
            )
        },
    ),
    body=st.one_of(
        json_values,
        usage_like,
        usage_like.map(lambda d: {"object": "chat.completion", "usage": d}),
        usage_like.map(lambda d: {"type": "message", "usage": d}),
        st.lists(usage_like, max_size=4).map(lambda evs: "".join(f"data: {json.dumps(e)}\n\n" for e in evs)),
        st.lists(usage_like, max_size=4).map(
            lambda evs: "".join(f"event: message_delta\ndata: {json.dumps(e)}\n\n" for e in evs)
        ),
        st.binary(max_size=200),
        st.text(max_size=200),
    ),
)
def test_extraction_raises_only_our_own_errors(meta: dict, body: object) -> None:
    try:
        extract_row(Capture("fuzz", 0, meta, body))
    except TokmeterError:
        pass


def test_streams_were_found() -> None:
    assert len(STREAMS) >= 5 and Path(SAMPLE_LOGS).exists()
