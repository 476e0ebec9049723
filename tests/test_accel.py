"""The accelerator (src/tokmeter/extract/_accel.c, bound in extract/accel.py) gives exactly what the
pure-Python path gives: the same capture (or the same reason to set a line aside) and the same row, for
every capture we have written as capture-log lines by several JSON encoders, for 1,500 mutated
streams and escapings, and for records built to trip it. Its selections are also compared one by one
with the Python functions they stand for. Skipped only where it could not be built (no C compiler)."""

from __future__ import annotations

import gzip
import json
import random
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from conftest import REAL_CAPTURES, SAMPLE_LOGS, run_cli
from test_fastpath import INSERTS, corpus, mutated, row_or_error
from tokmeter.capture import BadCapture, Capture, EscapedBody
from tokmeter.extract import accel, fastpath
from tokmeter.extract.sse import select_events
from tokmeter.sources.capture_log import parse_record, read_capture_log

pytestmark = pytest.mark.skipif(
    not accel.BUILT,
    reason="the accelerator is not built here (no C compiler or Python headers at install): "
    "only the pure-Python path exists, which the rest of the suite tests",
)

# every marker set a family registers, and one that needs quotes escaped
MARKER_SETS = [("message_",), ('"response"',), ('"usage"', "[DONE]"), ("data",)]


def outcome(line: bytes, fast: bool) -> object:
    """What the capture-log reader makes of one line, and the row of it."""
    item = parse_record(line, "t.jsonl", 0, 1, None, fast)
    if isinstance(item, BadCapture):
        return ("bad", item.reason, item.digest, item.size)
    body = item.body.text() if isinstance(item.body, EscapedBody) else item.body
    return (item.meta, body, row_or_error(item))


def same_selections(line: bytes) -> bool:
    """The native selections of an SSE body equal the Python ones on its decoded text; whether the line
    was one the accelerator reads (so the tests can tell that they exercised it)."""
    found = accel.read_body(line)
    if found is None or not found[2]:
        return False
    body = EscapedBody(line, found[0], found[1])
    text = body.text()
    assert accel.head(body, 400) == text[:400]
    for markers in MARKER_SETS:
        assert accel.select_events(body, markers) == select_events(text, markers), (markers, text[:300])
    picked = accel.chat_spans(body)
    if picked is not None:
        native = fastpath._chat_selection(fastpath.ChatSpans(*picked[:5]), picked[5].__getitem__)
        assert native == fastpath._chat_events(text), text[:300]
    return True


def check(lines: Iterator[bytes]) -> Counter[str]:
    """Both paths on every line; the counts of what the accelerator did."""
    seen: Counter[str] = Counter()
    for line in lines:
        fast, slow = outcome(line, True), outcome(line, False)
        assert fast == slow, line[:400]
        seen["sse"] += same_selections(line)
        seen["lines"] += 1
    return seen


def unicode_escaped(text: str, rng: random.Random) -> str:
    """A JSON string literal of ``text`` spelling some characters as \\u escapes, '/' as '\\/'."""
    out = []
    for char in json.dumps(text, ensure_ascii=False)[1:-1]:
        roll = rng.random()
        if roll < 0.02 and char.isalnum():
            out.append(f"\\u{ord(char):04x}" if ord(char) < 0x10000 else char)
        elif roll < 0.5 and ord(char) > 0x7F:
            out.append(json.dumps(char)[1:-1])  # \uXXXX, a surrogate pair for astral characters
        elif char == "/" and roll < 0.5:
            out.append("\\/")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


ENCODERS: list[Callable[[dict[str, Any], random.Random], bytes]] = [
    lambda record, rng: json.dumps(record).encode(),
    lambda record, rng: json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode(),
    lambda record, rng: orjson.dumps(record),
    lambda record, rng: (
        f'{{"ts": {json.dumps(record.get("ts"))}, "body" : {unicode_escaped(record["body"], rng)} , '
        f'"path": {json.dumps(record.get("path"))}}}'
    ).encode(),
]


def as_lines(captures: list[Capture], rng: random.Random) -> Iterator[bytes]:
    for capture in captures:
        if not isinstance(capture.body, str):
            continue
        record = {**capture.meta, "body": capture.body}
        try:
            yield rng.choice(ENCODERS)(record, rng) + b"\n"
        except (TypeError, ValueError, UnicodeEncodeError):  # not JSON-serializable (bytes, surrogates)
            continue


