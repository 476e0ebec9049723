"""Every sample of a logged-record format (tests/data/sources/<format>/) is detected as its format and no
other, plain and gzipped (as S3 stores them), and one ingest of them all through the CLI keeps every row."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from conftest import run_cli
from sources_helpers import SAMPLES, rows_of
from tokmeter.capture import FORMATS
from tokmeter.sources import detect_format
from tokmeter.store.local import Store

FILES = sorted(p for p in SAMPLES.rglob("*") if p.is_file() and p.name != "README.md")


def test_every_logged_format_has_samples() -> None:
    folders = {p.parent.name for p in FILES}
    assert folders <= set(FORMATS)
    assert {"openai-batch", "anthropic-batch", "bedrock-invocation-log", "litellm", "otel", "kong"} | {
        "cloudflare-ai-gateway"
    } <= folders


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_each_sample_is_its_format(path: Path, tmp_path: Path) -> None:
    assert detect_format(path) == path.parent.name
    if path.suffix == ".gz":
        return
    packed = tmp_path / (path.name + ".gz")
    packed.write_bytes(gzip.compress(path.read_bytes()))
    os.utime(packed, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns))  # the same file time
    assert detect_format(packed) == path.parent.name
    assert rows_of(packed) == [{**row, "source": str(packed)} for row in rows_of(path)]


def test_the_whole_sample_tree_through_the_cli(isolated_store: Path) -> None:
    expected = len({row["request_id"] for path in FILES for row in rows_of(path)})  # one row per request
    result = run_cli("ingest", str(SAMPLES), "--batch-time", "2026-11-03T09:30:00")
    assert result.returncode == 0, result.stderr
    listing = run_cli("quarantine", "--format", "jsonl")
    assert listing.stdout.strip() == "", listing.stdout
    stored = Store(isolated_store).scan().collect()
    assert stored.height == expected
    assert set(stored["source"].map_elements(lambda s: Path(s).parent.name, return_dtype=str)) == {
        p.parent.name for p in FILES
    }


def test_a_capture_record_with_a_gateways_fields_stays_a_capture_log(tmp_path: Path) -> None:
    """A proxy may log a gateway's fields beside the response (latencies, started_at): its ``body`` makes
    it a capture record."""
    line = {"ts": "2026-11-03T10:00:00Z", "started_at": 1, "latencies": {}, "status": 200, "body": "{}"}
    path = tmp_path / "proxy.jsonl"
    path.write_text(json.dumps(line) + "\n")
    assert detect_format(path) == "capture-log"
