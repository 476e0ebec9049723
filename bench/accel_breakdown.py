"""Where a capture's time goes, with and without the accelerator: one process, CPU time, per step
(BENCHMARKS.md, issue #24). Each step runs over every capture of the log, best of three.

    python bench/accel_breakdown.py bench/out/inputs/capture-log-100mb-s1.jsonl
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from tokmeter.capture import Capture, EscapedBody
from tokmeter.extract import fastpath, read_capture
from tokmeter.extract.detect import api_from_path
from tokmeter.extract.fastpath import guess_api, stream_events
from tokmeter.extract.registry import family
from tokmeter.ingest.rows import to_columns
from tokmeter.sources.capture_log import parse_record


def best(step: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.process_time()
        step()
        times.append(time.process_time() - start)
    return min(times)


def main(path: str) -> None:
    with open(path, "rb") as handle:
        lines = handle.readlines()
    n = len(lines)

    def readline() -> None:
        with open(path, "rb", buffering=1 << 16) as handle:
            while handle.readline():
                pass

    def per(seconds: float, count: int = n) -> str:
        return f"{seconds * 1e6 / count:6.1f}"

    fast = [parse_record(line, path, 0, 1, None, True) for line in lines]
    slow = [parse_record(line, path, 0, 1, None, False) for line in lines]
    assert all(isinstance(c, Capture) for c in fast + slow)
    print(f"{n:,} captures of {path}; us per capture (CPU): pure Python | accelerator")
    print(f"read the line (readline)                      {per(best(readline))} | same")
    decode_slow = best(lambda: [parse_record(line, path, 0, 1, None, False) for line in lines])
    decode_fast = best(lambda: [parse_record(line, path, 0, 1, None, True) for line in lines])
    print(f"decode the record (parse_record)              {per(decode_slow)} | {per(decode_fast)}")
    for api_path in ("/v1/messages", "/v1/responses", "/v1/chat/completions"):
        pairs = [
            (s, f)
            for s, f in zip(slow, fast, strict=True)
            if isinstance(f, Capture) and isinstance(f.body, EscapedBody) and f.meta.get("path") == api_path
        ]
        if not pairs:
            continue
        api = api_from_path(api_path)
        texts = [s.body for s, _ in pairs]
        select_slow = best(lambda texts=texts, api=api: [stream_events(t, guess_api(t, api)) for t in texts])
        select_fast = best(
            lambda pairs=pairs, api=api: [fastpath.accelerated_events(f.body, api) for _, f in pairs]
        )
        events = [fastpath.accelerated_events(f.body, api) for _, f in pairs]
        reader = family(api).from_stream  # type: ignore[union-attr]
        read = best(lambda events=events, reader=reader: [reader(e) for e in events])
        kb = sum(len(t) for t in texts) / len(texts) / 1000
        print(
            f"  {api_path} streams ({len(pairs):,}, {kb:.1f} KB): select events {per(select_slow, len(pairs))}"
            f" | {per(select_fast, len(pairs))}; stream reader {per(read, len(pairs))}"
        )
    rows_slow = best(lambda: [read_capture(c) for c in slow])
    rows_fast = best(lambda: [read_capture(c) for c in fast])
    print(f"extraction, all captures (read_capture)       {per(rows_slow)} | {per(rows_fast)}")
    rows = [read_capture(c)[0] for c in fast]
    print(f"counting, rows by column (to_columns)         {per(best(lambda: to_columns(rows)))} | same")


if __name__ == "__main__":
    main(sys.argv[1])