@pytest.fixture(scope="module")
def captures() -> list[Capture]:
    fastpath.ENABLED = True
    found = corpus()
    # the corpus reads capture logs through the accelerator: compare on the text
    return [
        Capture(c.source, c.offset, c.meta, c.body.text(), c.line, c.file_time, c.format, c.raw)
        if isinstance(c.body, EscapedBody)
        else c
        for c in found
    ]


def test_capture_log_files_as_they_are() -> None:
    files = [*SAMPLE_LOGS.glob("*.jsonl"), *Path(__file__).parent.joinpath("data", "bad").glob("*.jsonl")]
    lines = [line for path in files for line in path.read_bytes().splitlines(keepends=True)]
    if (REAL_CAPTURES / "captures.jsonl.gz").exists():
        with gzip.open(REAL_CAPTURES / "captures.jsonl.gz") as handle:
            lines += list(handle)
    seen = check(iter(lines))
    assert seen["lines"] == len(lines) and (seen["sse"] > 60 if REAL_CAPTURES.exists() else seen["sse"] > 2)


def test_every_capture_in_every_encoding(captures: list[Capture]) -> None:
    rng = random.Random(24)
    seen = check(line for _ in range(len(ENCODERS)) for line in as_lines(captures, rng))
    assert seen["sse"] > 100, seen


