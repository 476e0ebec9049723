"""Running one command as a subprocess and measuring it: the same way for tokmeter and its peers.

* Commands are started by a small launcher process (``launcher.py``, started before this process imports
  anything big): on Linux a child's ``ru_maxrss`` includes what it held before ``exec``, a copy of its
  parent, so children of the benchmark process itself would never report less than its size.
* Wall time: ``time.perf_counter()`` from just before ``Popen`` to the child's exit (``os.wait4``), so
  interpreter start-up, imports and writing the output are included, for every tool alike.
* Peak RSS: ``ru_maxrss`` of the rusage ``os.wait4`` returns for that one child (Linux: the largest
  resident set of the child, or of any descendant it waited for), so one measurement never sees
  another's peak (``getrusage(RUSAGE_CHILDREN)`` only keeps the maximum over all children). It is the
  largest *single* process; for a command that forks workers (``tokmeter ingest`` on large inputs) the
  launcher also samples the summed PSS of the whole process tree every 0.2 s (``tree_pss_mb``: shared
  pages counted once). ``memory_mb`` is the larger of the two, what the targets are checked against.
  (One process: its RSS from ``/proc/PID/status``; ``smaps_rollup``, which walks the page tables, is
  read only when there are several, so sampling does not slow a process with a large heap.)
* CPU: the child's user + system seconds from the same rusage (its waited-for workers included).
* The same sampling kills the child if the tree passes ``rss_cap_mb`` (so a runaway query cannot take
  the machine down); such a measurement is marked ``killed``.

``best_of`` repeats a command and keeps the fastest run (peak RSS: the largest of the runs): five runs
for commands under 5 s, three under 30 s, one above (long enough to be stable on their own).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Run:
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    returncode: int
    stdout: bytes
    stderr: bytes
    killed: bool = False
    load: float = 0.0  # 1-minute load average when it started
    tree_pss_mb: float = 0.0  # peak of the summed PSS of the process and its descendants (sampled)
    processes: int = 1  # most processes seen at once in the tree


@dataclass
class Measured:
    runs: list[Run] = field(default_factory=list)

    @property
    def best(self) -> Run:
        return min(self.runs, key=lambda r: r.seconds)

    @property
    def seconds(self) -> float:
        return self.best.seconds

    @property
    def peak_rss_mb(self) -> float:
        return max(r.peak_rss_mb for r in self.runs)

    @property
    def tree_pss_mb(self) -> float:
        return max(r.tree_pss_mb for r in self.runs)

    @property
    def memory_mb(self) -> float:
        """What the command held at its peak: the largest process, or the whole tree when it forks."""
        return max(self.peak_rss_mb, self.tree_pss_mb)

    @property
    def ok(self) -> bool:
        return all(r.returncode == 0 and not r.killed for r in self.runs)


_LAUNCHER: list[subprocess.Popen] = []
_LOCK = threading.Lock()


def start_launcher() -> None:
    """Start the launcher now, while this process is still small (call it before importing polars)."""
    if not _LAUNCHER:
        _LAUNCHER.append(
            subprocess.Popen(
                [sys.executable, str(Path(__file__).with_name("launcher.py"))],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
        )


def run(
    cmd: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    rss_cap_mb: float | None = None,
    timeout_s: float | None = None,
    cwd: Path | None = None,
) -> Run:
    """Run ``cmd`` through the launcher and measure it (see the module doc)."""
    start_launcher()
    base = Path(tempfile.gettempdir()) / f"bench-{os.getpid()}-{time.monotonic_ns()}"
    out, err = Path(f"{base}.out"), Path(f"{base}.err")
    request = {
        "cmd": [str(c) for c in cmd],
        "env": env,
        "cwd": str(cwd) if cwd else None,
        "out": str(out),
        "err": str(err),
        "rss_cap_mb": rss_cap_mb,
        "timeout_s": timeout_s,
    }
    with _LOCK:
        launcher = _LAUNCHER[0]
        launcher.stdin.write(json.dumps(request).encode() + b"\n")
        launcher.stdin.flush()
        reply = json.loads(launcher.stdout.readline())
    stdout, stderr = out.read_bytes(), err.read_bytes() + reply.get("error", "").encode()
    out.unlink()
    err.unlink()
    return Run(
        reply["seconds"],
        reply["cpu_seconds"],
        reply["peak_rss_mb"],
        reply["returncode"],
        stdout,
        stderr,
        reply["killed"],
        reply["load"],
        reply["tree_pss_mb"],
        reply["processes"],
    )


def best_of(
    cmd: Sequence[str],
    repeat: int,
    *,
    before: Callable[[], None] | None = None,
    after: Callable[[Run], None] | None = None,
    long_s: float = 30.0,
    short_s: float = 5.0,
    **kwargs,
) -> Measured:
    """Run ``cmd`` up to ``repeat`` times and keep the fastest (``before`` prepares each run, ``after``
    checks or cleans up). Commands under ``short_s`` run up to ``repeat + 2`` times (the noise of a
    loaded machine is largest on them); one over ``long_s`` runs once."""
    measured = Measured()
    while True:
        if before is not None:
            before()
        result = run(cmd, **kwargs)
        measured.runs.append(result)
        if after is not None:
            after(result)
        fastest = measured.seconds
        limit = repeat + 2 if fastest < short_s and repeat > 1 else repeat if fastest < long_s else 1
        if result.returncode != 0 or result.killed or len(measured.runs) >= limit:
            return measured


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    info = {"kernel": platform.release(), "python": platform.python_version()}
    cpu = _proc_field("/proc/cpuinfo", "model name") or platform.processor()
    info["cpu"] = f"{cpu.split(':', 1)[-1].strip()}, {os.cpu_count()} logical CPUs"
    memory = _proc_field("/proc/meminfo", "MemTotal")
    if memory:
        info["memory"] = f"{int(memory.split()[1]) / 1024 / 1024:.1f} GiB"
    import duckdb
    import polars

    info["polars"] = polars.__version__
    info["duckdb"] = duckdb.__version__
    try:
        node = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=30, check=False)
        info["node"] = node.stdout.strip()
    except OSError:
        info["node"] = "absent"
    return info


def _proc_field(path: str, key: str) -> str | None:
    """The first line of a /proc file that starts with ``key`` (None on other systems)."""
    try:
        with open(path) as handle:
            return next((line for line in handle if line.startswith(key)), None)
    except OSError:
        return None
