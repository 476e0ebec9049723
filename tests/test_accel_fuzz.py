"""Fuzzing the accelerator (src/tokmeter/extract/_accel.c) against the pure-Python path: every line gives
the same capture or the same reason to set it aside, and the same row (``test_accel.check``), and the
body the native scan accepts is the one orjson decodes. The inputs: synthetic event streams of the
three streaming APIs with odd blocks (comments, ids, bare ``data``, CR, BOM, whitespace around a usage
key's colon), byte mutations of capture-log lines (escapes, backslash runs across the 64-byte blocks of
the vector scan, invalid UTF-8, NUL, bodies that are no string, duplicate keys) and every truncation of
a record line. This file runs a few thousand of them with fixed seeds; ``bench/fuzz_accel.py`` runs the
same for as long as it is given, under AddressSanitizer and UBSan as its docstring says."""

from __future__ import annotations

import json
import random
from collections import Counter

import orjson
import pytest

from test_accel import ENCODERS, check
from tokmeter.capture import EscapedBody
from tokmeter.extract import accel

pytestmark = pytest.mark.skipif(not accel.BUILT, reason="the accelerator is not built here")

WHITESPACE = ["", " ", "  ", "\t", "\n", "\u00a0", "\x0c", "\x0b", "\x1c", "\u2028"]
ODD_TEXT = ["\\", '"', "/", "\\n", "\x00", "\u2028", "\ud83d\ude00", "é", "\ufeff", "\n\n", "data:", "[DONE]"]


def chat_chunk(rng: random.Random) -> str:
    delta = rng.choice(["hi", "a\\b", '"q"', "/", "é😀", "\n\n", "data: x", '"usage": 1', "[DONE]"])
    chunk: dict[str, object] = {
        "id": rng.choice(["c1", "", None, "cé"]),
        "object": "chat.completion.chunk",
        "model": rng.choice(["gpt-4o", "", None, "gpt/4o"]),
        "choices": [{"index": 0, "delta": {"content": delta}, "finish_reason": rng.choice([None, "stop"])}],
    }
    if rng.random() < 0.3:
        usage = {"prompt_tokens": rng.randint(0, 99), "completion_tokens": rng.randint(0, 99)}
        chunk["usage"] = rng.choice([None, usage, {}, 5])
    text = json.dumps(chunk, ensure_ascii=rng.random() < 0.5)
    for key in ('"usage":', '"finish_reason":'):
        if rng.random() < 0.3:
            text = text.replace(key, key[:-1] + rng.choice(WHITESPACE) + ":" + rng.choice(WHITESPACE), 1)
    return text


def api_event(rng: random.Random, family: str) -> tuple[str, str]:
    if family == "anthropic":
        kind = rng.choice(["message_start", "message_delta", "content_block_delta", "message_stop", "ping"])
        event: dict[str, object] = {"type": kind}
        if kind == "message_start":
            event["message"] = {
                "id": "m",
                "model": "claude-x",
                "usage": {"input_tokens": 4, "output_tokens": 1},
            }
        elif kind == "message_delta":
            event["usage"] = {"output_tokens": rng.randint(0, 99)}
        return kind, json.dumps(event)
    kind = rng.choice(["response.created", "response.output_text.delta", "response.completed"])
    event = {"type": kind}
    if kind != "response.output_text.delta":
        usage = (
            {"input_tokens": 3, "output_tokens": rng.randint(0, 9)} if kind == "response.completed" else None
        )
        event["response"] = {"id": "r", "model": "gpt-4o", "usage": usage}
    return kind, json.dumps(event)


def block(rng: random.Random, family: str) -> str:
    odd = rng.random()
    if odd < 0.18:
        return rng.choice(
            [
                ": comment",
                ': "usage":1',
                "data: [DONE]",
                "data",
                "id: 1\ndata: {}",
                "id: \x00",
                "event: x",
                "retry: 5",
            ]
        )
    if family == "chat":
        lines = ["data: " + chat_chunk(rng) for _ in range(1 + (rng.random() < 0.1))]
        if rng.random() < 0.1:
            lines.insert(0, "event: message_start")
        return "\n".join(lines)
    kind, data = api_event(rng, family)
    colon = rng.choice([": ", ":"])
    return f"event{colon}{kind}\ndata{colon}{data}" if rng.random() < 0.9 else f"data: {data}"


PATHS = {"chat": "/v1/chat/completions", "anthropic": "/v1/messages", "responses": "/v1/responses"}


def synthetic_line(rng: random.Random) -> bytes | None:
    """A capture-log line with an event stream built from odd and ordinary blocks (None: not encodable)."""
    family = rng.choice(["chat", "chat", "anthropic", "responses"])
    blocks = [block(rng, family) for _ in range(rng.randint(0, 40))]
    text = "".join(b + rng.choice(["\n\n", "\n\n", "\n", "\n\n\n"]) for b in blocks)
    if rng.random() < 0.2:
        text = text.rstrip("\n")
    if rng.random() < 0.05:
        text = "\ufeff" + text
    if rng.random() < 0.05:
        text = text.replace("\n", "\r\n", 1)
    for _ in range(rng.choice([0, 0, 1, 3])):
        at = rng.randint(0, len(text))
        text = text[:at] + rng.choice(ODD_TEXT) + text[at:]
    path = rng.choice([PATHS[family], None])
    record = {"ts": "2026-11-03T10:00:00Z", "path": path, "status": rng.choice([200, 429]), "body": text}
    try:
        return rng.choice(ENCODERS)(record, rng) + b"\n"
    except (TypeError, ValueError, UnicodeEncodeError):  # a lone surrogate
        return None


