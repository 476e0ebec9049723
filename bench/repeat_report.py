"""Issue #21's repeat report, side by side: ``ccusage daily --json --offline --timezone UTC`` against a
repeated ``tokmeter report --by day --format json`` answered from its kept result (README: Kept results),
and the same report with ``--no-cache``, on the bench's Claude Code tree. Run by hand; the figures go in
BENCHMARKS.md.

    python bench/repeat_report.py                                  # 400 transcripts, 2 of 20 MB (116 MB)
    python bench/repeat_report.py --files 3000 --big 6 --big-mb 30  # bench/run.py's full tree (786 MB)

The tree is made as ``bench/generate.py claude-code`` makes it (seed 1) and cached under --out. tokmeter
(this checkout's, compiled first, as ``bench/run.py`` does) ingests it with ``--claude-code`` into a fresh
store, reports once, waits out the 2 s in which a store too recently written is not kept, and reports
once more, which keeps the result. Then the three commands run in turn, ``--runs`` times each,
interleaved; printed for each: the best wall time, the CPU time (user + system, from ``getrusage`` of
the child) of that run, the median wall time, and the load average before and after. The replayed and
the fresh outputs are checked to be the same bytes, and the kept file to have been used by every
replayed run (its mtime moves).
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import inputs

SRC = Path(__file__).resolve().parents[1] / "src"


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, bytes]:
    """(wall s, CPU s of the child, its stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, env=env, check=True)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--big", type=int, default=2)
    parser.add_argument("--big-mb", type=float, default=20)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    parser.add_argument("--ccusage", default=shutil.which("ccusage"))
    args = parser.parse_args()
    if not args.ccusage:
        parser.error("no ccusage on PATH: pass --ccusage PATH (version 20.0.24)")
    tree, totals = inputs.claude_tree(args.out, args.files, args.big, args.big_mb, 1)
    compileall.compile_dir(SRC / "tokmeter", quiet=1)
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        (work / "home").mkdir()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TOKMETER_", "CLAUDE_"))},
            "HOME": str(work / "home"),
            "CLAUDE_CONFIG_DIR": str(tree),
            "NO_COLOR": "1",
            "TOKMETER_CACHE": str(work / "cache"),
            "PYTHONPATH": str(SRC),
        }
        store = work / "store"
        tokmeter = [sys.executable, "-m", "tokmeter"]
        subprocess.run(
            [*tokmeter, "ingest", "--claude-code", "--store", str(store), "-q"], env=env, check=True
        )
        report = [*tokmeter, "report", "--by", "day", "--format", "json", "--store", str(store)]
        timed(report, env)
        time.sleep(2.2)  # a store written in the last 2 s is not kept (report/kept.py RACY_NS)
        timed(report, env)  # kept
        (kept,) = (store / ".cache" / "results").iterdir()
        ccusage = [args.ccusage, "daily", "--json", "--offline", "--timezone", "UTC"]
        commands = {
            "ccusage daily --json --offline --timezone UTC": ccusage,
            "tokmeter report again (replayed)": report,
            "tokmeter report again --no-cache": [*report, "--no-cache"],
        }
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        outputs: dict[str, bytes] = {}
        load = os.getloadavg()
        for _ in range(args.runs):
            for name, cmd in commands.items():
                used = kept.stat().st_mtime_ns
                wall, cpu, out = timed(cmd, env)
                runs[name].append((wall, cpu))
                assert outputs.setdefault(name, out) == out, name
                if "replayed" in name:
                    assert kept.stat().st_mtime_ns > used, "a run was not replayed"
        assert outputs["tokmeter report again (replayed)"] == outputs["tokmeter report again --no-cache"]
        after = os.getloadavg()
    print(f"tree: {totals['files']:,} transcripts, {totals['bytes'] / 1e6:,.0f} MB; runs: {args.runs} each")
    print(f"load average before {load[0]:.2f} {load[1]:.2f}, after {after[0]:.2f} {after[1]:.2f}")
    best_cc = min(runs["ccusage daily --json --offline --timezone UTC"])
    for name, measured in runs.items():
        wall, cpu = min(measured)
        median = statistics.median(w for w, _c in measured)
        ratio = (
            f"  {wall / best_cc[0]:.3f}x wall, {cpu / best_cc[1]:.3f}x CPU of ccusage"
            if "tokmeter" in name
            else ""
        )
        print(f"{name}: best {wall:.3f} s ({cpu:.3f} CPU-s), median {median:.3f} s{ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
