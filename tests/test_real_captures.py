"""Conformance: every real provider response in ../shared/real-captures yields the usage the provider
reported, as read by hand into expected.jsonl.gz (see that folder's README for the conventions).

The captures are read through tokmeter's own sources (capture log and HAR), then ``extract_row``.
"""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from tokmeter.extract import extract_row
from tokmeter.sources import Capture, read_captures

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real-captures"
COMPARED = ("input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens")

# request_id -> why we believe the expected value is wrong (the case is marked xfail, never bent to).
DISPUTED: dict[str, str] = {}


def _expected() -> dict[str, dict[str, Any]]:
    with gzip.open(REAL / "expected.jsonl.gz", "rt", encoding="utf-8") as handle:
        return {record["request_id"]: record for record in map(json.loads, handle)}


def _capture_id(capture: Capture) -> str:
    """The capture log's request_id; a HAR entry's x-capture-id response header."""
    if "request_id" in capture.meta:
        return str(capture.meta["request_id"])
    return str(capture.meta["response_headers"]["x-capture-id"])


@functools.cache
def _cases() -> list[Any]:
    if not REAL.is_dir():
        reason = f"real captures not found at {REAL} (the shared corpus sits beside the repository)"
        return [pytest.param(None, None, marks=pytest.mark.skip(reason=reason), id="real-captures-absent")]
    expected = _expected()
    cases = []
    for name, fmt in (("captures.jsonl.gz", "capture-log"), ("eventstream.har", "har")):
        for capture in read_captures(REAL / name, fmt):
            assert isinstance(capture, Capture), capture
            request_id = _capture_id(capture)
            marks = (
                [pytest.mark.xfail(reason=DISPUTED[request_id], strict=True)]
                if request_id in DISPUTED
                else []
            )
            cases.append(pytest.param(capture, expected[request_id], marks=marks, id=request_id))
    return cases


def test_every_expected_record_has_a_capture() -> None:
    if not REAL.is_dir():
        pytest.skip(f"real captures not found at {REAL}")
    ids = {case.id for case in _cases()}
    assert set(_expected()) == ids


@pytest.mark.parametrize(("capture", "expected"), _cases())
def test_usage_matches_provider_report(capture: Capture, expected: dict[str, Any]) -> None:
    row = extract_row(capture)
    # a stream the provider sent no usage for is estimated by tokmeter (test_estimate.py): nothing to compare
    got = {key: 0 if row["usage_source"] == "estimated" else row[key] for key in COMPARED}
    want = {key: expected[key] for key in COMPARED}
    got["usage_present"] = row["usage_source"] == "reported"
    want["usage_present"] = expected["usage_present"]
    got["response_id"] = row["response_id"] or None
    want["response_id"] = expected["response_id"] or None
    assert got == want, expected.get("note")
