"""Hostile input: every bad capture is counted and quarantined (never its bytes), every good capture beside
it is kept, memory stays bounded, and no prompt text or credential reaches anything tokmeter writes."""

from __future__ import annotations

import gzip
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli
from tokmeter.ingest.pipeline import run_ingest
from tokmeter.store.local import Store
from tokmeter.store.quarantine import read as read_quarantine

DATA = Path(__file__).parent / "data"
MANIFEST = json.loads((DATA / "bad-manifest.json").read_text())
CANARIES = (b"CANARY-PROMPT-7f3a", b"sk-CANARY")


def written_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def assert_no_canary(root: Path) -> None:
    for path in written_files(root):
        data = path.read_bytes()
        for canary in CANARIES:
            assert canary not in data, f"{canary!r} leaked into {path}"


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_each_malformed_case(name: str, tmp_path: Path) -> None:
    expected = MANIFEST[name]
    store = Store(tmp_path / "store")
    report = run_ingest([DATA / "bad" / name], store)
    assert (report.rows_written, len(report.bad)) == (expected["rows"], expected["bad"]), [
        b.reason for b in report.bad
    ]
    quarantined = read_quarantine(store.root)
    assert len(quarantined) == expected["bad"]
    for entry in quarantined:
        assert entry["source"].endswith(name) and entry["reason"]
        if entry["format"] == "capture-log" and entry.get("line"):
            assert entry["sha256"] and len(entry["sha256"]) == 64
    assert_no_canary(store.root)


def test_the_corpus_is_large_enough() -> None:
    assert len(MANIFEST) >= 100


def test_whole_corpus_through_the_cli_leaks_nothing(isolated_store: Path) -> None:
    result = run_cli("ingest", str(DATA / "bad"))
    assert result.returncode == 0, result.stderr
    for canary in CANARIES:
        assert canary.decode() not in result.stdout + result.stderr
    listing = run_cli("quarantine", "--format", "jsonl")
    entries = [json.loads(line) for line in listing.stdout.splitlines()]
    assert len(entries) == sum(v["bad"] for v in MANIFEST.values())
    assert_no_canary(isolated_store)


def peak_rss_mb_of(args: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = subprocess.run(
        [sys.executable, "-m", "tokmeter", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return result, max(before, after) / 1024


def test_a_50_mb_line_is_set_aside_with_bounded_memory(tmp_path: Path) -> None:
    log = tmp_path / "huge.jsonl"
    good = {
        "ts": "2026-11-03T10:00:00Z",
        "request_id": "ok",
        "provider": "openai",
        "body": {"object": "chat.completion", "usage": {"prompt_tokens": 1, "completion_tokens": 1}},
    }
    with open(log, "wb") as out:
        out.write(json.dumps(good).encode() + b"\n")
        out.write(b'{"body": "' + b"x" * (50 * 1024 * 1024) + b'"}\n')
        out.write(json.dumps({**good, "request_id": "ok2"}).encode() + b"\n")
    result, _ = peak_rss_mb_of(
        ["ingest", str(log)],
        {"TOKMETER_STORE": str(tmp_path / "s"), "TOKMETER_MAX_LINE_BYTES": str(8 * 1024 * 1024)},
    )
    assert result.returncode == 0, result.stderr
    assert "rows written       2" in result.stdout and "line longer than 8,388,608 bytes" in result.stdout


def test_an_event_storm_of_a_million_events(tmp_path: Path) -> None:
    chunk = 'data: {"choices":[{"delta":{"content":"."}}]}\n\n'  # 46 bytes: 46 MB in all
    body = (
        chunk * 1_000_000 + 'data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":'
        '{"prompt_tokens":3,"completion_tokens":1000000}}\n\ndata: [DONE]\n\n'
    )
    (tmp_path / "storm.sse").write_text(body)
    (tmp_path / "storm.meta.json").write_text(
        json.dumps({"ts": "2026-11-03T10:00:00Z", "provider": "openai", "path": "/v1/chat/completions"})
    )
    result = run_cli("ingest", str(tmp_path / "storm.sse"), env={"TOKMETER_STORE": str(tmp_path / "s")})
    assert result.returncode == 0 and "rows written       1" in result.stdout


def test_a_gzip_bomb_is_set_aside(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.jsonl.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as out:
        block = b"\0" * (16 * 1024 * 1024)
        for _ in range(40):  # 640 MiB of zeros in about 600 KiB
            out.write(block)
    store = Store(tmp_path / "s")
    report = run_ingest([bomb], store)
    assert report.rows_written == 0 and len(report.bad) == 1
    assert "decompression bomb" in report.bad[0].reason or "longer than" in report.bad[0].reason


def test_unreadable_files_and_symlink_loops(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "good.jsonl").write_text(
        json.dumps(
            {
                "ts": "2026-11-03T10:00:00Z",
                "request_id": "g",
                "provider": "openai",
                "body": {"object": "chat.completion", "usage": {"prompt_tokens": 1, "completion_tokens": 1}},
            }
        )
        + "\n"
    )
    (tree / "dangling.jsonl").symlink_to(tmp_path / "nowhere.jsonl")
    (tree / "loop.jsonl").symlink_to(tree / "loop.jsonl")
    (tree / "sub" / "up").symlink_to(tree, target_is_directory=True)  # a directory loop
    report = run_ingest([tree], Store(tmp_path / "s"))
    assert report.rows_written == 1
    assert sorted(Path(b.source).name for b in report.bad) == ["dangling.jsonl", "loop.jsonl"]
    assert all(b.reason.startswith("cannot read file") for b in report.bad)
