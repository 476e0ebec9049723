"""Formats side by side: telling the JSON Lines flavours apart, compressed files (.gz, .zst), --format,
and one directory mixing every format into one consistent store."""

from __future__ import annotations

import gzip
import json
import shutil
import time
from pathlib import Path

import pytest
import zstandard

from conftest import REPO, SAMPLE_LOGS, run_cli
from tokmeter.extract import extract_row
from tokmeter.sources import BadCapture, Capture, detect_format, read_captures
from tokmeter.sources.sniff import top_level_keys

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


@pytest.mark.parametrize(
    ("path", "fmt"),
    [
        (SAMPLE_LOGS / "gateway-2026-11.jsonl", "capture-log"),
        (CLAUDE_FILE, "claude-code"),
        (next(DATA.rglob("agent-*.jsonl")), "claude-code"),
        (CODEX_FILE, "codex"),
        (TOKEN_LOG, "token-log"),
    ],
)
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
    huge = {
        "parentUuid": None,
        "isSidechain": False,
        "type": "user",
        "sessionId": "s",
        "message": {"role": "user", "content": "x" * 3_000_000},
        "timestamp": "2026-11-03T10:00:00Z",
    }
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps(huge) + "\n" + CLAUDE_FILE.read_text())
    assert detect_format(path) == "claude-code"
    assert len([c for c in read_captures(path) if isinstance(c, Capture)]) == 7


def test_a_head_cut_inside_a_long_body_is_read_in_linear_time() -> None:
    """A capture record's head is cut inside its escaped body: the keys before it are found, none from
    inside it, and quickly (the string pattern once backtracked from every escaped quote: 0.3 s per file
    at 4 KB heads, quadratic in the head's length)."""
    body = "".join(f'data: {{"id": "chunk-{i}", "text": "a\\"b"}}\n\n' for i in range(3000))
    head = json.dumps({"ts": "2026-11-01T00:00:00Z", "status": 200, "body": body}).encode()[:65_536]
    started = time.perf_counter()
    keys = top_level_keys(head)
    assert keys == ["ts", "status", "body"]
    assert time.perf_counter() - started < 1.0


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
        return [
            (r["request_id"], r["input_tokens"], r["output_tokens"], r["source_offset"])
            for r in (extract_row(c) for c in read_captures(path) if isinstance(c, Capture))
        ]

    plain = rows(CODEX_FILE)
    assert rows(zst(CODEX_FILE, tmp_path / CODEX_FILE.name.replace(".jsonl", ".jsonl.zst"))) == plain
    assert rows(gz(CODEX_FILE, tmp_path / "b.jsonl.gz")) == plain
    sample = SAMPLE_LOGS / "gateway-2026-11.jsonl"
    assert len(rows(zst(sample, tmp_path / "gateway.jsonl.zst"))) == len(rows(sample)) == 10


