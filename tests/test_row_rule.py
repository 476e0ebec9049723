"""The rule for what is a row (``extract/rule.py``): garbled captures are bad with a reason, responses of
known APIs (errors and cut responses included) are rows whose missing usage says why; a capture nothing
names gets a fallback id that never collapses two captures; the summary counts it all."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import run_cli
from tokmeter.errors import BadCaptureError
from tokmeter.extract import read_capture
from tokmeter.extract.rule import MISSING_REASONS
from tokmeter.sources import Capture, read_captures

TS = "2026-11-03T10:00:00Z"
CHAT = "/v1/chat/completions"
CHAT_DOC = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "gpt-4o-mini",
    "usage": {"prompt_tokens": 4, "completion_tokens": 2},
}
CUT_STREAM = 'data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hel'


def capture(body: object, offset: int = 0, **meta: object) -> Capture:
    fields = {"ts": TS, "provider": "openai", "path": CHAT, "status": 200, **meta}
    return Capture("cap.jsonl", offset, {k: v for k, v in fields.items() if v is not None}, body)


BAD = {
    "8 MB of 'a', no status": (
        capture("a" * 8_000_000, status=None, path=None),
        "not a response of any known API",
    ),
    "100,000 '[', no status": (capture("[" * 100_000, status=None), "not a response of any known API"),
    "prompt_tokens -5": (
        capture(json.dumps({**CHAT_DOC, "usage": {"prompt_tokens": -5}})),
        "usage.prompt_tokens is -5: token counts must be non-negative integers",
    ),
    "prompt_tokens 1e309": (
        capture('{"object": "chat.completion", "usage": {"prompt_tokens": 1e309}}'),
        "not valid JSON",
    ),
    "prompt_tokens 2.5": (capture({**CHAT_DOC, "usage": {"prompt_tokens": 2.5}}), "non-negative integers"),
    "usage is a string": (capture({**CHAT_DOC, "usage": "lots"}), "usage is a string of 4 character(s)"),
    "over 10^9 tokens": (
        capture({**CHAT_DOC, "usage": {"prompt_tokens": 10**9 + 1}}),
        "absurd for one request",
    ),
    "'response' instead of 'body'": (capture(None, status=None, response=CHAT_DOC), "no body"),
    "cut JSON on no known path": (
        capture(json.dumps(CHAT_DOC)[:30], path=None),
        "cut short, on no known API",
    ),
    "object of no API on chat's path": (capture({"hello": "world"}), "none of a response's fields"),
    "plain text 2xx": (capture("all good"), "not a response of any known API"),
}


@pytest.mark.parametrize("name", BAD)
def test_garbled_captures_are_bad_with_a_reason(name: str) -> None:
    item, reason = BAD[name]
    with pytest.raises(BadCaptureError, match=re.escape(reason)):
        read_capture(item)


ROWS = {
    "stream cut before usage": capture(": ping\n\n", request={"stream": True}),
    "stream ended without usage": capture("data: [DONE]\n\n"),
    "error response": capture("<html>502 Bad Gateway</html>", status=502),
    "body not recorded": capture(""),
    "JSON body cut": capture(json.dumps(CHAT_DOC)[:40]),
    "batch request not run": Capture(
        "msgbatch_1_results.jsonl",
        0,
        {"ts": TS},
        {"custom_id": "a", "result": {"type": "expired"}},
        1,
        None,
        "anthropic-batch",
    ),
    "response without usage": capture(
        {"id": "resp_1", "object": "response", "status": "queued"}, path="/v1/responses"
    ),
}


@pytest.mark.parametrize("reason", ROWS)
def test_responses_without_usage_are_rows_that_say_why(reason: str) -> None:
    row, notes = read_capture(ROWS[reason])
    assert row["usage_source"] == "missing" and notes.missing == reason
    assert row["complete"] is (
        reason not in ("stream cut before usage", "JSON body cut", "body not recorded")
    )


def test_every_missing_reason_is_covered() -> None:
    assert set(ROWS) == set(MISSING_REASONS)


def test_error_bodies_without_a_status_are_rows() -> None:
    for doc in (
        {"error": {"message": "slow down", "type": "rate_limit_error"}},
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    ):
        row, notes = read_capture(capture(json.dumps(doc), status=None, path=None))
        assert (row["status"], row["usage_source"], notes.missing) == (None, "missing", "error response")


def test_fallback_ids_are_stable_and_never_collapse(tmp_path: Path) -> None:
    anonymous = {"object": "chat.completion", "usage": {"prompt_tokens": 1, "completion_tokens": 1}}
    variants = [
        capture(anonymous),
        capture(anonymous, offset=1),
        capture(anonymous, ts="2026-11-03T10:00:01Z"),
        capture(anonymous, path="/v1/other/chat/completions"),
        capture(anonymous, method="GET"),
        capture({**anonymous, "model": "x"}),
        capture(""),
        capture("", offset=7),
    ]
    ids = [read_capture(item)[0]["request_id"] for item in variants]
    assert len(set(ids)) == len(ids) and all(i.startswith("sha256:") for i in ids)
    assert all(read_capture(item)[1].fallback_id for item in variants)
    named = read_capture(capture({**anonymous, "id": "chatcmpl-9"}))
    assert named[0]["request_id"] == "chatcmpl-9" and not named[1].fallback_id
    log = tmp_path / "anon.jsonl"
    log.write_text(
        "".join(
            json.dumps({"ts": TS, "path": CHAT, "status": 200, "body": anonymous}) + "\n" for _ in range(3)
        )
    )  # three identical lines: three requests
    first, again = ([read_capture(c)[0]["request_id"] for c in read_captures(log)] for _ in range(2))
    assert first == again and len(set(first)) == 3


def har(entries: int) -> dict:
    """A recording proxy that keeps no bodies and no request-id headers (mitmproxy stream_large_bodies)."""
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "mitmproxy"},
            "entries": [
                {
                    "startedDateTime": TS,
                    "request": {"method": "POST", "url": f"https://api.openai.com{CHAT}", "headers": []},
                    "response": {
                        "status": 200,
                        "headers": [],
                        "content": {"size": 0, "mimeType": "text/event-stream"},
                    },
                }
                for _ in range(entries)
            ],
        }
    }


def summary_number(stdout: str, label: str) -> int:
    line = next(line for line in stdout.splitlines() if line.strip().startswith(label))
    return int(line.split()[len(label.split())].replace(",", ""))


def test_summary_counts_missing_usage_and_warns_of_fallback_ids(tmp_path: Path) -> None:
    entries = 12
    (tmp_path / "proxy.har").write_text(json.dumps(har(entries)))
    cut, errors = 4, 3
    records = [
        {
            "ts": TS,
            "request_id": f"cut-{n}",
            "provider": "openai",
            "path": CHAT,
            "status": 200,
            "request": {"stream": True},
            "body": ": ping\n\n",
        }
        for n in range(cut)
    ]
    records += [
        {
            "ts": TS,
            "request_id": f"err-{n}",
            "provider": "openai",
            "path": CHAT,
            "status": 429,
            "body": '{"error": {"message": "slow down"}}',
        }
        for n in range(errors)
    ]
    (tmp_path / "gateway.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    done = run_cli("ingest", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert summary_number(done.stdout, "rows written") == entries + cut + errors
    assert (
        f"no usage           {entries + cut + errors} row(s) with no usage: {entries} bodies not recorded, "
        f"{cut} streams cut before usage, {errors} error responses"
    ) in done.stdout
    assert summary_number(done.stdout, "fallback ids") == entries
    again = run_cli("ingest", str(tmp_path / "proxy.har"))
    assert summary_number(again.stdout, "rows written") == 0  # the same captures: the same ids


def test_resume_counts_like_ingest(tmp_path: Path) -> None:
    """``ingest --resume`` (the follower's reader) counts missing usage and fallback ids like a plain run."""
    log = tmp_path / "gateway.jsonl"
    log.write_text(
        "".join(
            json.dumps({"ts": f"2026-11-03T10:00:0{n}Z", "path": CHAT, "status": 200, "body": body}) + "\n"
            for n, body in enumerate([": ping\n\n", "", '{"object": "chat.completion"}'])
        )
    )
    plain = run_cli("ingest", str(log), env={"TOKMETER_STORE": str(tmp_path / "a")})
    resumed = run_cli("ingest", "--resume", str(log), env={"TOKMETER_STORE": str(tmp_path / "b")})
    assert plain.returncode == resumed.returncode == 0, plain.stderr + resumed.stderr
    counted = [
        [line for line in out.stdout.splitlines() if line.strip().startswith(("no usage", "fallback ids"))]
        for out in (plain, resumed)
    ]
    assert counted[0] == counted[1] and len(counted[0]) == 2
