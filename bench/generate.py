"""Seeded generators of realistic capture inputs of any size, for the benchmarks (run by hand).

    python bench/generate.py capture-log OUT.jsonl --mb 100 [--seed 1]
    python bench/generate.py files OUT_DIR --count 5000
    python bench/generate.py claude-code OUT_DIR --files 3000 --big 6 --big-mb 30     # see gen_claude.py
    python bench/generate.py store OUT_STORE --rows 100000000 --days 365              # see gen_store.py

Capture logs mix providers (OpenAI Chat, OpenAI Responses, Anthropic), ~80% streaming with response
sizes like real ones (tens of KB per streamed response: one SSE event per few tokens of text), and 5%
retry duplicates (the same request id captured again, a few seconds later). The generator also returns
the exact totals it wrote, so a benchmark can check the tool's answer, not only its speed.

Claude Code transcript trees are written by ``gen_claude.py`` and stores of any number of rows (Parquet
parts written directly, no capture files) by ``gen_store.py``; both are reachable from here.
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

WORDS = (
    "the model returns a stream of tokens and each event carries a small delta of text which the "
    "client appends while usage arrives only at the end of the stream"
).split()
USERS = [f"user-{i:03d}" for i in range(40)]
MODELS = {
    "openai_chat": ["gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06", "gpt-4.1-2025-04-14"],
    "openai_responses": ["o4-mini-2025-04-16", "gpt-5-2025-08-07"],
    "anthropic": ["claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001"],
}


@dataclass
class Totals:
    captures: int = 0
    rows: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    by_model: Counter = field(default_factory=Counter)


def _text_events(rng: random.Random, n: int) -> list[str]:
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3))) for _ in range(n)]


def _sse(events: list[tuple[str | None, object]]) -> str:
    out = []
    for name, data in events:
        payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
        out.append((f"event: {name}\n" if name else "") + f"data: {payload}\n\n")
    return "".join(out)


def openai_chat(rng: random.Random, rid: str, model: str, stream: bool, usage: tuple[int, int]) -> str:
    u = {
        "prompt_tokens": usage[0],
        "completion_tokens": usage[1],
        "total_tokens": sum(usage),
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }
    cid = f"chatcmpl-{rid}"
    if not stream:
        return json.dumps(
            {
                "id": cid,
                "object": "chat.completion",
                "created": 1,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": " ".join(_text_events(rng, 50))},
                        "finish_reason": "stop",
                    }
                ],
                "usage": u,
            }
        )
    base = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": 1,
        "model": model,
        "system_fingerprint": "fp_x",
    }
    ev = [
        (
            None,
            {
                **base,
                "choices": [{"index": 0, "delta": {"content": t}, "logprobs": None, "finish_reason": None}],
                "usage": None,
            },
        )
        for t in _text_events(rng, usage[1] // 6 + 1)
    ]
    ev += [
        (None, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": None}),
        (None, {**base, "choices": [], "usage": u}),
        (None, "[DONE]"),
    ]
    return _sse(ev)


def openai_responses(rng: random.Random, rid: str, model: str, stream: bool, usage: tuple[int, int]) -> str:
    u = {
        "input_tokens": usage[0],
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": usage[1],
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": sum(usage),
    }
    resp = {"id": f"resp_{rid}", "object": "response", "model": model, "status": "completed", "usage": u}
    if not stream:
        return json.dumps(resp)
    ev = [
        (
            "response.created",
            {"type": "response.created", "response": {**resp, "status": "in_progress", "usage": None}},
        )
    ]
    ev += [
        (
            "response.output_text.delta",
            {
                "type": "response.output_text.delta",
                "item_id": "msg_1",
                "output_index": 0,
                "content_index": 0,
                "delta": t,
            },
        )
        for t in _text_events(rng, usage[1] // 6 + 1)
    ]
    ev.append(("response.completed", {"type": "response.completed", "response": resp}))
    return _sse(ev)


def anthropic(rng: random.Random, rid: str, model: str, stream: bool, usage: tuple[int, int]) -> str:
    start = {
        "input_tokens": usage[0],
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 1,
    }
    if not stream:
        return json.dumps(
            {
                "id": f"msg_{rid}",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": " ".join(_text_events(rng, 50))}],
                "usage": {**start, "output_tokens": usage[1]},
            }
        )
    ev = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {"id": f"msg_{rid}", "type": "message", "model": model, "usage": start},
            },
        ),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
    ]
    ev += [
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}},
        )
        for t in _text_events(rng, usage[1] // 6 + 1)
    ]
    ev += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn"},
                "usage": {"output_tokens": usage[1]},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return _sse(ev)


API = {
    "openai_chat": ("openai", "/v1/chat/completions", openai_chat),
    "openai_responses": ("openai", "/v1/responses", openai_responses),
    "anthropic": ("anthropic", "/v1/messages", anthropic),
}


def capture_records(seed: int, target_bytes: int, start: datetime | None = None):
    """Yield (line, is_new_row, model, usage) until about target_bytes were produced."""
    rng = random.Random(seed)
    when = start or datetime(2026, 11, 1, tzinfo=UTC)
    produced, index, previous = 0, 0, None
    while produced < target_bytes:
        if previous is not None and rng.random() < 0.05:
            record = json.loads(previous)  # a retry duplicate: same request id and body, 3 s later
            record["ts"] = (datetime.fromisoformat(record["ts"]) + timedelta(seconds=3)).isoformat()
            line = json.dumps(record)
            yield line, False, None, (0, 0)
        else:
            api = rng.choice(list(API))
            provider, path, make = API[api]
            model = rng.choice(MODELS[api])
            stream = rng.random() < 0.8
            usage = (rng.randint(50, 20000), rng.randint(100, 1500) if stream else rng.randint(10, 400))
            rid = f"{seed}-{index:09d}"
            body = make(rng, rid, model, stream, usage)
            record = {
                "ts": when.isoformat(),
                "request_id": rid,
                "user": rng.choice(USERS),
                "provider": provider,
                "method": "POST",
                "path": path,
                "status": 200,
                "request": {"model": model, "stream": stream},
                "body": body,
            }
            line = json.dumps(record)
            previous = line
            yield line, True, model, usage
        index += 1
        when += timedelta(milliseconds=rng.randint(1, 900))
        produced += len(line) + 1


def write_capture_log(path: Path, mb: float, seed: int = 1) -> Totals:
    totals = Totals()
    with open(path, "w") as out:
        for line, new, model, usage in capture_records(seed, int(mb * 1e6)):
            out.write(line + "\n")
            totals.captures += 1
            if new:
                totals.rows += 1
                totals.input_tokens += usage[0]
                totals.output_tokens += usage[1]
                totals.by_model[model] += 1
    return totals


def write_file_tree(root: Path, count: int, seed: int = 1) -> Totals:
    """Single-response files (``.sse`` / ``.json`` + ``.meta.json``), 100 per directory."""
    totals = Totals()
    for i, (line, new, model, usage) in enumerate(capture_records(seed, 10**12)):
        if i >= count:
            break
        if not new:
            continue
        record = json.loads(line)
        body = record.pop("body")
        folder = root / f"d{i // 100:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        suffix = ".json" if body.startswith("{") else ".sse"
        (folder / f"r{i:08d}{suffix}").write_text(body)
        (folder / f"r{i:08d}.meta.json").write_text(json.dumps(record))
        totals.captures += 1
        totals.rows += 1
        totals.input_tokens += usage[0]
        totals.output_tokens += usage[1]
        totals.by_model[model] += 1
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("kind", choices=["capture-log", "files", "claude-code", "store"])
    parser.add_argument("out", type=Path)
    parser.add_argument("--mb", type=float, default=50)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--files", type=int, default=300, help="claude-code: transcript files")
    parser.add_argument("--big", type=int, default=2, help="claude-code: how many of them are big")
    parser.add_argument("--big-mb", type=float, default=30, help="claude-code: size of a big file")
    parser.add_argument("--rows", type=int, default=1_000_000, help="store: rows")
    parser.add_argument("--days", type=int, default=365, help="store: UTC days (ending 2026-11-19)")
    args = parser.parse_args()
    if args.kind == "claude-code":
        from gen_claude import write_claude_tree

        print(json.dumps(write_claude_tree(args.out, args.files, args.big, args.big_mb, args.seed)))
        return
    if args.kind == "store":
        from gen_store import write_store

        print(json.dumps(write_store(args.out, args.rows, args.days, args.seed)))
        return
    if args.kind == "capture-log":
        totals = write_capture_log(args.out, args.mb, args.seed)
    else:
        totals = write_file_tree(args.out, args.count, args.seed)
    print(
        json.dumps(
            {
                "captures": totals.captures,
                "rows": totals.rows,
                "input_tokens": totals.input_tokens,
                "output_tokens": totals.output_tokens,
            }
        )
    )


if __name__ == "__main__":
    main()
