"""Fuzz the compiled accelerator against the pure-Python path for a set time (run by hand):

    python bench/fuzz_accel.py --seconds 300 --seed 1

Every input must give what the pure-Python path gives (the same capture or reason to set the line
aside, the same row, the same selections: ``tests/test_accel.py``'s ``check``), and the body the
native scan accepts must be the one orjson decodes. Inputs (``tests/test_accel_fuzz.py``): the capture
logs of the test data and sample_logs, ../shared/real-captures (when present) and every capture written
as a capture-log line, 0.3 MB of bench/generate.py output, and synthetic event streams; mutated at the
byte level (escapes, backslash runs across the vector scan's 64-byte blocks, invalid UTF-8, NUL, bodies
that are no string), edited as text and re-encoded, and truncated at every byte.

To find memory faults as well, build the extension with AddressSanitizer and UBSan in place of the
normal build (its own source only) and run this with every allocation through malloc:

    cc -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \\
       -shared -fPIC -I"$(python -c 'import sysconfig; print(sysconfig.get_paths()["include"])')" \\
       src/tokmeter/extract/_accel.c -o "src/tokmeter/extract/_accel$(python3-config --extension-suffix)"
    LD_PRELOAD="$(cc -print-file-name=libasan.so)" ASAN_OPTIONS=detect_leaks=0 PYTHONMALLOC=malloc \\
       python bench/fuzz_accel.py --seconds 300

(add -DTOKMETER_NO_SIMD for the byte-by-byte scans other platforms use; rebuild normally afterwards).
A failing line is written to bench/out/accel-fail-<seed>-<n>.bin, never printed (it may hold prompts).
"""

from __future__ import annotations

import argparse
import gzip
import random
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests"), str(REPO / "bench")]

from test_accel import ENCODERS, as_lines, corpus, generated_lines  # noqa: E402
from test_accel_fuzz import fuzz_once, mutated_line, synthetic_line  # noqa: E402
from tokmeter.capture import Capture, EscapedBody  # noqa: E402
from tokmeter.extract import accel  # noqa: E402

TEXT_INSERTS = ["\n", "\n\n", "\r\n", "\\", '"', "/", "\t", "\x00", "\x1c", "\u00a0", "\u2028", "\ufeff", "é"]
TEXT_INSERTS += ["data:", "\ndata", ": c\n", "id: \x00\n", '"usage":null', '"usage" : {"prompt_tokens": 1}']
TEXT_INSERTS += ['"finish_reason":"stop"', "data: [DONE]\n\n", "message_", '"response"', "\\n", '\\"']


def seed_lines(rng: random.Random) -> list[bytes]:
    files = [*(REPO / "sample_logs").glob("*.jsonl"), *(REPO / "tests" / "data").rglob("*.jsonl")]
    lines = [line for path in files for line in path.read_bytes().splitlines(keepends=True) if line.strip()]
    real = REPO.parent / "shared" / "real-captures" / "captures.jsonl.gz"
    if real.exists():
        with gzip.open(real) as handle:
            lines += [line for line in handle if line.strip()]
    captures = [
        Capture(c.source, c.offset, c.meta, c.body.text()) if isinstance(c.body, EscapedBody) else c
        for c in corpus()
    ]
    return lines + list(as_lines(captures, rng)) + generated_lines(0.3)


def text_edited(line: bytes, rng: random.Random) -> bytes | None:
    """The line's body edited as text and the record encoded again (a valid line, mostly an SSE body)."""
    record = orjson.loads(line)
    body = record["body"]
    for _ in range(rng.randint(1, 6)):
        at = rng.randint(0, len(body))
        if rng.random() < 0.8:
            body = body[:at] + rng.choice(TEXT_INSERTS) * rng.choice((1, 1, 2, 5)) + body[at:]
        else:
            body = body[:at] + body[at + rng.randint(1, 30) :]
    try:
        return rng.choice(ENCODERS)({**record, "body": body}, rng) + rng.choice([b"\n", b"", b" \r\n"])
    except (TypeError, ValueError, UnicodeEncodeError):
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if not accel.BUILT:
        print("the accelerator is not built here: nothing to fuzz", file=sys.stderr)
        return 2
    rng = random.Random(args.seed)
    lines = seed_lines(rng)
    streams = [line for line in lines if (found := accel.read_body(line)) is not None and found[2]]
    print(f"{accel._accel.__file__}: {len(lines)} seed lines, {len(streams)} event streams", flush=True)
    seen, failures, start = Counter[str](), 0, time.monotonic()
    out = REPO / "bench" / "out"

    def one(line: bytes, whole: bool) -> None:
        nonlocal failures
        seen["cases"] += 1
        try:
            fuzz_once(line, seen, whole)
        except Exception:  # noqa: BLE001 - a difference: recorded, and the fuzzing goes on
            failures += 1
            out.mkdir(parents=True, exist_ok=True)
            path = out / f"accel-fail-{args.seed}-{seen['cases']}.bin"
            path.write_bytes(line)
            print(f"DIFFERENT: {path}\n{traceback.format_exc(limit=3)[-800:]}", flush=True)

    short = [line for line in streams if len(line) < 6000]
    for line in rng.sample(short, min(10, len(short))):  # every truncation
        for cut in range(len(line) + 1):
            one(line[:cut], cut % 97 == 0 or cut > len(line) - 4)
    while time.monotonic() - start < args.seconds:
        roll = rng.random()
        if roll < 0.3:
            edited = text_edited(rng.choice(streams), rng)
            if edited is not None:
                one(edited, True)
        elif roll < 0.5:
            synthetic = synthetic_line(rng)
            if synthetic is not None:
                one(synthetic, True)
        else:
            one(mutated_line(rng.choice(streams if rng.random() < 0.7 else lines), rng), rng.random() < 0.5)
    took = time.monotonic() - start
    print(
        f"{seen['cases']:,} cases in {took:.0f} s ({seen['lines']:,} through both paths, "
        f"{seen['sse']:,} read as event streams): {failures} different",
        flush=True,
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
