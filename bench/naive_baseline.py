"""The naive baseline the ingest benchmark compares against (kept simple on purpose).

Decode each capture record, split the body into SSE events, JSON-decode every event, and keep the
usage the last event that had one reported. No store, no dedup: only the extraction work, so the
comparison flatters the baseline.

    python bench/naive_baseline.py CAPTURES.jsonl
"""

from __future__ import annotations

import sys
import time

import orjson


def naive_usage(body: str) -> dict | None:
    usage = None
    if body.lstrip().startswith("{"):
        doc = orjson.loads(body)
        return doc.get("usage")
    for block in body.split("\n\n"):
        data = [line[5:].lstrip() for line in block.split("\n") if line.startswith("data:")]
        if not data or data[0] == "[DONE]":
            continue
        event = orjson.loads("\n".join(data))
        found = (
            event.get("usage")
            or (event.get("message") or {}).get("usage")
            or (event.get("response") or {}).get("usage")
        )
        if found:
            usage = found
    return usage


def run(path: str) -> tuple[int, int, float]:
    start = time.perf_counter()
    captures = with_usage = 0
    with open(path, "rb") as handle:
        for line in handle:
            record = orjson.loads(line)
            body = record.get("body")
            captures += 1
            if isinstance(body, str) and naive_usage(body) is not None:
                with_usage += 1
    return captures, with_usage, time.perf_counter() - start


if __name__ == "__main__":
    n, u, seconds = run(sys.argv[1])
    print(f"{n} captures, {u} with usage, {seconds:.2f} s")
