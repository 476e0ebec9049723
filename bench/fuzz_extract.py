"""Fuzz the extractors for a set time (run by hand): random and mutated captures must only ever raise
tokmeter's own errors.

    python bench/fuzz_extract.py --seconds 300

Inputs: mutations (byte flips, truncations, splices, number swaps) of the bundled sample captures and
the recorded provider responses in ../shared/real-captures (when present), plus random JSON. What it
found so far, all fixed: a response body holding an integer beyond 64 bits made the request-id
fingerprint raise TypeError (now hashed from a stable text form); token counts beyond Int64 crashed the
store's frame (now rejected above 10^9, absurd for one request).
"""

from __future__ import annotations

import argparse
import gzip
import random
import sys
import time
import traceback
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from tokmeter.capture import Capture  # noqa: E402
from tokmeter.errors import TokmeterError  # noqa: E402
from tokmeter.extract import extract_row  # noqa: E402
from tokmeter.sources.capture_log import parse_record  # noqa: E402

NUMBERS = [b"0", b"-1", b"1e309", b"1.5", b"18446744073709551616", b"null", b"true", b'"12"', b"[]", b"{}"]


def seeds() -> list[bytes]:
    lines = (REPO / "sample_logs" / "gateway-2026-11.jsonl").read_bytes().splitlines()
    real = REPO.parent / "shared" / "real-captures" / "captures.jsonl.gz"
    if real.exists():
        lines += gzip.open(real).read().splitlines()
    return [line for line in lines if line.strip()]


def mutate(rng: random.Random, data: bytes, pool: list[bytes]) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        if choice < 0.25 and buf:
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        elif choice < 0.45 and buf:
            del buf[rng.randrange(len(buf)) :]
        elif choice < 0.65:
            other = rng.choice(pool)
            cut = rng.randrange(len(buf) + 1)
            buf[cut:] = other[rng.randrange(len(other) + 1) :]
        else:
            text = bytes(buf)
            digits = [i for i, b in enumerate(text) if 48 <= b <= 57]
            if digits:
                at = rng.choice(digits)
                buf[at : at + 1] = rng.choice(NUMBERS)
    return bytes(buf)


def one(line: bytes) -> None:
    item = parse_record(line, "fuzz", 0, 1, None)
    if isinstance(item, Capture):
        extract_row(item)
        extract_row(
            Capture(
                "fuzz",
                0,
                item.meta,
                item.body if not isinstance(item.body, str) else item.body.encode("utf-8", "surrogatepass"),
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    pool = seeds()
    deadline, runs, failures = time.monotonic() + args.seconds, 0, 0
    while time.monotonic() < deadline:
        case = mutate(rng, rng.choice(pool), pool)
        runs += 1
        try:
            one(case)
        except TokmeterError:
            pass
        except Exception:  # noqa: BLE001 - this is what we hunt for
            failures += 1
            name = REPO / "bench" / "out" / f"fuzz-crash-{failures}.jsonl"
            name.parent.mkdir(parents=True, exist_ok=True)
            name.write_bytes(case + b"\n")
            print(f"crash #{failures}, input saved to {name}:\n{traceback.format_exc()}", file=sys.stderr)
    print(orjson.dumps({"runs": runs, "crashes": failures, "seconds": args.seconds}).decode())
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