PIECES = [
    *(
        b"\\",
        b'"',
        b'\\"',
        b"\\\\",
        b"\\n",
        b"\\n\\n",
        b"\\r",
        b"\\t",
        b"\\/",
        b"\\b",
        b"\\f",
        b"\\x",
        b"\\u",
    ),
    *(
        b"\\u0000",
        b"\\u0041",
        b"\\u00e9",
        b"\\ud83d\\ude00",
        b"\\ud800",
        b"\\udc00",
        b"\\ude00\\ud83d",
        b"\\u12",
    ),
    *(
        b"\x00",
        b"\x01",
        b"\x1f",
        b"\x7f",
        b"\x80",
        b"\xc3",
        b"\xc3\xa9",
        b"\xed\xa0\x80",
        b"\xf4\x90\x80\x80",
    ),
    *(b"\xc0\xaf", b"\xef\xbb\xbf", b"\xe2\x80\xa8", b"{", b"}", b"[", b"]", b",", b":", b" ", b"\n", b"\r"),
    *(b'"body":', b'"body": 1', b'"body": null', b'"body": {"a": "b"}', b'"b\\u006fdy": "x"', b"data: "),
    *(b"\\ndata:", b"\\ndata", b'\\"usage\\":null', b'\\"usage\\" :1', b"[DONE]", b"message_", b"\\u00a0"),
]
NOT_A_STRING = [b'"body": 7, "x":', b'"body": [', b'"body": {"body":', b'"bodyx":', b'"body":"",  "body":']


def mutated_line(line: bytes, rng: random.Random) -> bytes:
    """A few byte-level edits, most inside the body."""
    out = bytearray(line)
    for _ in range(rng.choice((1, 1, 2, 3, 5))):
        body_at = line.find(b'"body"')
        low = body_at if body_at >= 0 and rng.random() < 0.7 else 0
        at = rng.randint(min(low, len(out)), len(out))
        edit = rng.random()
        if edit < 0.4:
            out[at:at] = rng.choice(PIECES) * rng.choice((1, 1, 2, 7, 64))
        elif edit < 0.55:
            del out[at : at + rng.randint(1, 8)]
        elif edit < 0.62:
            del out[at:]
        elif edit < 0.72 and out:
            out[min(at, len(out) - 1)] = rng.randrange(256)
        elif edit < 0.82:  # a backslash run ending anywhere against the 64-byte blocks
            tail = rng.choice([b"n", b"u0041", b'"', b"", b"ud83d\\ude00"])
            out[at:at] = b"\\" * rng.randint(1, 130) + tail
        elif edit < 0.92:
            out[at:at] = b"x" * rng.randint(1, 200)
        else:
            out = bytearray(bytes(out).replace(b'"body":', rng.choice(NOT_A_STRING), 1))
    return bytes(out)


def body_as_orjson_reads_it(line: bytes) -> None:
    """What ``capture_log._accelerated`` relies on: when the line with the body cut out is a valid record
    with an empty body, the whole line is valid and its body is the text between the offsets."""
    found = accel.read_body(line)
    if found is None:
        return
    start, end, _ = found
    try:
        rest = orjson.loads(line[:start] + line[end:])
    except orjson.JSONDecodeError:
        return
    if isinstance(rest, dict) and rest.get("body") == "":
        assert orjson.loads(line)["body"] == EscapedBody(line, start, end).text(), line[:300]


def fuzz_once(line: bytes, seen: Counter[str], whole: bool = True) -> None:
    body_as_orjson_reads_it(line)
    if whole:
        seen.update(check(iter([line])))


def sse_lines(rng: random.Random, count: int, longest: int = 1 << 20) -> list[bytes]:
    """Synthetic lines the accelerator reads as event streams."""
    lines: list[bytes] = []
    while len(lines) < count:
        line = synthetic_line(rng)
        if line is None or len(line) > longest:
            continue
        if (found := accel.read_body(line)) is not None and found[2]:
            lines.append(line)
    return lines


def test_synthetic_streams() -> None:
    rng, seen = random.Random(20261207), Counter[str]()
    for _ in range(1200):
        if (line := synthetic_line(rng)) is not None:
            fuzz_once(line, seen)
    assert seen["sse"] > 200, seen


def test_mutated_lines() -> None:
    rng, seen = random.Random(11), Counter[str]()
    seeds = sse_lines(rng, 40)
    for _ in range(3000):
        fuzz_once(mutated_line(rng.choice(seeds), rng), seen, whole=rng.random() < 0.5)
    assert seen["sse"] > 250, seen


def test_every_truncation() -> None:
    rng, seen = random.Random(3), Counter[str]()
    for line in sse_lines(rng, 3, longest=2000):
        for cut in range(len(line) + 1):
            fuzz_once(line[:cut], seen, whole=cut % 23 == 0 or cut > len(line) - 4)
    assert seen["lines"] > 60, seen
