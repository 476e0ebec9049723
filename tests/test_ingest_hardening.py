"""The ingest side of the logged-record formats and the coding agents, attacked together: compressed
files and their sidecars, following, dedup across sources, bad records (hardening, round two)."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest
import zstandard

from conftest import REPO, SAMPLE_LOGS, run_cli
from sources_helpers import SAMPLES, rows_of
from tokmeter.errors import BadCaptureError
from tokmeter.extract import extract_row
from tokmeter.ingest.follow import FollowOptions, run_follow
from tokmeter.sources import BadCapture, Capture, detect_format, read_captures
from tokmeter.store.local import Store

RESPONSES = SAMPLE_LOGS / "responses"
RESUME = FollowOptions(follow=False, settle=0.0)


def _rows(path: Path) -> list[dict]:
    return [
        {k: v for k, v in extract_row(c).items() if k != "source"}
        for c in read_captures(path)
        if isinstance(c, Capture)
    ]


@pytest.mark.parametrize("name", ["an-cut.sse", "oa-chat.json"])
def test_a_zst_response_file_keeps_its_sidecar(name: str, tmp_path: Path) -> None:
    """``NAME.sse.zst`` reads ``NAME.meta.json`` as ``NAME.sse.gz`` does (it was looked up as
    ``NAME.sse.meta.json``, so the rows lost their user, time and request id)."""
    shutil.copy(RESPONSES / (Path(name).stem + ".meta.json"), tmp_path)
    packed = tmp_path / (name + ".zst")
    packed.write_bytes(zstandard.ZstdCompressor().compress((RESPONSES / name).read_bytes()))
    shutil.copystat(RESPONSES / name, packed)
    assert _rows(packed) == _rows(RESPONSES / name) != []


AGENT_DATA = REPO / "tests" / "data" / "agents"
# agent -> (a file of its fixture, the key of a token count in it[, which of them: the first by default])
AGENT_COUNTS: dict[str, tuple] = {
    "kimi": ("kimi/home/sessions/*/*/wire.jsonl", "input_other"),
    "qwen": ("qwen/home/projects/*/chats/*.jsonl", "promptTokenCount"),
    "copilot": ("copilot/home/otel/copilot-otel.jsonl", "gen_ai.usage.input_tokens", 1),  # a chat span's
    "codebuff": ("codebuff/manicode/projects/*/chats/*/chat-messages.json", "inputTokens"),
    "droid": ("droid/factory/sessions/*/a7c1*.settings.json", "inputTokens"),
    "amp": ("amp/data/threads/T-3f9c*.json", "inputTokens"),
    "pi": ("pi/sessions/*/*.jsonl", "input"),
    "gemini": ("gemini/tmp/webapp/chats/*.jsonl", "input"),
    "opencode": ("opencode/data/storage/message/ses_alpha/msg_a1.json", "input"),
}


def _read(path: Path, agent: str) -> tuple[list[dict], list[BadCapture]]:
    rows, bad = [], []
    for item in read_captures(path, hint=agent):
        if isinstance(item, BadCapture):
            bad.append(item)
        else:
            rows.append(extract_row(item))
    return rows, bad


@pytest.mark.parametrize("value", ["-5", '"twelve"', "1.5", "true"])
@pytest.mark.parametrize("agent", sorted(AGENT_COUNTS))
def test_an_agents_bad_token_count_sets_its_record_aside(agent: str, value: str, tmp_path: Path) -> None:
    """A negative, fractional or non-numeric token count in an agent's log was read as 0 tokens: a call
    counted as (nearly) free. Its record is now a bad capture naming the file and line; the rest is read."""
    pattern, key, *which = AGENT_COUNTS[agent]
    original = next(AGENT_DATA.glob(pattern))
    copy = tmp_path / original.relative_to(AGENT_DATA)
    copy.parent.mkdir(parents=True)
    text = original.read_text()
    found = list(re.finditer(rf'"{re.escape(key)}": ?(\d+)', text))[which[0] if which else 0]
    assert int(found.group(1)) > 0
    copy.write_text(text[: found.start(1)] + value + text[found.end(1) :])
    shutil.copystat(original, copy)
    before, _ = _read(original, agent)
    after, bad = _read(copy, agent)
    assert len(bad) == 1 and "non-negative whole numbers" in bad[0].reason, [b.reason for b in bad]
    assert bad[0].source == str(copy) and (bad[0].line is not None) == copy.name.endswith(".jsonl")
    assert len(after) == len(before) - 1
    assert {r["request_id"] for r in after} < {r["request_id"] for r in before}


@pytest.mark.parametrize(
    ("agent", "database", "column"),
    [
        ("goose", "goose/share/sessions/sessions.db", "accumulated_input_tokens"),
        ("hermes", "hermes/home/state.db", "input_tokens"),
    ],
)
def test_a_session_databases_bad_count_sets_its_session_aside(
    agent: str, database: str, column: str, tmp_path: Path
) -> None:
    copy = tmp_path / database
    copy.parent.mkdir(parents=True)
    shutil.copy2(AGENT_DATA / database, copy)
    with closing(sqlite3.connect(copy)) as db, db:
        first = db.execute(f"SELECT min(rowid) FROM sessions WHERE {column} > 0").fetchone()[0]
        db.execute(f"UPDATE sessions SET {column} = -5 WHERE rowid = ?", (first,))
    before, _ = _read(AGENT_DATA / database, agent)
    after, bad = _read(copy, agent)
    assert [(b.line, "non-negative whole numbers" in b.reason) for b in bad] == [(first, True)]
    assert len(after) == len(before) - 1


def _capture_line(path: str, body: dict) -> str:
    record = {"ts": "2026-11-03T10:00:00Z", "status": 200, "path": path, "request_id": path, "body": body}
    return json.dumps({**record, "body": json.dumps(body)})


def test_a_usage_of_another_shape_is_no_free_request(tmp_path: Path) -> None:
    """A usage object with none of its API's token fields read as 0 tokens, reported and complete: a
    free request. Forcing ``--format claude-code`` on a pi session (whose usage says ``input`` /
    ``output``) stored every call at $0 that way. Both are now bad captures."""
    foreign = {"input": 3, "output": 640, "cacheRead": 0}
    log = tmp_path / "capture.jsonl"
    bodies = [
        ("/v1/messages", {"type": "message", "id": "msg_1", "model": "claude-sonnet-4-5", "usage": foreign}),
        (
            "/v1/chat/completions",
            {"object": "chat.completion", "model": "gpt-4o", "choices": [], "usage": foreign},
        ),
        ("/v1/responses", {"object": "response", "id": "resp_1", "model": "gpt-4o", "usage": foreign}),
    ]
    log.write_text("".join(_capture_line(path, body) + "\n" for path, body in bodies))
    pi_session = next((AGENT_DATA / "pi").rglob("*.jsonl"))
    for path, fmt in ((log, "capture-log"), (pi_session, "claude-code")):
        items = list(read_captures(path, fmt))
        assert items
        for item in items:
            assert isinstance(item, Capture)
            with pytest.raises(BadCaptureError, match=r"none of .*not this API's usage object"):
                extract_row(item)


TRANSCRIPTS = REPO / "tests" / "data" / "transcripts"


@pytest.mark.parametrize(
    "sample",
    [
        TRANSCRIPTS / "token-usage.jsonl",
        next((AGENT_DATA / "kimi").rglob("wire.jsonl")),
        next((AGENT_DATA / "copilot").rglob("*.jsonl")),
        next((TRANSCRIPTS / "codex").rglob("*.jsonl")),
    ],
    ids=["token-log", "kimi", "copilot", "codex"],
)
def test_resume_leaves_a_half_written_line_of_a_whole_read_file(sample: Path, tmp_path: Path) -> None:
    """Agent sessions and token logs are read whole by ``--follow`` / ``--resume``: a last line still being
    written was a bad capture (quarantined, counted) before its newline came. It is now left for the
    read after the file changed, and the rows end up those of the whole file."""
    copy = tmp_path / "logs" / sample.relative_to(REPO)
    copy.parent.mkdir(parents=True)
    data = sample.read_bytes()
    cut = len(data.rstrip(b"\n")) - 1  # the last line but its closing brace
    copy.write_bytes(data[:cut])
    store = Store(tmp_path / "store")
    first = run_follow([tmp_path / "logs"], store, RESUME)
    with copy.open("ab") as handle:
        handle.write(data[cut:])
    again = run_follow([tmp_path / "logs"], store, RESUME)
    assert first.bad == [] and again.bad == []
    whole = Store(tmp_path / "whole")
    run_follow([tmp_path / "logs"], whole, RESUME)
    assert sorted(store.scan().collect()["request_id"]) == sorted(whole.scan().collect()["request_id"])


AGENT_FILES = sorted(
    p
    for p in AGENT_DATA.rglob("*")
    if p.is_file() and p.suffix in (".json", ".jsonl") and p.name != "ccusage-daily.json"
)


@pytest.mark.parametrize("packer", ["gz", "zst"])
def test_a_compressed_agent_file_is_read_as_the_plain_one(packer: str, tmp_path: Path) -> None:
    """A Droid ``<session>.settings.json.gz`` or a Codebuff ``chat-messages.json.zst`` was told by its
    compressed name: read as a response body (``json``), its session a bad capture. Every agent's file,
    compressed, is now its agent's and gives the plain file's rows."""
    pack = gzip.compress if packer == "gz" else zstandard.ZstdCompressor().compress
    shutil.copytree(AGENT_DATA, tmp_path / "agents")  # with the files beside them (.project_root, ...)
    for original in AGENT_FILES:
        plain = tmp_path / "agents" / original.relative_to(AGENT_DATA)
        packed = plain.with_name(f"{plain.name}.{packer}")
        packed.write_bytes(pack(plain.read_bytes()))
        shutil.copystat(plain, packed)
        assert detect_format(packed) == detect_format(plain), original
        assert _outcomes(packed) == _outcomes(plain), original


def _outcomes(path: Path) -> list[object]:
    """Each capture's row (without its source), or why it is none."""
    found: list[object] = []
    for item in read_captures(path):
        if isinstance(item, BadCapture):
            found.append(item.reason)
            continue
        try:
            found.append({k: v for k, v in extract_row(item).items() if k != "source"})
        except BadCaptureError as exc:
            found.append(str(exc))
    return found


