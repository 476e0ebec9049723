"""A shared bucket read in place: a one-week report from a fresh host over a year written by many ingesters,
beside DuckDB reading the same week from the same bucket (run by hand, never as a test).

    python bench/bucket_read.py                                   # 50M rows, 365 days, 20 ingesters
    python bench/bucket_read.py --rows 2_000_000 --days 60        # smaller
    python bench/bucket_read.py --duckdb-python /tmp/duckvenv/bin/python

The bucket is moto's S3 server (``python -m moto.server``, the one the tests use) in its own process on
127.0.0.1. Each ingester writes its share of every day as one part and one ledger object (as a follower
leaves them after merging its own small parts): what ``RemoteStore.commit`` writes, but without the
parts' digests in the ledger, which reports never read (``--exact-commits``: through ``commit`` itself,
so ``verify`` holds, several times slower);
``--dup`` of the requests are committed by a second ingester too (a retry two gateways saw), so reads
must deduplicate. Rows come from ``gen_store.day_frame`` (the report benchmark's generator).

Measured, each as a subprocess through ``measure.py`` (wall time from start to exit, imports included):

* ``tokmeter report --by user --by model --since D --until D+6`` with an empty ``$TOKMETER_CACHE`` (a fresh
  host), then again with the cache it left (a second report of the same week). Bytes fetched: the size of
  the parts the fresh cache holds afterwards, checked against ``Bucket.bytes_read`` of the same report run
  in this process; the bound is 2x the bytes of the week's own parts.
* DuckDB (httpfs, ``read_parquet`` of the nine date folders the week's deduplication needs, the
  deduplicating view of docs/store-layout.md, then the same group-by): its own Python, given by
  ``--duckdb-python`` (DuckDB's httpfs extension cannot be installed offline for the DuckDB of the
  test environment; ``pip install duckdb==1.5.5 duckdb-extension-httpfs==1.5.5`` in a venv works).
  Its bytes: what EXPLAIN ANALYZE reports as received over HTTP.
* Listing the ledger (``change_position``) before and after ``compact``'s fold, in this process.
* The cache cap: the same cold report with ``$TOKMETER_CACHE_MAX_BYTES`` at half of what it fetches (what
  the cache holds afterwards), then the report again (it fetches the evicted parts again).
* Rollups (``--period day`` and ``month``, tables in ``--output``): a full build, then one more commit
  (one ingester's part of the last day), then the incremental run from an empty cache (a host whose cache
  kept nothing): bytes fetched = the parts the cache holds afterwards; then a commit of copies of those
  rows by another ingester, and the incremental run again (it must recompute the periods). With ``--old-src DIR`` (another
  tokmeter's ``src``, e.g. ``git archive <commit> src | tar -x -C DIR``) the same runs of that tokmeter
  alternate with this one's, and their tables are compared.
* Column shares: the bytes of each column in the week's parts (Parquet footers), and the share of the
  columns a ``--by user --by model`` report reads (what fetching only those columns would save).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import measure  # noqa: E402 - starts its launcher before the big imports

DUCKDB_QUERY = """
import json, re, sys, time, duckdb
endpoint, bucket, prefix, days, view = sys.argv[1:6]
import pathlib
c = duckdb.connect()
try:
    c.execute("LOAD httpfs")
except duckdb.IOException:  # not installed: the one of the duckdb-extension-httpfs package
    import duckdb_extension_httpfs
    ext = next(pathlib.Path(duckdb_extension_httpfs.__file__).parent.rglob("httpfs.duckdb_extension"))
    c.execute(f"LOAD '{ext}'")
c.execute("SET enable_progress_bar = false")
c.execute(f"CREATE SECRET (TYPE s3, KEY_ID 'bench', SECRET 'bench', ENDPOINT '{endpoint}', URL_STYLE 'path', USE_SSL false, REGION 'us-east-1')")
globs = ", ".join(f"'s3://{bucket}/{prefix}/usage/date={d}/*.parquet'" for d in days.split(","))
first, last = days.split(",")[1], days.split(",")[-2]
view = view.replace("'s3://bucket/prefix/usage/*/*.parquet'", f"[{globs}]")
c.execute(view)
query = (f"SELECT user, model, count(*) AS requests, sum(input_tokens), sum(output_tokens) FROM usage "
         f"WHERE date BETWEEN DATE '{first}' AND DATE '{last}' GROUP BY 1, 2")
