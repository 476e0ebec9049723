"""The benchmark suite: one command, one table (run by hand, never as a test).

    python bench/run.py --quick                  # small sizes, about two minutes
    python bench/run.py                          # full sizes: 100M-row store, 5 GB input (see BENCHMARKS.md)
    python bench/run.py --only report --only incremental
    python bench/run.py --quick --markdown       # the tables as Markdown, for BENCHMARKS.md

Rows: ``help`` (``tokmeter --help``), ``ingest`` (vs the naive baseline), ``claude`` (Claude Code logs vs
ccusage), ``report`` (100M rows vs DuckDB, from the rows and from the rollup table), ``incremental``
(10 MB into a store of 1M vs 100M rows), ``big`` (peak RSS ingesting 5 GB). Every command runs as a
subprocess and is measured the same way (``measure.py``: wall time, peak RSS of that child); peers run
in the same invocation, right after tokmeter, on the same input. Inputs are generated once, seeded, and
cached under ``--out`` (default ``bench/out/``), keyed by kind, size and seed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

SIZES = {
    "quick": {
        "ingest_mb": 20,
        "claude": (200, 2, 8),
        "report_rows": 2_000_000,
        "small_rows": 100_000,
        "incr_mb": 10,
        "big_ingest_mb": 100,
        "repeat": 3,
    },
    "full": {
        "ingest_mb": 500,
        "claude": (3000, 6, 30),
        "report_rows": 100_000_000,
        "small_rows": 1_000_000,
        "incr_mb": 10,
        "big_ingest_mb": 5000,
        "repeat": 3,
    },
}
ROWS = ("help", "ingest", "claude", "report", "incremental", "big")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (about two minutes)")
    parser.add_argument("--only", action="append", choices=ROWS, help="run only this row (repeatable)")
    parser.add_argument("--out", type=Path, default=HERE / "out", help="generated inputs and results")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, help="runs per short measurement, best kept (default 3)")
    parser.add_argument(
        "--ccusage",
        help="a ccusage 20.0.24 binary (default: $TOKMETER_CCUSAGE, PATH, else npm install into OUT/npm)",
    )
    parser.add_argument("--rss-cap-gb", type=float, default=12.0, help="kill a command whose RSS passes this")
    parser.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    args = parser.parse_args()
    import importlib.util

    import measure

    measure.start_launcher()  # first, while this process is small (see measure.py)
    if importlib.util.find_spec("tokmeter") is None:
        print(
            "tokmeter is not importable by this Python: run it with the venv's python after "
            "pip install -e '.[test]'",
            file=sys.stderr,
        )
        return 2
    _byte_compile()

    import suite
    from ccusage_compare import find_ccusage

    mode = "quick" if args.quick else "full"
    sizes = dict(SIZES[mode])
    if args.repeat:
        sizes["repeat"] = args.repeat
    out = args.out.resolve()
    chosen = args.only or list(ROWS)
    ctx = suite.Context(out, args.seed, sizes, suite.Results(), args.rss_cap_gb * 1024)
    if "claude" in chosen:
        ctx.ccusage = find_ccusage(args.ccusage, out / "npm")
    functions = {
        "help": suite.row_help,
        "ingest": suite.row_ingest,
        "claude": suite.row_claude,
        "report": suite.row_report,
        "incremental": suite.row_incremental,
        "big": suite.row_big_ingest,
    }
    path = out / f"results-{mode}.json"
    previous = json.loads(path.read_text()).get("rows", {}) if path.exists() and args.only else {}
    done: dict[str, dict] = {}
    started = time.time()
    for name in ROWS:
        if name not in chosen:
            continue
        print(f"[{time.strftime('%H:%M:%S')}] {name} ...", file=sys.stderr, flush=True)
        ctx.results = suite.Results()
        row_start, load = time.time(), os.getloadavg()[0]
        try:
            functions[name](ctx)
        except Exception as exc:  # noqa: BLE001 - one broken row must not lose the others' figures
            ctx.results.warnings.append(f"{name}: the row stopped: {type(exc).__name__}: {exc}"[:600])
        done[name] = {
            **ctx.results.as_dict(),
            "at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(row_start)),
            "minutes": round((time.time() - row_start) / 60, 1),
            "load": f"{load:.2f} -> {os.getloadavg()[0]:.2f}",
        }
    rows = {name: done.get(name) or previous[name] for name in ROWS if name in done or name in previous}
    info = measure.machine()
    info["suite"] = (
        f"{mode}: this invocation took {(time.time() - started) / 60:.1f} min (generating inputs not "
        "cached yet included)"
    )
    doc = {"machine": info, "sizes": sizes, "rows": rows}
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, default=str))
    print(render(doc, markdown=args.markdown))
    return 1 if any(row["warnings"] for row in done.values()) else 0


def _byte_compile() -> None:
    """Compile tokmeter's modules once, as ``pip install`` does. From a checkout run with
    PYTHONDONTWRITEBYTECODE=1 (or without a writable ``__pycache__``), every measured command would
    otherwise compile ~80 of tokmeter's modules again: 0.1 s of each start-up, about a quarter of it."""
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("tokmeter")
    if spec is not None and spec.origin is not None:
        compileall.compile_dir(Path(spec.origin).parent, quiet=1)


