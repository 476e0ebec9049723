"""The fast path gives the same rows as the straightforward path, on every capture we have."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from conftest import REAL_CAPTURES, SAMPLE_LOGS

from tokmeter.errors import BadCaptureError
from tokmeter.extract import extract_row, fastpath
from tokmeter.sources import find_files, read_captures
from tokmeter.sources.capture import BadCapture, Capture
from tokmeter.sources.capture_log import parse_record

BAD_CORPUS = Path(__file__).parent / "data" / "bad"


def corpus() -> list[Capture]:
    captures = []
    for path in find_files([SAMPLE_LOGS, BAD_CORPUS]):
        if path.suffix in (".gz", ".zst"):
            continue  # corrupt archives: nothing to extract
        captures += [c for c in read_captures(path) if isinstance(c, Capture)]
    if (REAL_CAPTURES / "captures.jsonl.gz").exists():
        with gzip.open(REAL_CAPTURES / "captures.jsonl.gz") as handle:
            for number, line in enumerate(handle, start=1):
                record = parse_record(line, "real", 0, number, None)
                if isinstance(record, Capture):
                    captures.append(record)
    return captures


def row_or_error(capture: Capture) -> object:
    try:
        return extract_row(capture)
    except BadCaptureError as exc:
        return f"bad: {exc.message}"


def both_ways(capture: Capture) -> tuple[object, object]:
    fastpath.ENABLED = False
    try:
        slow = row_or_error(capture)
    finally:
        fastpath.ENABLED = True
    return row_or_error(capture), slow


def test_same_rows_on_the_whole_corpus() -> None:
    captures = corpus()
    assert len(captures) > 900 if REAL_CAPTURES.exists() else len(captures) > 100
    differ = []
    for capture in captures:
        fast, slow = both_ways(capture)
        if fast != slow:
            differ.append((capture.where, fast, slow))
    assert not differ, differ[:2]


def test_same_rows_on_generated_streams(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    from generate import write_capture_log

    log = tmp_path / "gen.jsonl"
    write_capture_log(log, mb=3, seed=7)
    for item in read_captures(log):
        assert not isinstance(item, BadCapture)
        fast, slow = both_ways(item)
        assert fast == slow, item.where


@pytest.mark.parametrize("variant", ["spaces", "usage-every-chunk", "comment-first"])
def test_chat_stream_variants(variant: str) -> None:
    def chunk(**extra: object) -> str:
        doc = {"id": "c1", "object": "chat.completion.chunk", "model": "gpt-4o", "choices": [], **extra}
        text = json.dumps(doc, separators=(", ", " : ") if variant == "spaces" else (",", ":"))
        return f"data: {text}\n\n"

    usage = {"prompt_tokens": 5, "completion_tokens": 2}
    parts = [chunk(usage=usage if variant == "usage-every-chunk" else None) for _ in range(5)]
    body = (": keep-alive\n\n" if variant == "comment-first" else "") + "".join(parts) + \
        chunk(choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]) + chunk(usage={**usage, "completion_tokens": 9}) \
        + "data: [DONE]\n\n"
    capture = Capture("v", 0, {"ts": "2026-11-03T10:00:00Z", "path": "/v1/chat/completions"}, body)
    fast, slow = both_ways(capture)
    assert fast == slow and fast["output_tokens"] == 9
