"""The benchmark inputs, generated once and cached under ``OUT/inputs`` (keyed by kind, size and seed).

An input is complete when its ``NAME.meta.json`` (the generator's exact totals) exists; a partial one
left by an interrupted run is removed and made again.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import gen_claude
import gen_store
from generate import write_capture_log


def cached(out: Path, name: str, make: Callable[[Path], dict]) -> tuple[Path, dict]:
    path = out / "inputs" / name
    meta = path.with_name(name + ".meta.json")
    if meta.exists():
        return path, json.loads(meta.read_text())
    if path.is_dir():
        shutil.rmtree(path)
    path.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"  generating {name} ...", file=sys.stderr, flush=True)
    start = time.perf_counter()
    totals = make(path)
    totals["generated_in_s"] = round(time.perf_counter() - start, 1)
    meta.write_text(json.dumps(totals))
    return path, totals


def capture_log(out: Path, mb: float, seed: int) -> tuple[Path, dict]:
    def make(path: Path) -> dict:
        t = write_capture_log(path, mb, seed)
        return {
            "captures": t.captures,
            "rows": t.rows,
            "input_tokens": t.input_tokens,
            "output_tokens": t.output_tokens,
            "bytes": path.stat().st_size,
        }

    return cached(out, f"capture-log-{mb:g}mb-s{seed}.jsonl", make)


def recent_captures(out: Path, mb: float, seed: int) -> tuple[Path, dict]:
    """Captures whose timestamps fall on the last day of the generated stores (new request ids)."""
    from datetime import UTC, datetime

    from generate import capture_records

    def make(path: Path) -> dict:
        rows = captures = 0
        start = datetime.combine(gen_store.LAST_DAY, datetime.min.time(), UTC).replace(hour=12)
        with open(path, "w") as handle:
            for line, new, _model, _usage in capture_records(seed + 1000, int(mb * 1e6), start):
                handle.write(line + "\n")
                captures += 1
                rows += new
        return {"captures": captures, "rows": rows, "bytes": path.stat().st_size}

    return cached(out, f"recent-captures-{mb:g}mb-s{seed}.jsonl", make)


def claude_tree(out: Path, files: int, big: int, big_mb: float, seed: int) -> tuple[Path, dict]:
    return cached(
        out,
        f"claude-{files}f-{big}x{big_mb:g}mb-s{seed}",
        lambda path: gen_claude.write_claude_tree(path, files, big, big_mb, seed),
    )


def store(out: Path, rows: int, seed: int, days: int = 365) -> tuple[Path, dict]:
    def make(path: Path) -> dict:
        totals = gen_store.write_store(path, rows, days, seed)
        totals["bytes"] = sum(p.stat().st_size for p in (path / "usage").rglob("*.parquet"))
        return totals

    return cached(out, f"store-{rows}r-{days}d-s{seed}", make)