def generated_lines(megabytes: float) -> list[bytes]:
    """Capture-log lines of the benchmark's generator (bench/generate.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    from generate import capture_records

    start = datetime(2026, 11, 1, tzinfo=UTC)
    return [line.encode() + b"\n" for line, *_ in capture_records(5, int(megabytes * 1e6), start)]


def test_generated_log() -> None:
    seen = check(iter(generated_lines(2)))
    assert seen["sse"] > 0.6 * seen["lines"], seen


ESCAPING_INSERTS = [
    "\\n",
    "\\\\n",
    '\\"',
    "\\",
    "\r\n",
    "\r",
    "é",
    "😀",
    "\u2028",
    "\x00",
    "\x1f",
    "\ufeff",
    "\t",
    "/",
    '"usage" :null',
    '"usage":  null',
    '"usage"\u00a0: {"prompt_tokens": 1}',
    '"usage":\u00a0null',
    '"usage"\t:\nnull',
    '"finish_reason" : "stop"',
    "\\u0022usage\\u0022",
    "data:",
    "\ndata\n",
    "\ndata",
]


def test_mutated_streams_and_escapes(captures: list[Capture]) -> None:
    streams = [
        c for c in captures if isinstance(c.body, str) and c.body.lstrip().startswith(("event:", "data:"))
    ]
    rng = random.Random(20261207)
    inserts = INSERTS + ESCAPING_INSERTS

    def lines() -> Iterator[bytes]:
        for _ in range(1500):
            capture = rng.choice(streams)
            body = mutated(capture.body, rng)
            for _ in range(rng.randint(0, 3)):
                cut = rng.randint(0, len(body))
                body = body[:cut] + rng.choice(inserts) + body[cut:]
            yield from as_lines([Capture(capture.source, 0, capture.meta, body)], rng)

    seen = check(lines())
    assert seen["sse"] > 700, seen


def test_records_built_to_trip_it() -> None:
    sse = 'event: message_start\\ndata: {\\"type\\":\\"message_start\\",\\"message\\":{\\"id\\":\\"m\\",\\"model\\":\\"claude-x\\",\\"usage\\":{\\"input_tokens\\":5,\\"output_tokens\\":1}}}\\n\\nevent: message_delta\\ndata: {\\"type\\":\\"message_delta\\",\\"usage\\":{\\"output_tokens\\":7}}\\n\\n'
    head = '{"ts": "2026-11-03T10:00:00Z", "path": "/v1/messages", '
    lines = [
        head + f'"body": "{sse}"}}',
        head + f'"body": "{sse}", "body": ""}}',  # two bodies: the last counts
        head + f'"body": "", "body": "{sse}"}}',
        head + f'"bod\\u0079": "{sse}"}}',  # an escaped key that is "body"
        head + f'"body": "{sse}", "b\\u006fdy": 1}}',
        head + f'"body": ["{sse}"]}}',
        head + f'"body": {{"body": "{sse}"}}}}',
        head + f'"x": {{"body": "{sse}"}}, "body": "{sse}"}}',
        head + f'"body": "{sse}"',  # cut
        head + f'"body": "{sse}',
        head + f'"body": "{sse}"}} trailing',
        head + f'"body": "{sse}"}}{{}}',
        head + f'"body": "{sse}\\x"}}',  # an unknown escape
        head + f'"body": "{sse}\\ud800"}}',  # an unpaired surrogate
        head + f'"body": "{sse}\\udc00\\ud800"}}',
        head + f'"body": "{sse}\\ud83d\\ude00"}}',
        head + f'"body": "{sse}\x01"}}',  # a raw control character
        head + f'"body": "{sse[:40]}\\r\\n{sse[40:]}"}}',
        head + '"body": "' + sse.replace("usage", "u\\u0073age") + '"}',
        head + '"body": "' + sse.replace("message_", "message\\u005f") + '"}',
        head + f'"body": "{sse}", "status": 200,}}',  # a trailing comma
        head + f'"body": "{sse}", "status": 2OO}}',
        head + f'"body"  :  "{sse}"  }}   ',
        '  {"body": "data: [DONE]\\n\\n"}',
        '{"body": ""}',
        '{"body": "data:"}',
        '{"body": "event:"}',
        '{"body": "{\\"usage\\": {}}"}',
        '{"body": null}',
        "{}",
        "[]",
        '"body"',
        '{"body": "data: x", "path": "/v1/chat/completions"',
    ]
    encoded = [line.encode() + b"\n" for line in lines]
    encoded += [
        encoded[0].replace(b"claude-x", b"claude-\xc3\xa9"),
        encoded[0].replace(b"claude-x", b"claude-\xc3"),  # invalid UTF-8
        encoded[0].replace(b"claude-x", b"claude-\xed\xa0\x80"),  # an encoded surrogate
        encoded[0].replace(b"claude-x", b"claude-\xf4\x90\x80\x80"),  # beyond U+10FFFF
        encoded[0].replace(b"claude-x", b"claude-\xc0\xaf"),  # overlong
        encoded[0][:-30] + b"\n",
    ]
    seen = check(iter(encoded))
    assert seen["sse"] >= 8, seen


STRING_PIECES = [
    *"abn :d",
    "\\\\",
    '\\"',
    "\\n",
    "\\t",
    "\\/",
    "\\r",
    "\\b",
    "\\u00e9",
    "\\u0041",
    "\\ud83d\\ude00",
    "é",
    "😀",
    "data: ",
    '\\\\\\"',
]
BAD_PIECES = ["\\ud83d", "\\udc00", "\\x", "\\", '"', "\x01", "\\u12", "\\U0041"]


def test_string_check_agrees_with_orjson() -> None:
    """read_body takes a body string exactly when orjson does, and where it ends, at every alignment of
    escapes and backslash runs against the 64-byte blocks its vector scan reads."""
    rng = random.Random(64)
    taken = 0
    for _ in range(4000):
        pool = STRING_PIECES + (BAD_PIECES if rng.random() < 0.2 else [])
        parts = [
            rng.choice(pool) if rng.random() < 0.6 else "x" * rng.randint(1, 70)
            for _ in range(rng.randint(0, 60))
        ]
        content = "".join(parts).encode()
        if rng.random() < 0.05:
            content = content.replace(b"\xc3", b"\xc3\xc3")  # invalid UTF-8
        line = b'{"x": 1, "body": "' + content + b'", "y": [1]}\n'
        try:
            expected = orjson.loads(line)["body"]
        except orjson.JSONDecodeError:
            expected = None
        found = accel.read_body(line)
        if expected is None:
            assert found is None, line
            continue
        assert found is not None, line
        assert EscapedBody(line, found[0], found[1]).text() == expected
        taken += 1
    assert taken > 2000


def test_a_record_where_the_fast_path_must_stop() -> None:
    # Unicode whitespace before the colon of a Chat usage key: Python's \s would take it, the native
    # code does not decide and the Python path runs; the rows agree either way
    chunk = {"id": "c", "object": "chat.completion.chunk", "model": "gpt-4o", "choices": []}
    body = "".join(
        f"data: {json.dumps(part)}\n\n"
        for part in (chunk, {**chunk, "usage": {"prompt_tokens": 3, "completion_tokens": 4}})
    ).replace('"usage":', '"usage"\u00a0:')
    line = json.dumps({"ts": 1, "path": "/v1/chat/completions", "body": body}).encode()
    found = accel.read_body(line)
    assert found is not None and found[2]
    assert accel.chat_spans(EscapedBody(line, found[0], found[1])) is None
    assert outcome(line, True) == outcome(line, False)


def test_reader_takes_the_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    line = b'{"ts": 1, "path": "/v1/messages", "body": "event: message_start\\ndata: {}\\n\\n"}\n'

    def bodies() -> list[type]:
        import io

        return [type(c.body) for c in read_capture_log(io.BytesIO(line * 2), "x", None)]

    assert bodies() == [EscapedBody, EscapedBody]
    monkeypatch.setenv("TOKMETER_NO_ACCEL", "1")
    assert bodies() == [str, str]


def test_ingest_with_and_without_it(tmp_path: Path) -> None:
    """The CLI: the same stored rows with the accelerator and with it forced off."""
    log = tmp_path / "log.jsonl"
    log.write_bytes(b"".join(generated_lines(1)) + (SAMPLE_LOGS / "gateway-2026-11.jsonl").read_bytes())
    stored = {}
    for name, env in (("on", {}), ("off", {"TOKMETER_NO_ACCEL": "1"})):
        store = tmp_path / name
        ingest = run_cli("ingest", str(log), env={"TOKMETER_STORE": str(store), **env})
        assert ingest.returncode == 0, ingest.stderr
        stored[name] = pl.read_parquet(store / "usage" / "**" / "*.parquet").sort("request_id")
    assert stored["on"].height > 40
    assert_frame_equal(stored["on"], stored["off"])


def test_a_marker_with_a_slash_is_found_however_the_slash_is_spelled() -> None:
    """'/' is the one printable character a JSON string may spell two ways ('/' and '\\/'): the native
    search, which looks for one spelling, must not answer for such a marker (it missed the event)."""
    body = 'data: {"a": 1}\n\n' * 20 + 'data: {"path": "a/b"}\n\n' + 'data: {"z": 2}\n\n' * 5
    line = ('{"path": "/x", "body": ' + json.dumps(body).replace("/", "\\/") + "}").encode()
    found = accel.read_body(line)
    assert found is not None and found[2]
    escaped = EscapedBody(line, found[0], found[1])
    expected = select_events(escaped.text(), ("a/b",))
    assert expected is not None and any("a/b" in event.data for event in expected)
    assert accel.select_events(escaped, ("a/b",)) in (None, expected)


def test_no_reference_leaked_and_no_error_left_set() -> None:
    """Every native function, on its answers and on each error it raises, leaves the reference counts of
    what it was given and made as they were, and no exception set (CPython turns one left set beside a
    result into a SystemError). A million calls of each kept the resident size flat when checked by hand."""
    import gc

    from tokmeter.extract.sse import SSEEvent

    chunk = {"id": "c", "object": "chat.completion.chunk", "model": "gpt-4o", "choices": []}
    body = "event: x\nid: 7\n" + f"data: {json.dumps(chunk)}\n\n" * 5 + "data: [DONE]\n\n"
    line = json.dumps({"ts": 1, "path": "/v1/chat/completions", "body": body.replace("c", "é")}).encode()
    found = accel.read_body(line)
    assert found is not None and found[2]
    native, (start, end, _) = accel._accel, found
    markers = ('"usage"', "[DONE]")
    errors = [
        lambda: native.select(line, start, end, (1,)),
        lambda: native.select(line, start, end, ("\ud800",)),
        lambda: native.head(line, -1, end, 3),
        lambda: native.chat_spans(line, start, len(line) + 1),
        lambda: native.read_body("not bytes"),
    ]

    def calls() -> None:
        for _ in range(500):
            assert native.read_body(line) == found and native.read_body(line[:-9]) is None
            assert native.head(line, start, end, 7) == body[:7]
            assert (
                native.select(line, start, end, markers) and native.select(line, start, end, ("é",)) is None
            )
            assert native.chat_spans(line, start, end) is not None
            for call in errors:
                with pytest.raises((TypeError, ValueError, UnicodeEncodeError)):
                    call()

    watched = [line, markers, markers[0], SSEEvent, None, True, False]
    calls()
    gc.collect()
    before = [sys.getrefcount(item) for item in watched]
    calls()
    gc.collect()
    assert [sys.getrefcount(item) for item in watched] == before
    assert sys.exc_info() == (None, None, None)
