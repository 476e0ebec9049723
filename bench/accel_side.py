"""Capture-log ingest side by side, alternating: the naive baseline, tokmeter's pure-Python path
(``TOKMETER_NO_ACCEL=1``) and tokmeter with its accelerator (issue #24; BENCHMARKS.md).

    python bench/accel_side.py bench/out/inputs/capture-log-500mb-s1.jsonl --rounds 3

Each round runs the three commands one after the other (measure.py: wall time, CPU seconds of the process
and its workers, peak memory of the process tree, the 1-minute load when each started); the table keeps
every run and the best of each. tokmeter runs from this checkout's ``src`` (``python -m tokmeter``), and
each of its runs is checked to store the generator's rows and token totals (the input's ``.meta.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import measure  # noqa: E402 - after the path it is found on

SRC = HERE.parent / "src"


def commands(log: Path, store: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKMETER_")}
    env["PYTHONPATH"] = str(SRC)
    tokmeter = [sys.executable, "-m", "tokmeter", "ingest", str(log), "--store", str(store), "--quiet"]
    return {
        "naive baseline": ([sys.executable, str(HERE / "naive_baseline.py"), str(log)], env),
        "tokmeter, pure Python": (tokmeter, {**env, "TOKMETER_NO_ACCEL": "1"}),
        "tokmeter, accelerator": (tokmeter, env),
    }


def stored_totals(store: Path) -> tuple[int, int, int]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("TOKMETER_")}, "PYTHONPATH": str(SRC)}
    done = measure.run(
        [sys.executable, "-m", "tokmeter", "report", "--format", "json", "--store", str(store)], env=env
    )
    totals = json.loads(done.stdout)["totals"]
    return totals["requests"], totals["input_tokens"], totals["output_tokens"]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("log", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    measure.start_launcher()
    meta = json.loads(args.log.with_name(args.log.name + ".meta.json").read_text())
    expected = (meta["rows"], meta["input_tokens"], meta["output_tokens"])
    with open(args.log, "rb") as handle:  # into the page cache, for every command alike
        while handle.read(1 << 24):
            pass
    runs: dict[str, list[measure.Run]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        store = Path(scratch) / "store"
        for _ in range(args.rounds):
            for name, (cmd, env) in commands(args.log, store).items():
                shutil.rmtree(store, ignore_errors=True)
                run = measure.run(cmd, env=env)
                if run.returncode != 0:
                    print(run.stderr.decode(errors="replace"), file=sys.stderr)
                    return 1
                if name.startswith("tokmeter") and stored_totals(store) != expected:
                    print(f"{name}: stored {stored_totals(store)}, expected {expected}", file=sys.stderr)
                    return 1
                runs.setdefault(name, []).append(run)
                print(
                    f"{name:24s} {run.seconds:7.2f} s  {run.cpu_seconds:7.2f} CPU-s  "
                    f"{max(run.peak_rss_mb, run.tree_pss_mb):6.0f} MB  load {run.load:.1f}",
                    flush=True,
                )
    naive = min(runs["naive baseline"], key=lambda r: r.seconds)
    naive_cpu = min(r.cpu_seconds for r in runs["naive baseline"])
    print(f"\nbest of {args.rounds} ({meta['captures']:,} captures, {meta['bytes'] / 1e6:,.0f} MB):")
    for name, measured in runs.items():
        best = min(measured, key=lambda r: r.seconds)
        cpu = min(r.cpu_seconds for r in measured)
        memory = max(max(r.peak_rss_mb, r.tree_pss_mb) for r in measured)
        print(
            f"{name:24s} {best.seconds:7.2f} s  {cpu:7.2f} CPU-s  {memory:6.0f} MB  "
            f"naive/this: wall {naive.seconds / best.seconds:.2f}x, CPU {naive_cpu / cpu:.2f}x  "
            f"(loads {', '.join(f'{r.load:.1f}' for r in measured)})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
