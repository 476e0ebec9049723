"""A small process that starts the measured commands (stdlib only; started by ``measure.py`` first thing).

Why: on Linux a child's ``ru_maxrss`` includes the resident set it had *before* ``exec``, which is a copy
of its parent's: commands started by the benchmark process itself (which holds polars, DuckDB and
generated data) would all report at least its size. Started from this launcher (about 10 MB), a
command's peak RSS is its own.

Protocol: one JSON request per line on stdin ``{"cmd": [...], "env": {...} | null, "cwd": str | null,
"out": path, "err": path, "rss_cap_mb": float | null, "timeout_s": float | null}``; one JSON reply per
line on stdout ``{"seconds", "cpu_seconds", "peak_rss_mb", "tree_rss_mb", "tree_pss_mb", "processes",
"returncode", "killed", "load"}``: ``peak_rss_mb`` is the kernel's high-water mark of the largest single
process (``ru_maxrss``), ``tree_*`` the peaks of the sums over the child and its descendants sampled
every 0.2 s (what forked workers hold together; a spike shorter than that can be missed).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time


def _tree(root: int) -> list[int]:
    """``root`` and its descendants (from the parent ids in /proc/*/stat)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as handle:
                    ppid = int(handle.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def _memory_mb(pids: list[int]) -> tuple[float, float]:
    """(sum of RSS, sum of PSS) over the processes, in MB. PSS shares each page among the processes
    mapping it, so the PSS sum of forked workers is what they hold together. One process: its RSS from
    /proc/PID/status (a counter, cheap); PSS is read (``smaps_rollup`` walks the page tables, which
    costs the measured process time on a large heap) only when there are several."""
    if len(pids) == 1:
        rss = _status_kb(pids[0]) / 1024
        return rss, rss
    rss = pss = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as handle:
                for line in handle:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            continue
    return rss / 1024, pss / 1024


def _status_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _watch(
    pid: int, cap_mb: float | None, timeout_s: float | None, start: float, stop: threading.Event, seen: dict
) -> None:
    """Every 0.2 s: the process tree's summed RSS and PSS (peaks kept in ``seen``); kill the child when
    the tree passes the cap or the timeout is over."""
    while not stop.wait(0.2):
        pids = _tree(pid)
        rss, pss = _memory_mb(pids)
        seen["tree_rss_mb"] = max(seen["tree_rss_mb"], rss)
        seen["tree_pss_mb"] = max(seen["tree_pss_mb"], pss)
        seen["processes"] = max(seen["processes"], len(pids) if rss else 0)
        over_time = timeout_s is not None and time.perf_counter() - start > timeout_s
        if over_time or (cap_mb is not None and pss > cap_mb):
            seen["killed"] = True
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return


def run_one(req: dict) -> dict:
    with open(req["out"], "wb") as out, open(req["err"], "wb") as err:
        load = os.getloadavg()[0]
        start = time.perf_counter()
        proc = subprocess.Popen(req["cmd"], stdout=out, stderr=err, env=req.get("env"), cwd=req.get("cwd"))
        seen = {"tree_rss_mb": 0.0, "tree_pss_mb": 0.0, "processes": 0, "killed": False}
        stop = threading.Event()
        watch = threading.Thread(
            target=_watch,
            args=(proc.pid, req.get("rss_cap_mb"), req.get("timeout_s"), start, stop, seen),
            daemon=True,
        )
        watch.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        stop.set()
        watch.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "returncode": proc.returncode,
        "load": load,
        **seen,
    }


def main() -> None:
    for line in sys.stdin:
        if line.strip():
            try:
                reply = run_one(json.loads(line))
            except OSError as exc:
                reply = {
                    "seconds": 0.0,
                    "cpu_seconds": 0.0,
                    "peak_rss_mb": 0.0,
                    "tree_rss_mb": 0.0,
                    "tree_pss_mb": 0.0,
                    "processes": 0,
                    "returncode": 127,
                    "killed": False,
                    "load": 0.0,
                    "error": str(exc),
                }
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