def test_corrupt_zst_is_a_bad_capture_and_the_rest_is_read(isolated_store: Path, tmp_path: Path) -> None:
    good = zst(TOKEN_LOG, tmp_path / "token-usage.jsonl.zst")
    data = bytearray(good.read_bytes())
    data[len(data) // 2 :] = b"\x00" * (len(data) - len(data) // 2)
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
    shutil.copy(
        DATA
        / "claude"
        / "projects"
        / "-home-alice-work-api"
        / next((DATA / "claude" / "projects" / "-home-alice-work-api").glob("*.jsonl")).name,
        mixed / "resumed-copy.jsonl",
    )

    done = run_cli("ingest", str(mixed))
    assert done.returncode == 0, done.stderr
    summary = done.stdout
    assert (
        "captures           33  (11 capture-log, 14 claude-code, 3 codex, 1 json, 1 sse, 3 token-log)"
        in summary
    )
    # dropped: 2 in the gateway sample, 2 within Claude Code, 3 of the resumed session's copy
    assert "rows written       25" in summary and "duplicates dropped 7" in summary
    again = run_cli("ingest", str(mixed))
    assert "rows written       0" in again.stdout  # idempotent across formats

    report = json.loads(run_cli("report", "--by", "provider", "--format", "json").stdout)
    requests = {r["provider"]: r["requests"] for r in report["rows"]}
    assert requests == {"anthropic": 15, "openai": 9, "copilot": 1}
    assert report["totals"]["requests"] == 25


# ---- formats by content, location as a hint --------------------------------------------------------------


def old_claude_lines(count: int) -> str:
    """Claude Code lines as older versions (and ccusage's fixtures) write them: no parentUuid / isSidechain."""
    return "".join(
        json.dumps(
            {
                "timestamp": f"2026-11-03T10:0{n}:00.000Z",
                "sessionId": "session-alpha",
                "requestId": f"req-alpha-{n}",
                "message": {
                    "role": "assistant",
                    "id": f"msg-alpha-{n}",
                    "model": "claude-sonnet-4-20250514",
                    "usage": {
                        "input_tokens": 100 + n,
                        "output_tokens": 50,
                        "cache_creation_input_tokens": 25,
                        "cache_read_input_tokens": 10,
                    },
                },
                "costUSD": 0.12,
                "version": "1.0.0",
            },
            separators=(",", ":"),
        )
        + "\n"
        for n in range(count)
    )


def test_old_claude_code_lines_are_told_by_their_content(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "projects" / "project-alpha" / "session-alpha" / "chat.jsonl"  # no .claude
    path.parent.mkdir(parents=True)
    path.write_text(old_claude_lines(3))
    assert detect_format(path) == "claude-code"
    bare = tmp_path / "bare.jsonl"  # ccusage's minimal line: a timestamp and message.usage
    bare.write_text(
        json.dumps(
            {
                "timestamp": "2026-11-03T10:00:00Z",
                "message": {"usage": {"input_tokens": 1, "output_tokens": 2}},
            }
        )
        + "\n"
    )
    assert detect_format(bare) == "claude-code"


def test_claude_config_dir_without_dot_claude_is_read_as_transcripts(
    isolated_store: Path, tmp_path: Path
) -> None:
    """The issue's case: CLAUDE_CONFIG_DIR elsewhere, old lines; and lines that tell nothing, read as
    transcripts because --claude-code found them (the same file given as a PATH is of no known format)."""
    projects = tmp_path / "cfg" / "projects" / "project-alpha"
    projects.mkdir(parents=True)
    (projects / "session-alpha.jsonl").write_text(old_claude_lines(3))
    silent = "".join(json.dumps({"type": "future-kind", "n": n}) + "\n" for n in range(9))
    (projects / "session-beta.jsonl").write_text(silent + old_claude_lines(1).replace("alpha", "beta"))
    env = {"CLAUDE_CONFIG_DIR": str(tmp_path / "cfg"), "HOME": str(tmp_path / "home")}
    for number, extra in enumerate(([], ["--resume"], ["--include", "*.jsonl"])):
        store = ["--store", str(tmp_path / f"store{number}")]
        done = run_cli("ingest", "--claude-code", *extra, *store, env=env)
        assert done.returncode == 0, done.stderr
        assert "rows written       4" in done.stdout and "bad captures       0" in done.stdout, done.stdout
    alone = run_cli("ingest", str(projects / "session-beta.jsonl"))
    assert "session-beta.jsonl: no known capture format; records have fields n, type" in alone.stdout


def test_parallel_workers_get_the_hint(isolated_store: Path, tmp_path: Path) -> None:
    projects = tmp_path / "cfg" / "projects" / "p"
    projects.mkdir(parents=True)
    silent = "".join(json.dumps({"type": "future-kind", "n": n}) + "\n" for n in range(9))
    for name in ("a", "b"):
        (projects / f"{name}.jsonl").write_text(silent + old_claude_lines(2).replace("alpha", name))
    env = {
        "CLAUDE_CONFIG_DIR": str(tmp_path / "cfg"),
        "TOKMETER_PARALLEL_MIN_BYTES": "1",
        "TOKMETER_WORKERS": "2",
    }
    done = run_cli("ingest", "--claude-code", env=env)
    assert done.returncode == 0, done.stderr
    assert "rows written       4" in done.stdout and "bad captures       0" in done.stdout, done.stdout


def test_json_lines_of_no_known_format_are_one_bad_file(isolated_store: Path, tmp_path: Path) -> None:
    """A gateway's own log (proxy.log, other field names) is reported, never read as one response."""
    records = [
        {
            "timestamp": f"2026-11-03T10:00:0{n}Z",
            "id": f"private-value-{n}",
            "response": {"status": 200, "usage": {"prompt_tokens": 12, "completion_tokens": 3}},
        }
        for n in range(3)
    ]
    logs = tmp_path / "logs"
    logs.mkdir()
    for name in ("proxy.log", "gateway.jsonl"):
        (logs / name).write_text("".join(json.dumps(r) + "\n" for r in records))
    done = run_cli("ingest", str(logs / "proxy.log"), str(logs))
    assert done.returncode == 0, done.stderr
    for name in ("proxy.log", "gateway.jsonl"):
        assert f"{name}: no known capture format; records have fields id, response, timestamp" in done.stdout
    assert "rows written       0" in done.stdout and "private-value" not in done.stdout
    listed = run_cli("quarantine", "--format", "jsonl")
    assert listed.returncode == 0 and "private-value" not in listed.stdout
    assert run_cli("ingest", "--strict", str(logs)).returncode == 4


def test_a_pretty_printed_document_is_still_one_response(tmp_path: Path) -> None:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10},
    }
    path = tmp_path / "response.txt"
    path.write_text(json.dumps(body, indent=2))
    assert detect_format(path) == "json"
    (row,) = [extract_row(c) for c in read_captures(path) if isinstance(c, Capture)]
    assert (row["input_tokens"], row["output_tokens"]) == (body["usage"]["prompt_tokens"], 1)
