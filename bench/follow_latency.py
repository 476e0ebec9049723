"""How fast ``tokmeter ingest --follow`` makes an appended capture visible, and what append rate it keeps up
with. Run by hand; the figures go in BENCHMARKS.md.

    python bench/follow_latency.py                       # both phases, default follow settings
    python bench/follow_latency.py --profile stream --rate 500 --seconds 30
    python bench/follow_latency.py --skip-latency --rate 5000

A follower process (``python -m tokmeter ingest DIR --follow``, default --flush-interval and
--batch-size, stderr log lines) watches an empty directory. This process appends capture records to
one log file in it, every 10 ms, and notes when each record's write returned. A prober polls the store
every 20 ms the way ``tokmeter report`` reads it (shared lock, scan of the Parquet parts) and notes when
each record became visible: rows arrive in file order, so ``n`` visible rows means records ``0..n-1``
are. Latency = first probe that saw it (after the probe returned) - append time.

1. latency: ``--latency-rate`` captures/s for ``--latency-seconds`` -> p50 / p90 / p99 / max.
2. sustained: ``--rate`` captures/s for ``--seconds`` -> the achieved append rate, the lag (records
   appended but not yet visible) over time, the latency percentiles under load, and how long the
   follower takes to drain once appends stop. "Keeps up" means the lag does not grow: the last third's
   lag is not above the first third's (plus one flush worth of records). Also the follower's CPU use
   (cores, user + system, from /proc) while appending.

Profiles: ``small`` (non-streamed chat completions, ~0.5 KB a record) and ``stream`` (bench/generate.py's
realistic mix: 80% SSE streams, ~22 KB a record on average, 5% retry duplicates, which is extraction-bound).
At the end the store's input-token total is checked exactly against what was written.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from itertools import count
from pathlib import Path

FOLLOWER_ENV = dict(os.environ)
os.environ.setdefault("POLARS_MAX_THREADS", "1")  # the prober takes as little CPU from the follower as it can

import polars as pl

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from tokmeter.store.local import Store

PROBE_SECONDS = 0.02
WRITE_TICK = 0.01


class Records:
    """An endless supply of capture lines with distinct request ids, and the totals written."""

    def __init__(self, profile: str) -> None:
        self.profile = profile
        self.rows = 0
        self.input_tokens = 0
        if profile == "stream":
            from generate import capture_records

            self._stream = capture_records(seed=7, target_bytes=10**15)
        else:
            self._ids = count()

    def take(self, n: int) -> list[tuple[bytes, bool]]:
        """``n`` lines, each with whether it makes a new row (False: a retry duplicate)."""
        out = []
        for _ in range(n):
            if self.profile == "stream":
                line, new, _model, usage = next(self._stream)
                if new:
                    self.rows += 1
                    self.input_tokens += usage[0]
                out.append((line.encode() + b"\n", new))
            else:
                from capture_lines import record

                i = next(self._ids)
                self.rows += 1
                self.input_tokens += 10 + i
                out.append((record(i, "bench"), True))
        return out


class Prober(threading.Thread):
    """Counts the store's rows every PROBE_SECONDS; remembers when each count was first seen."""

    def __init__(self, store: Path) -> None:
        super().__init__(daemon=True)
        self.store = Store(store)
        self.seen: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def rows(self) -> int:
        if not self.store.part_files():
            return 0
        with self.store.reading():
            return self.store.scan().select(pl.len()).collect().item()

    def run(self) -> None:
        while not self.stop.is_set():
            n = self.rows()
            self.seen.append((time.time(), n))
            time.sleep(PROBE_SECONDS)

    def visible_at(self, appended: list[tuple[float, int]]) -> list[float]:
        """Latency of each record, from (append time, records appended so far) samples."""
        latencies, k = [], 0
        seen = list(self.seen)
        for when, upto in appended:
            while k < len(seen) and seen[k][1] < upto:
                k += 1
            if k == len(seen):
                break
            latencies.append(seen[k][0] - when)
        return latencies


def append_at(
    log: Path, lines: list[tuple[bytes, bool]], rows_before: int, rate: float, done: list[tuple[float, int]]
) -> float:
    """Append the (pre-generated) lines at ``rate`` a second; ``done`` gets (time the write returned, rows
    so far) per line that makes a new row. Returns the achieved rate."""
    start = time.monotonic()
    written, rows = 0, rows_before
    with open(log, "ab", buffering=0) as out:
        while written < len(lines):
            due = min(len(lines), int(rate * (time.monotonic() - start + WRITE_TICK))) - written
            if due > 0:
                batch = lines[written : written + due]
                out.write(b"".join(line for line, _ in batch))
                now = time.time()
                for _, new in batch:
                    if new:
                        rows += 1
                        done.append((now, rows))
                written += due
            time.sleep(max(0.0, start + (written / rate) - time.monotonic()))
    return written / (time.monotonic() - start)


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]
    return {
        "p50": pick(0.50),
        "p90": pick(0.90),
        "p99": pick(0.99),
        "max": ordered[-1],
        "mean": statistics.fmean(ordered),
        "n": len(ordered),
    }


