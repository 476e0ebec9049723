"""Formats side by side: telling the JSON Lines flavours apart, compressed files (.gz, .zst), --format,
and one directory mixing every format into one consistent store."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
import zstandard

from conftest import REPO, SAMPLE_LOGS, run_cli
from tokmeter.extract import extract_row
from tokmeter.sources import BadCapture, Capture, detect_format, read_captures

DATA = REPO / "tests" / "data" / "transcripts"
CLAUDE_FILE = next((DATA / "claude" / "projects" / "-home-alice-work-webapp").glob("*.jsonl"))
CODEX_FILE = next((DATA / "codex").rglob("*.jsonl"))
TOKEN_LOG = DATA / "token-usage.jsonl"


def zst(source: Path, target: Path) -> Path:
    target.write_bytes(zstandard.ZstdCompressor().compress(source.read_bytes()))
    return target


def gz(source: Path, target: Path) -> Path:
    target.write_bytes(gzip.compress(source.read_bytes()))
    return target


@pytest.mark.parametrize(("path", "fmt"), [
    (SAMPLE_LOGS / "gateway-2026-11.jsonl", "capture-log"),
    (CLAUDE_FILE, "claude-code"),
    (next(DATA.rglob("agent-*.jsonl")), "claude-code"),
    (CODEX_FILE, "codex"),
    (TOKEN_LOG, "token-log"),
])
def test_json_lines_flavours_are_told_apart(path: Path, fmt: str) -> None:
    assert detect_format(path) == fmt


def test_flavour_survives_compression_and_a_missing_suffix(tmp_path: Path) -> None:
    assert detect_format(zst(CODEX_FILE, tmp_path / "rollout.jsonl.zst")) == "codex"
    assert detect_format(gz(TOKEN_LOG, tmp_path / "token-usage.jsonl.gz")) == "token-log"
    plain = tmp_path / "token-usage.log"
    shutil.copy(TOKEN_LOG, plain)
    assert detect_format(plain) == "token-log"


def test_long_first_lines_do_not_hide_the_flavour(tmp_path: Path) -> None:
    """Claude Code lines can be megabytes (tool results); the keys that tell come first."""
    huge = {"parentUuid": None, "isSidechain": False, "type": "user", "sessionId": "s",
            "message": {"role": "user", "content": "x" * 3_000_000}, "timestamp": "2026-11-03T10:00:00Z"}
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps(huge) + "\n" + CLAUDE_FILE.read_text())
    assert detect_format(path) == "claude-code"
    assert len([c for c in read_captures(path) if isinstance(c, Capture)]) == 7


def test_location_decides_when_the_lines_do_not(tmp_path: Path) -> None:
    path = tmp_path / ".claude" / "projects" / "-w" / "s.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text('{"type":"some-future-line","sessionId":"s"}\n')
    assert detect_format(path) == "claude-code"
    assert list(read_captures(path)) == []  # nothing to count, nothing bad
    rollout = tmp_path / "rollout-2026-11-03T10-00-00-0199a6c1-4f2e-7d30-b8e5-93c1d2f4a6b7.jsonl"
    rollout.write_text("")
    assert detect_format(rollout) == "codex"


def test_zst_and_gz_read_like_the_plain_file(tmp_path: Path) -> None:
    def rows(path: Path) -> list[tuple]:
        return [(r["request_id"], r["input_tokens"], r["output_tokens"], r["source_offset"])
                for r in (extract_row(c) for c in read_captures(path) if isinstance(c, Capture))]

    plain = rows(CODEX_FILE)
    assert rows(zst(CODEX_FILE, tmp_path / CODEX_FILE.name.replace(".jsonl", ".jsonl.zst"))) == plain
    assert rows(gz(CODEX_FILE, tmp_path / "b.jsonl.gz")) == plain
    sample = SAMPLE_LOGS / "gateway-2026-11.jsonl"
    assert len(rows(zst(sample, tmp_path / "gateway.jsonl.zst"))) == len(rows(sample)) == 10


def test_corrupt_zst_is_a_bad_capture_and_the_rest_is_read(isolated_store: Path, tmp_path: Path) -> None:
    good = zst(TOKEN_LOG, tmp_path / "token-usage.jsonl.zst")
    data = bytearray(good.read_bytes())
    data[len(data) // 2:] = b"\x00" * (len(data) - len(data) // 2)
    (tmp_path / "broken.jsonl.zst").write_bytes(bytes(data))
    done = run_cli("ingest", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "broken.jsonl.zst: cannot read file: corrupt zstd data" in done.stdout
    assert "rows written       3" in done.stdout


def test_format_flag_overrides_detection(tmp_path: Path) -> None:
    path = tmp_path / "usage.txt"
    shutil.copy(TOKEN_LOG, path)
    items = list(read_captures(path, "token-log"))
    assert len(items) == 3 and all(isinstance(i, Capture) and i.format == "token-log" for i in items)
    wrong = list(read_captures(path, "codex"))
    assert wrong == []  # no Codex item in it: nothing, and nothing bad
    forced = run_cli("ingest", "--format", "claude-code", str(CLAUDE_FILE))
    assert forced.returncode == 0 and "7 claude-code" in forced.stdout


def test_bad_lines_of_the_new_formats_are_listed(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(CLAUDE_FILE.read_text() + '{"parentUuid":"x","message":{"usage":{"input_tokens":1,\n')
    bad = [i for i in read_captures(path) if isinstance(i, BadCapture)]
    assert [(b.line, b.format, b.reason[:14]) for b in bad] == [(18, "claude-code", "not valid JSON")]


def test_one_directory_mixing_every_format(isolated_store: Path, tmp_path: Path) -> None:
    mixed = tmp_path / "mixed"
    shutil.copytree(SAMPLE_LOGS, mixed / "gateway")
    shutil.copytree(DATA / "claude", mixed / "claude")
    (mixed / "codex").mkdir()
    zst(CODEX_FILE, mixed / "codex" / CODEX_FILE.name.replace(".jsonl", ".jsonl.zst"))
    gz(TOKEN_LOG, mixed / "token-usage.jsonl.gz")
    shutil.copy(DATA / "claude" / "projects" / "-home-alice-work-api" / next(
        (DATA / "claude" / "projects" / "-home-alice-work-api").glob("*.jsonl")).name, mixed / "resumed-copy.jsonl")

    done = run_cli("ingest", str(mixed))
    assert done.returncode == 0, done.stderr
    summary = done.stdout
    assert "captures           33  (11 capture-log, 14 claude-code, 3 codex, 1 json, 1 sse, 3 token-log)" in summary
    # dropped: 2 in the gateway sample, 2 within Claude Code, 3 of the resumed session's copy
    assert "rows written       25" in summary and "duplicates dropped 7" in summary
    again = run_cli("ingest", str(mixed))
    assert "rows written       0" in again.stdout  # idempotent across formats

    report = json.loads(run_cli("report", "--by", "provider", "--format", "json").stdout)
    requests = {r["provider"]: r["requests"] for r in report["rows"]}
    assert requests == {"anthropic": 15, "openai": 9, "copilot": 1}
    assert report["totals"]["requests"] == 25
