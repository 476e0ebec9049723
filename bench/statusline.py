"""How long ``tokmeter statusline`` takes from a warm store: the number Claude Code pays on every prompt.
Run by hand; the figures go in BENCHMARKS.md.

    python bench/statusline.py                 # best of 20, with a fresh summary of a few sessions
    python bench/statusline.py --runs 50 --sessions 2000

A store is filled with ``--sessions`` Claude Code sessions of the last hours (so the summary holds an
active block and every session), then ``python -m tokmeter statusline`` is run ``--runs`` times with a
status-line JSON on standard input. Printed: the best and median wall time, the CPU time of the best
run (user + system, from ``getrusage``), the summary's size, the machine's load, and whether polars, Typer
or Rich were imported on that path (``-X importtime``: they must not be). Bare ``python -c pass`` is
measured the same way, to show what the interpreter's own start-up costs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path


def write_sessions(folder: Path, sessions: int) -> None:
    now = datetime.now(UTC)
    for index in range(sessions):
        path = folder / "projects" / f"-home-bench-p{index % 20}" / f"s-{index}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = []
        for turn in range(5):
            when = now - timedelta(minutes=(index % 200) + turn)
            record = {
                "type": "assistant",
                "sessionId": f"s-{index}",
                "requestId": f"req-{index}-{turn}",
                "timestamp": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "message": {
                    "id": f"msg-{index}-{turn}",
                    "model": "claude-sonnet-4-5-20250929",
                    "usage": {"input_tokens": 100, "output_tokens": 300, "cache_read_input_tokens": 5000},
                },
            }
            lines.append(json.dumps(record))
        path.write_text("\n".join(lines) + "\n")


def timed(cmd: list[str], stdin: bytes, env: dict[str, str]) -> tuple[float, float, bytes, bytes]:
    """(wall s, CPU s of the child, its stdout, its stderr)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    done = subprocess.run(cmd, input=stdin, capture_output=True, env=env, check=True)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, done.stdout, done.stderr


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--sessions", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        env = {**os.environ, "TOKMETER_STORE": str(work / "store"), "TOKMETER_CACHE": str(work / "cache")}
        write_sessions(work / "claude", args.sessions)
        subprocess.run(
            [sys.executable, "-m", "tokmeter", "ingest", str(work / "claude"), "-q"], env=env, check=True
        )
        status = json.dumps({"session_id": "s-1", "model": {"display_name": "Sonnet 4.5"}}).encode()
        cmd = [sys.executable, "-m", "tokmeter", "statusline"]
        runs = [timed(cmd, status, env) for _ in range(args.runs)]
        bare = min(timed([sys.executable, "-c", "pass"], b"", env)[0] for _ in range(args.runs))
        best = min(runs, key=lambda run: run[0])
        _, _, _, imports = timed([sys.executable, "-X", "importtime", *cmd[1:]], status, env)
        heavy = sorted(
            {
                line.rsplit("|", 1)[-1].strip().split(".")[0]
                for line in imports.decode().splitlines()
                if line.rsplit("|", 1)[-1].strip().split(".")[0] in ("polars", "typer", "rich")
            }
        )
        summary = (work / "store" / "summary.json").stat().st_size
        print(f"line: {best[2].decode().strip()}")
        print(
            f"statusline: best {best[0] * 1000:.0f} ms wall ({best[1] * 1000:.0f} ms CPU), median "
            f"{statistics.median(r[0] for r in runs) * 1000:.0f} ms over {args.runs} runs; python -c pass "
            f"{bare * 1000:.0f} ms; summary {summary:,} bytes for {args.sessions} sessions; heavy imports: "
            f"{', '.join(heavy) or 'none'}; load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