start = time.perf_counter()
rows = c.execute(query).fetchall()
seconds = time.perf_counter() - start
try:
    c.execute("SET enable_external_file_cache = false")  # count the bytes of a fresh read, not the cache's
except duckdb.Error:
    pass
plan = "\\n".join(str(r[-1]) for r in c.execute("EXPLAIN ANALYZE " + query).fetchall())
received = re.search(r"in:\\s*([0-9.]+)\\s*([KMG]i?B|bytes)", plan)
print(json.dumps({"version": duckdb.__version__, "groups": len(rows), "requests": sum(r[2] for r in rows), "input": sum(r[3] for r in rows),
                  "output": sum(r[4] for r in rows), "query_seconds": seconds,
                  "http_in": received.group(0) if received else None}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--ingesters", type=int, default=20)
    parser.add_argument("--dup", type=float, default=0.005)
    parser.add_argument(
        "--week", default=None, help="first day of the week read (default: 5 weeks before the end)"
    )
    parser.add_argument("--duckdb-python", default=None)
    parser.add_argument(
        "--exact-commits",
        action="store_true",
        help="commit through RemoteStore.commit (ledger digests, verify holds; several times slower)",
    )
    parser.add_argument("--out", type=Path, default=HERE / "out" / "bucket")
    parser.add_argument("--old-src", type=Path, default=None, help="another tokmeter's src, run beside")
    parser.add_argument("--skip-ledger", action="store_true", help="no ledger listing and fold")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(port)
        endpoint = f"http://127.0.0.1:{port}"
        env = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        os.environ.update(env)
        print(json.dumps(_run(args, endpoint, env)), flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _run(args: argparse.Namespace, endpoint: str, env: dict[str, str]) -> dict:
    import fsspec
    from gen_store import LAST_DAY

    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    fsspec.filesystem("s3", skip_instance_cache=True).mkdir(bucket)
    url = f"s3://{bucket}/tokmeter"
    started = time.perf_counter()
    written = _fill(url, args)
    result: dict = {"rows": args.rows, "days": args.days, "ingesters": args.ingesters, **written}
    result["fill_seconds"] = round(time.perf_counter() - started, 1)
    first = date.fromisoformat(args.week) if args.week else LAST_DAY - timedelta(days=34)
    last = first + timedelta(days=6)
    result["week"] = f"{first}..{last}"
    result |= _bytes(url, first, last)
    print(
        json.dumps(result), file=sys.stderr, flush=True
    )  # each step as it is done: a later failure keeps them
    result |= _tokmeter(url, first, last, args.out, env)
    print(json.dumps(result["tokmeter"]), file=sys.stderr, flush=True)
    if args.duckdb_python:
        try:
            result["duckdb"] = _duckdb(args.duckdb_python, endpoint, bucket, first, last)
        except (AssertionError, ValueError, IndexError) as exc:
            result["duckdb"] = {"error": str(exc)[-500:]}
        print(json.dumps(result["duckdb"]), file=sys.stderr, flush=True)
    result["capped"] = _capped(url, first, last, args.out, env, result["tokmeter"]["fetched_bytes"])
    print(json.dumps(result["capped"]), file=sys.stderr, flush=True)
    result["columns"] = _columns(url, first, last)
    print(json.dumps(result["columns"]), file=sys.stderr, flush=True)
    result["rollups"] = _rollups(url, args, env)
    print(json.dumps(result["rollups"]), file=sys.stderr, flush=True)
    if not args.skip_ledger:
        result |= _ledger(url, args.out)
    result["machine"] = measure.machine()
    return result


def _fill(url: str, args: argparse.Namespace) -> dict:
    """Every ingester's share of every day, committed as an ingester commits it."""
    import polars as pl
    from gen_store import LAST_DAY, day_counts, day_frame

    from tokmeter.store.remote import RemoteStore

    stores = [
        RemoteStore(url, ingester=f"gw-{n:02d}", cache=args.out / "writer") for n in range(args.ingesters)
    ]
    counts = day_counts(args.rows, args.days)
    start = LAST_DAY - timedelta(days=args.days - 1)
    index, committed = 0, 0
    for k, count in enumerate(counts):
        frame = day_frame(start + timedelta(days=k), count, index, seed=1).with_row_index("_n")
        index += count
        owner = pl.col("_n") % args.ingesters
        dup = (pl.col("_n").hash(7) % 10_000) < int(args.dup * 10_000)
        for n, store in enumerate(stores):
            mine = frame.filter((owner == n) | (dup & (((owner + 1) % args.ingesters) == n))).drop("_n")
            if args.exact_commits:
                committed += store.commit(mine).rows_written
            else:  # the part and ledger object a commit writes, without the digest (the slow half)
                key = _put(store, start + timedelta(days=k), mine)
                store._record(
                    uuid.uuid4().hex, [{"op": "add", "part": key, "rows": mine.height, "sha256": "-"}]
                )
                committed += mine.height
        if (k + 1) % 30 == 0:
            print(f"filled {k + 1}/{args.days} days", file=sys.stderr, flush=True)
    return {"rows_committed": committed, "requests": index}


def _put(store, day: date, frame) -> str:  # store: a RemoteStore, frame: a polars DataFrame
    """One part as ``RemoteStore.commit`` names and writes it."""
    import io

    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"{time.time_ns() // 1000 % 1_000_000:06d}"
    key = f"usage/date={day.isoformat()}/part-{stamp}-{store.ingester}-{uuid.uuid4().hex[:12]}.parquet"
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd", statistics=True)
    store.bucket.put(key, buffer.getvalue())
    return key


def _bytes(url: str, first: date, last: date) -> dict:
    from tokmeter.store.objects import Bucket

    listed = Bucket(url).list("usage/")
    week = [o for o in listed if first.isoformat() <= o.key[11:21] <= last.isoformat()]
    return {
        "bucket_parts": len(listed),
        "bucket_bytes": sum(o.size for o in listed),
        "week_parts": len(week),
        "week_bytes": sum(o.size for o in week),
    }


def _tokmeter(url: str, first: date, last: date, out: Path, env: dict[str, str]) -> dict:
    from tokmeter.report.queries import Filters, build_report
    from tokmeter.store.remote import RemoteStore

    cache = out / f"fresh-{uuid.uuid4().hex[:6]}"
    cmd = [sys.executable, "-m", "tokmeter", "report", "--store", url, "--by", "user", "--by", "model"]
    cmd += ["--since", str(first), "--until", str(last), "--format", "json"]
    run_env = {**os.environ, **env, "TOKMETER_CACHE": str(cache), "PYTHONPATH": str(HERE.parent / "src")}
    cold = measure.run(cmd, env=run_env)
    assert cold.returncode == 0, cold.stderr.decode()[-2000:]
    fetched = sum(p.stat().st_size for p in cache.rglob("*.parquet"))
    warm = measure.run(cmd, env=run_env)
    doc = json.loads(cold.stdout)
    in_process = RemoteStore(url, cache=out / f"check-{uuid.uuid4().hex[:6]}")
    build_report(in_process, ["user", "model"], Filters(since=first, until=last), use_rollups=False)
    return {
        "tokmeter": {
            "cold_seconds": round(cold.seconds, 2),
            "cold_peak_rss_mb": round(cold.peak_rss_mb),
            "warm_seconds": round(warm.seconds, 2),
            "fetched_bytes": fetched,
            "bytes_read_in_process": in_process.bucket.bytes_read,
            "groups": len(doc["rows"]),
            "requests": doc["totals"]["requests"],
            "input": doc["totals"]["input_tokens"],
            "output": doc["totals"]["output_tokens"],
        }
    }


def _duckdb(python: str, endpoint: str, bucket: str, first: date, last: date) -> dict:
    doc = (HERE.parent / "docs" / "store-layout.md").read_text()
    view = re.search(r"CREATE VIEW usage AS.*?;", doc, re.S).group(0)  # type: ignore[union-attr]
    days = ",".join(str(first + timedelta(days=k)) for k in range(-1, (last - first).days + 2))
    run = measure.run(
        [python, "-c", DUCKDB_QUERY, endpoint.split("://", 1)[1], bucket, "tokmeter", days, view]
    )
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    last = run.stdout.decode().strip().splitlines()[-1]  # after anything DuckDB itself printed
    return {"seconds": round(run.seconds, 2), "peak_rss_mb": round(run.peak_rss_mb), **json.loads(last)}


def _report_cmd(url: str, first: date, last: date) -> list[str]:
    cmd = [sys.executable, "-m", "tokmeter", "report", "--store", url, "--by", "user", "--by", "model"]
    return [*cmd, "--since", str(first), "--until", str(last), "--format", "json"]


def _cached_bytes(cache: Path) -> int:
    return sum(p.stat().st_size for p in cache.rglob("usage/date=*/*.parquet"))


def _capped(url: str, first: date, last: date, out: Path, env: dict[str, str], fetched: int) -> dict:
    """The cold report with a cache cap of half what it fetches, then again: the cap holds after each."""
    cache = out / f"capped-{uuid.uuid4().hex[:6]}"
    cap = fetched // 2
    run_env = {**os.environ, **env, "TOKMETER_CACHE": str(cache), "TOKMETER_CACHE_MAX_BYTES": str(cap)}
    run_env["PYTHONPATH"] = str(HERE.parent / "src")
    runs = {}
    for name in ("cold", "again"):
        done = measure.run(_report_cmd(url, first, last), env=run_env)
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        runs[name] = {
            "seconds": round(done.seconds, 2),
            "cpu_seconds": round(done.cpu_seconds, 2),
            "cached_bytes_after": _cached_bytes(cache),
            "requests": json.loads(done.stdout)["totals"]["requests"],
        }
    return {"cap_bytes": cap, **runs}


# the columns a report by user and model reads: deduplication's (request id, its ranking and tie-breaks),
# pricing's and the groups'; the rest of a part (response_id, endpoint, stream, host, the owner columns
# a report by user does not group by) is fetched for nothing
REPORT_COLUMNS = (
    "request_id", "timestamp", "user", "provider", "model", "input_tokens", "cache_read_tokens",
    "cache_write_tokens", "cache_write_1h_tokens", "output_tokens", "reasoning_tokens", "usage_source",
    "complete", "service_tier", "speed", "status", "source", "source_offset",
)  # fmt: skip


def _columns(url: str, first: date, last: date) -> dict:
    """Each column's compressed bytes in the week's parts, read from their footers only."""
    import fsspec
    import pyarrow.parquet as pq

    from tokmeter.store.objects import Bucket

    bucket = Bucket(url)
    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    week = [o for o in bucket.list("usage/") if first.isoformat() <= o.key[11:21] <= last.isoformat()]
    sizes: dict[str, int] = {}
    for obj in week:
        with fs.open(f"{bucket.prefix}/{obj.key}", "rb", block_size=64 * 1024) as handle:
            meta = pq.ParquetFile(handle).metadata
        for rg in range(meta.num_row_groups):
            for c in range(meta.num_columns):
                column = meta.row_group(rg).column(c)
                name = column.path_in_schema.split(".", 1)[0]
                sizes[name] = sizes.get(name, 0) + column.total_compressed_size
    total = sum(o.size for o in week)
    read = sum(size for name, size in sizes.items() if name in REPORT_COLUMNS)
    return {
        "week_bytes": total,
        "column_bytes": sum(sizes.values()),
        "report_columns_bytes": read,
        "report_share": round(read / total, 3),
        "by_column": dict(sorted(sizes.items(), key=lambda kv: -kv[1])),
    }


def _rollups(url: str, args: argparse.Namespace, env: dict[str, str]) -> dict:
    """Full, then incremental after one more commit from an empty cache; this tokmeter and --old-src."""
    from gen_store import LAST_DAY, day_frame

    from tokmeter.store.remote import RemoteStore

    trees = {"new": HERE.parent / "src", **({"old": args.old_src} if args.old_src else {})}
    out: dict = {}
    for period in ("day", "month"):
        tables = {name: args.out / f"rollup-{name}-{period}-{uuid.uuid4().hex[:6]}" for name in trees}

        def rollup(name: str, step: str, period: str = period, tables: dict = tables) -> None:
            cache = args.out / f"rcache-{name}-{uuid.uuid4().hex[:6]}"
            run_env = {**os.environ, **env, "TOKMETER_CACHE": str(cache), "PYTHONPATH": str(trees[name])}
            cmd = [sys.executable, "-m", "tokmeter", "rollup", "--store", url, "--period", period]
            done = measure.run([*cmd, "--output", str(tables[name]), "-q"], env=run_env)
            assert done.returncode == 0, done.stderr.decode()[-2000:]
            out.setdefault(f"{period} {step}", {})[name] = {
                "seconds": round(done.seconds, 2),
                "cpu_seconds": round(done.cpu_seconds, 2),
                "fetched_bytes": _cached_bytes(cache),
                "fetched_parts": len(list(cache.rglob("usage/date=*/*.parquet"))),
            }

        for name in trees:
            rollup(name, "full")
        frame = day_frame(LAST_DAY, 5_000, 10**9 * (2 if period == "day" else 3), seed=2)  # new ids
        RemoteStore(url, ingester=f"gw-late-{period}", cache=args.out / "writer").commit(frame)
        for name in trees:
            rollup(name, "after one commit")
        # the same rows from another ingester (two gateways saw them): copies, so the periods are recomputed
        RemoteStore(url, ingester=f"gw-again-{period}", cache=args.out / "writer").commit(frame)
        for name in trees:
            rollup(name, "after a commit of copies")
        if len(tables) == 2:
            out[f"{period} tables equal"] = _same_tables(*tables.values())
    return out


def _same_tables(one: Path, two: Path) -> bool:
    import polars as pl

    frames = [pl.read_parquet(t / "*" / "period=*" / "*.parquet", hive_partitioning=True) for t in (one, two)]
    frames = [f.sort(f.columns, nulls_last=True) for f in frames]
    return frames[0].equals(frames[1])


def _ledger(url: str, out: Path) -> dict:
    from tokmeter.store.objects import Bucket
    from tokmeter.store.remote import RemoteStore

    def listing(cache: str) -> tuple[float, int]:
        store = RemoteStore(url, cache=out / cache)
        start = time.perf_counter()
        position = store.change_position()
        return time.perf_counter() - start, len(position)

    objects_before = len(Bucket(url).list("ledger/"))
    before, chains = listing(f"ledger-{uuid.uuid4().hex[:6]}")
    start = time.perf_counter()
    folded = RemoteStore(url, ingester="compactor", cache=out / "compactor").fold_ledger()
    fold_seconds = time.perf_counter() - start
    cache = f"ledger-{uuid.uuid4().hex[:6]}"
    after, chains_after = listing(cache)
    assert chains_after == chains
    return {
        "ledger": {
            "objects_before": objects_before,
            "objects_after": len(Bucket(url).list("ledger/")),
            "folded": folded,
            "fold_seconds": round(fold_seconds, 2),
            "position_seconds_before": round(before, 3),
            "position_seconds_after_first": round(after, 3),
            "position_seconds_after_cached": round(listing(cache)[0], 3),
        }
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as conn:
            if conn.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError("the moto server did not start")


if __name__ == "__main__":
    main()