def phase(
    name: str, log: Path, records: Records, prober: Prober, rate: float, seconds: float, pid: int
) -> dict:
    appended: list[tuple[float, int]] = []
    rows_before = records.rows
    lines = records.take(int(rate * seconds))
    cpu0, wall0 = cpu_seconds(pid), time.monotonic()
    achieved = append_at(log, lines, rows_before, rate, appended)
    stopped = time.time()
    target = records.rows
    deadline = time.monotonic() + 300
    while prober.rows() < target and time.monotonic() < deadline:
        time.sleep(PROBE_SECONDS)
    drained = time.time() - stopped
    cores = (cpu_seconds(pid) - cpu0) / (time.monotonic() - wall0)
    time.sleep(2 * PROBE_SECONDS)
    latencies = prober.visible_at(appended)
    lag = _lag_series(prober, appended)
    third = max(1, len(lag) // 3)
    first_third, last_third = lag[:third], lag[-third:]
    result = {
        "phase": name,
        "profile": records.profile,
        "target_rate": rate,
        "achieved_rate": round(achieved, 1),
        "seconds": seconds,
        "rows": len(appended),
        "latency_s": {k: round(v, 3) for k, v in percentiles(latencies).items()},
        "drain_after_stop_s": round(drained, 3),
        "lag_rows_max": max(lag, default=0),
        "lag_rows_mean_first_third": round(statistics.fmean(first_third), 1) if first_third else 0,
        "lag_rows_mean_last_third": round(statistics.fmean(last_third), 1) if last_third else 0,
    }
    result["kept_up"] = result["lag_rows_mean_last_third"] <= result["lag_rows_mean_first_third"] + rate * 1.0
    result["follower_cpu_cores"] = round(cores, 2)
    return result


def _lag_series(prober: Prober, appended: list[tuple[float, int]]) -> list[int]:
    if not appended:
        return []
    start, end = appended[0][0], appended[-1][0]
    out, j = [], 0
    for when, visible in prober.seen:
        if when < start or when > end:
            continue
        while j < len(appended) and appended[j][0] <= when:
            j += 1
        out.append(max(0, (appended[j - 1][1] if j else 0) - visible))
    return out


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", choices=["small", "stream"], default="small")
    parser.add_argument("--latency-rate", type=float, default=100.0)
    parser.add_argument("--latency-seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-sustained", action="store_true")
    parser.add_argument("--poll", action="store_true", help="follow with --poll")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="tokmeter-follow-bench-"))
    logs, store = work / "logs", work / "store"
    logs.mkdir()
    log = logs / "gateway.jsonl"
    log.touch()
    env = {**FOLLOWER_ENV, "TOKMETER_STORE": str(store)}
    err = open(work / "follower.err", "w")  # noqa: SIM115
    follower = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tokmeter",
            "ingest",
            str(logs),
            "--follow",
            *(["--poll"] if args.poll else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=err,
        env=env,
    )
    results = []
    try:
        deadline = time.monotonic() + 60
        while "caught up" not in (work / "follower.err").read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        records = Records(args.profile)
        prober = Prober(store)
        prober.start()
        if not args.skip_latency:
            results.append(
                phase("latency", log, records, prober, args.latency_rate, args.latency_seconds, follower.pid)
            )
            print(json.dumps(results[-1]), flush=True)
        if not args.skip_sustained:
            results.append(phase("sustained", log, records, prober, args.rate, args.seconds, follower.pid))
            print(json.dumps(results[-1]), flush=True)
        prober.stop.set()
        with Store(store).reading():
            got = Store(store).scan().select(pl.col("input_tokens").sum(), pl.len()).collect().row(0)
        exact = got == (records.input_tokens, records.rows)
        print(
            json.dumps(
                {
                    "store_rows": got[1],
                    "expected_rows": records.rows,
                    "input_tokens_exact": exact,
                    "log_mb": round(log.stat().st_size / 1e6, 1),
                    "parts": len(Store(store).part_files()),
                }
            )
        )
        follower.send_signal(signal.SIGTERM)
        print(json.dumps({"follower_exit_code": follower.wait(timeout=60)}))
        if not exact:
            sys.exit(1)
    finally:
        if follower.poll() is None:
            follower.kill()
        err.close()
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}", file=sys.stderr)


if __name__ == "__main__":
    main()