def _rate(value: float | None, seconds: float, digits: int = 1) -> str:
    return "-" if not value or seconds <= 0 else f"{value / seconds:,.{digits}f}"


def render(doc: dict, *, markdown: bool = False) -> str:
    rows = doc["rows"].values()
    records = [r for row in rows for r in row["records"]]
    flat = {key: [x for row in rows for x in row[key]] for key in ("ratios", "targets", "notes", "warnings")}
    head = [
        "row",
        "what",
        "input",
        "wall s",
        "cpu s",
        "MB/s",
        "items/s",
        "peak RSS MB",
        "tree PSS MB",
        "procs",
        "runs",
        "load",
    ]
    body = [
        [
            r["row"],
            r["name"],
            r["input"],
            f"{r['seconds']:.3f}" if r["seconds"] < 10 else f"{r['seconds']:.1f}",
            f"{r['cpu_seconds']:.2f}" if r["cpu_seconds"] < 10 else f"{r['cpu_seconds']:.1f}",
            _rate(r["mb"], r["seconds"]),
            _rate(r["items"], r["seconds"], 0) + (f" {r['unit']}" if r["items"] else ""),
            f"{r['peak_rss_mb']:,.0f}",
            f"{r.get('tree_pss_mb', 0):,.0f}",
            str(r.get("processes", 1)),
            str(len(r["runs"])),
            f"{r['load']:.1f}",
        ]
        + ([] if r["ok"] else ["FAILED"])
        for r in records
    ]
    by = {(r["row"], r["name"]): r for r in records}
    ratio_head = ["row", "tokmeter", "peer", "wall ratio (tokmeter / peer)", "memory ratio"]
    ratio_body = []
    for row, ours, theirs in flat["ratios"]:
        a, b = by.get((row, ours)), by.get((row, theirs))
        if a and b and a["ok"] and b["ok"]:
            ratio = a["seconds"] / b["seconds"]
            words = f"{ratio:.2f} ({'slower' if ratio > 1 else 'faster'}: {max(ratio, 1 / ratio):.1f}x)"
            memory = a.get("memory_mb", a["peak_rss_mb"]) / b.get("memory_mb", b["peak_rss_mb"])
            ratio_body.append([row, ours, theirs, words, f"{memory:.2f}"])
    target_body = [
        [
            what,
            f"< {limit:g} {unit}",
            f"{got:,.2f} {unit}" if unit == "s" else f"{got:,.0f} {unit}",
            "met" if ok else "NOT met",
        ]
        for what, unit, limit, got, ok in flat["targets"]
    ]
    parts = [
        _table(head, body, markdown),
        "",
        _table(ratio_head, ratio_body, markdown),
        "",
        _table(["target", "limit", "measured", ""], target_body, markdown),
        "",
    ]
    parts += [f"note: {n}" for n in flat["notes"]] + [f"WARNING: {w}" for w in flat["warnings"]]
    parts += ["", "machine: " + "; ".join(f"{k} {v}" for k, v in doc["machine"].items())]
    parts += [
        f"{name}: measured {row['at']}, {row['minutes']} min, 1-min load {row['load']}"
        for name, row in doc["rows"].items()
    ]
    return "\n".join(parts)


def _table(head: list[str], body: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in body])
    widths = [max(len(str(row[i])) for row in [head, *body] if i < len(row)) for i in range(len(head))]

    def fmt(row: list[str]) -> str:
        return "  ".join(str(c).ljust(widths[i]) if i < len(widths) else str(c) for i, c in enumerate(row))

    return "\n".join([fmt(head), "  ".join("-" * w for w in widths), *map(fmt, body)])


if __name__ == "__main__":
    raise SystemExit(main())