def test_follow_reads_a_logged_object_written_without_a_final_newline(tmp_path: Path) -> None:
    """LiteLLM's S3 / GCS loggers write one ``json.dumps`` payload per object, no newline after it. A
    followed folder the bucket is synced into held that line back for its newline, forever: the object
    was never read (``--resume`` and a plain ingest read it). A whole record that stays unterminated past
    the settle time is now read; the newline, if it comes, adds nothing."""
    sample = next((SAMPLES / "litellm").glob("time-*.json"))
    folder = tmp_path / "bucket"
    folder.mkdir()
    store, stop = Store(tmp_path / "store"), threading.Event()
    options = FollowOptions(poll=True, settle=0.2, flush_interval=0.1)
    follower = threading.Thread(target=run_follow, args=([folder], store, options), kwargs={"stop": stop})
    follower.start()
    try:
        (folder / sample.name).write_bytes(sample.read_bytes().rstrip(b"\n"))
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and not store.scan().collect().height:
            time.sleep(0.2)
    finally:
        stop.set()
        follower.join(10)
    assert store.scan().collect()["request_id"].to_list() == [r["request_id"] for r in rows_of(sample)]


def test_droids_session_transcripts_are_no_bad_captures(isolated_store: Path, tmp_path: Path) -> None:
    """``ingest ~/.factory/sessions`` set every session's transcript (``<session>.jsonl``, no usage in it:
    the totals are in ``<session>.settings.json``) aside as a file of no known format, and ``--strict``
    failed. Their location now tells them Droid's; only the totals give rows."""
    sessions = tmp_path / ".factory" / "sessions"
    shutil.copytree(AGENT_DATA / "droid" / "factory" / "sessions", sessions)
    done = run_cli("ingest", "--strict", str(sessions))
    assert done.returncode == 0, done.stdout + done.stderr
    stored = Store(isolated_store).scan().collect()
    assert sorted(stored["request_id"]) == sorted(
        row["request_id"] for path in sessions.rglob("*.settings.json") for row in _rows(path)
    )
