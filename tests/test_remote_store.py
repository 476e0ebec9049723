"""The store on object storage: a real S3-compatible server (moto's, from PyPI) on 127.0.0.1, driven
through the real CLI in subprocesses: ingest, follow, report, rollup, compact, verify, quarantine, and
several ingesters writing one bucket at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from conftest import SAMPLE_LOGS, run_cli
from test_agent_sessions import FIRST_READ, LATER, _hermes, _set_time
from tokmeter.store.objects import Bucket

moto_server = pytest.importorskip("moto.server")
pytest.importorskip("s3fs")


@pytest.fixture(scope="module")
def s3_endpoint() -> str:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket; TOKMETER_STORE points at a prefix in it (and a per-test mirror cache)."""
    env = {
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "TOKMETER_CACHE": str(tmp_path / "cache"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    import fsspec

    name = f"tm-{uuid.uuid4().hex[:12]}"
    fsspec.filesystem("s3", skip_instance_cache=True).mkdir(name)
    url = f"s3://{name}/usage-store"
    monkeypatch.setenv("TOKMETER_STORE", url)
    return url


def record(i: int, tag: str = "r") -> bytes:
    """A capture-log line over three UTC days, two models, five users (request id ``{tag}-{i}``)."""
    model = ("gpt-4o-mini-2024-07-18", "gpt-4.1-2025-04-14")[i % 2]
    body = {
        "id": f"chatcmpl-{tag}{i}",
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10 + i, "completion_tokens": 1 + i % 7, "total_tokens": 11 + i + i % 7},
    }
    rec = {
        "ts": f"2026-11-0{1 + i % 3}T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
        "request_id": f"{tag}-{i}",
        "user": f"user-{i % 5}",
        "provider": "openai",
        "method": "POST",
        "path": "/v1/chat/completions",
        "status": 200,
        "request": {"model": model},
        "body": json.dumps(body),
    }
    return json.dumps(rec).encode() + b"\n"


def write_log(path: Path, ids: range) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(record(i) for i in ids))
    return path


def cli_ok(*args: str):  # noqa: ANN201 - a click Result
    """The CLI in this process (fast); the tests that need separate processes (concurrent ingesters, the
    follower, an exit code) start real ones."""
    from typer.testing import CliRunner

    from tokmeter.cli import app

    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def report_json(*args: str) -> dict:
    return json.loads(cli_ok("report", "--format", "json", *args).stdout)


def local_report(tmp_path: Path, *inputs: Path, by: str = "model") -> dict:
    """The same report from a local store holding the same captures: what the bucket must equal."""
    local = tmp_path / f"local-{uuid.uuid4().hex[:6]}"
    cli_ok("ingest", "--store", str(local), "-q", *map(str, inputs))
    return json.loads(cli_ok("report", "--store", str(local), "--format", "json", "--by", by).stdout)


def figures(doc: dict) -> tuple:
    return doc["rows"], doc["totals"]


def objects(url: str, under: str) -> list[str]:
    from tokmeter.store.objects import Bucket

    return [o.key for o in Bucket(url).list(under)]


def test_ingest_report_rows_and_quarantine_on_s3(bucket: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(record(1, "q") + b'{"ts": "2026-11-01T00:00:00Z", "body": \n')
    cli_ok("ingest", "-q", str(SAMPLE_LOGS), str(bad))
    assert figures(report_json("--by", "model")) == figures(local_report(tmp_path, SAMPLE_LOGS, bad))
    assert objects(bucket, "usage/") and all(k.startswith("usage/date=") for k in objects(bucket, "usage/"))
    rows = cli_ok("rows", "--format", "jsonl").stdout.splitlines()
    assert (
        len(rows) == report_json()["totals"]["requests"] == len({json.loads(r)["request_id"] for r in rows})
    )
    listed = [json.loads(line) for line in cli_ok("quarantine", "--format", "jsonl").stdout.splitlines()]
    local = tmp_path / "local-quarantine"
    cli_ok("ingest", "--store", str(local), "-q", str(SAMPLE_LOGS), str(bad))
    expected = [
        json.loads(line)
        for line in cli_ok("quarantine", "--store", str(local), "--format", "jsonl").stdout.splitlines()
    ]
    assert (str(bad), 2) in [(e["source"], e["line"]) for e in listed]
    assert sorted((e["source"], e["offset"], e["reason"]) for e in listed) == sorted(
        (e["source"], e["offset"], e["reason"]) for e in expected
    )


def test_ingesting_twice_counts_once_and_verify_holds(bucket: str, tmp_path: Path) -> None:
    log = write_log(tmp_path / "a.jsonl", range(300))
    cli_ok("ingest", "-q", str(log), "--ingester-id", "host-a")
    cli_ok("ingest", "-q", str(log), "--ingester-id", "host-b")  # the same captures from a second host
    assert figures(report_json("--by", "model")) == figures(local_report(tmp_path, log))
    assert "ok: every part matches the ledger" in cli_ok("verify").stdout
    assert {k.split("/")[1] for k in objects(bucket, "ledger/")} == {"host-a", "host-b"}
    hosts = report_json("--by", "host")["rows"]  # each row names the ingester whose copy was kept
    assert {row["host"] for row in hosts} <= {"host-a", "host-b"} and sum(r["requests"] for r in hosts) == 300


def test_verify_catches_a_modified_part(bucket: str, tmp_path: Path) -> None:
    from tokmeter.store.objects import Bucket

    cli_ok("ingest", "-q", str(write_log(tmp_path / "a.jsonl", range(50))))
    key = objects(bucket, "usage/")[0]
    import io

    import polars as pl

    frame = pl.read_parquet(io.BytesIO(Bucket(bucket).get(key)))
    tampered = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.col("output_tokens") * 10)
        .otherwise(pl.col("output_tokens"))
        .alias("output_tokens")
    )
    buffer = io.BytesIO()
    tampered.write_parquet(buffer)
    Bucket(bucket).put(key, buffer.getvalue())
    done = run_cli("verify")
    assert done.returncode == 5 and f"modified: {key}" in done.stdout


def test_rollup_on_s3_answers_reports_like_the_rows(bucket: str, tmp_path: Path) -> None:
    log = write_log(tmp_path / "a.jsonl", range(400))
    cli_ok("ingest", "-q", str(log))
    from_rows = report_json("--by", "user", "--by", "model", "--by", "day")
    cli_ok("rollup", "-q")
    from_rollups = report_json("--by", "user", "--by", "model", "--by", "day")
    assert figures(from_rollups) == figures(from_rows)
    assert answered_from(bucket, ["user", "model", "day"]) == "rollups"
    cli_ok("ingest", "-q", str(write_log(tmp_path / "b.jsonl", range(350, 500))), "--ingester-id", "late")
    assert answered_from(bucket, ["model"]) == "rows"  # the rollup is stale now
    cli_ok("rollup", "-q")
    assert answered_from(bucket, ["model"]) == "rollups"
    assert figures(report_json("--by", "model")) == figures(local_report(tmp_path, log, tmp_path / "b.jsonl"))


def answered_from(url: str, dims: list[str]) -> str:
    from tokmeter.report.queries import Filters, build_report
    from tokmeter.store.backends import open_store

    return build_report(open_store(url), dims, Filters()).source


def test_three_ingesters_and_a_compaction_at_once_give_exact_totals(bucket: str, tmp_path: Path) -> None:
    """Overlapping inputs on three 'hosts', committing in small batches, with compactions running
    meanwhile: the one-row-per-request view equals one local ingest of the union."""
    inputs = [
        write_log(tmp_path / f"in{n}" / "gw.jsonl", ids)
        for n, ids in enumerate((range(0, 1500), range(1000, 2500), range(0, 2500, 2)))
    ]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tokmeter",
                "ingest",
                "--resume",
                "--batch-size",
                "150",
                "--ingester-id",
                f"host-{n}",
                "-q",
                str(path),
            ],
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for n, path in enumerate(inputs)
    ]
    compactions = 0
    while any(p.poll() is None for p in procs):
        cli_ok("compact", "-q", "--ingester-id", "compactor")
        compactions += 1
    for proc in procs:
        assert proc.wait() == 0, proc.stderr.read().decode()
    assert compactions >= 1
    expected = local_report(tmp_path, *inputs, by="user")
    assert figures(report_json("--by", "user")) == figures(expected)
    assert expected["totals"]["requests"] == 2500
    cli_ok("compact", "-q")
    assert figures(report_json("--by", "user")) == figures(expected)
    assert {k.rsplit("/", 1)[0] for k in objects(bucket, "usage/")} == {
        f"usage/date=2026-11-0{d}" for d in (1, 2, 3)
    }
    assert len(objects(bucket, "usage/")) == 3  # one part per day after the last compaction
    assert "ok: every part matches the ledger" in cli_ok("verify").stdout
    for n in range(3):  # each host's checkpoints are its own
        assert objects(bucket, f"ingesters/host-{n}/checkpoints/")


def test_follow_on_s3_resumes_without_repeating(bucket: str, tmp_path: Path) -> None:
    log = write_log(tmp_path / "logs" / "gw.jsonl", range(100))
    follower = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tokmeter",
            "ingest",
            "--follow",
            "--poll",
            "-q",
            "--ingester-id",
            "edge-1",
            str(log.parent),
        ],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for_requests(100)
        with open(log, "ab") as handle:
            handle.write(b"".join(record(i) for i in range(100, 180)))
        _wait_for_requests(180)
    finally:
        follower.send_signal(signal.SIGTERM)
        assert follower.wait(timeout=60) == 0, follower.stderr.read().decode()
    with open(log, "ab") as handle:
        handle.write(b"".join(record(i) for i in range(180, 200)))
    cli_ok("ingest", "--resume", "-q", "--ingester-id", "edge-1", str(log.parent))
    assert report_json()["totals"]["requests"] == 200
    assert figures(report_json("--by", "model")) == figures(local_report(tmp_path, log))
    status = json.loads(cli_ok("status", "--format", "json", "--ingester-id", "edge-1").stdout)
    assert [s["offset"] for s in status["sources"]] == [log.stat().st_size]


def _wait_for_requests(count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    seen = None
    from tokmeter.errors import NoStoreError

    while time.monotonic() < deadline:
        try:
            seen = report_json()["totals"]["requests"]
        except NoStoreError:  # the follower has not committed anything yet
            seen = 0
        if seen == count:
            return
        time.sleep(0.5)
    raise AssertionError(f"the follower stored {seen} requests, not {count}, within {timeout} s")


def test_duckdb_reads_the_store_through_the_documented_view(bucket: str, tmp_path: Path) -> None:
    """DuckDB over the parts (here the local mirror of the bucket), deduplicated with the SQL view of
    docs/store-layout.md, gives the figures tokmeter reports."""
    duckdb = pytest.importorskip("duckdb")
    import re

    from tokmeter.store.backends import open_store

    for n, ids in enumerate((range(0, 300), range(200, 500))):
        cli_ok("ingest", "-q", str(write_log(tmp_path / f"in{n}.jsonl", ids)), "--ingester-id", f"gw-{n}")
    store = open_store(bucket)
    with store.reading():
        store.part_files()  # every part, brought into the mirror (a read fetches only what it needs)
        glob = str(store.usage_dir / "*" / "*.parquet")
    doc = (Path(__file__).parent.parent / "docs" / "store-layout.md").read_text()
    view = re.search(r"CREATE VIEW usage AS.*?;", doc, re.S).group(0)
    connection = duckdb.connect()
    connection.execute(view.replace("s3://bucket/prefix/usage/*/*.parquet", glob))
    by_model = connection.execute(
        "SELECT model, count(*), sum(input_tokens), sum(output_tokens) FROM usage "
        "GROUP BY model ORDER BY model"
    ).fetchall()
    raw = connection.execute(f"SELECT count(*) FROM read_parquet('{glob}')").fetchone()[0]
    expected = sorted(
        (r["model"], r["requests"], r["input_tokens"], r["output_tokens"])
        for r in report_json("--by", "model")["rows"]
    )
    assert by_model == expected and sum(r[1] for r in by_model) == 500 < raw  # the duplicates were there


def test_a_follower_compacts_only_its_own_parts(bucket: str, tmp_path: Path) -> None:
    """Followers on many hosts merge only the parts they wrote (no two race over the same parts)."""
    from datetime import date

    import polars as pl

    from tokmeter.ingest.pipeline import run_ingest
    from tokmeter.store.backends import open_store

    day = date(2026, 11, 3)
    stores = {name: open_store(bucket, ingester=name) for name in ("a", "b")}
    for name, store in stores.items():
        for k in range(9):  # nine small commits each, as a follower makes them
            run_ingest([write_log(tmp_path / f"{name}{k}.jsonl", range(3 * k, 3 * k + 3))], store)
    a = stores["a"]
    owned = a.compactable_parts(day)
    assert len(owned) == 9 and all("-a-" in p.name for p in owned)
    with a.compacting():
        assert a.compact(day, fanout=8) == 8
    names = [k.rsplit("/", 1)[1] for k in objects(bucket, f"usage/date={day}/")]
    assert sum("-b-" in n for n in names) == 9 and sum("-a-" in n for n in names) == 1
    with a.reading():
        assert a.scan().filter(pl.col("date") == day).collect().height == 9
        assert a.verify().ok


def _copy(request_id: str, ts: str, status: int) -> bytes:
    doc = json.loads(record(7, "x"))
    doc.update(request_id=request_id, ts=ts, status=status)
    return json.dumps(doc).encode() + b"\n"


def test_a_copy_arriving_a_day_earlier_updates_the_rollup_of_the_next_day(
    bucket: str, tmp_path: Path
) -> None:
    """A better copy on Nov 3 replaces the kept copy on Nov 4 (copies a day apart are one request): the
    incremental rollup must recompute Nov 4 too, not only the day it was told about."""
    late = tmp_path / "late.jsonl"
    late.write_bytes(_copy("x", "2026-11-04T00:30:00Z", 500) + record(1, "y"))
    cli_ok("ingest", "-q", str(late), "--ingester-id", "a")
    cli_ok("rollup", "-q")
    early = tmp_path / "early.jsonl"
    early.write_bytes(_copy("x", "2026-11-03T23:30:00Z", 200))
    cli_ok("ingest", "-q", str(early), "--ingester-id", "b")
    cli_ok("rollup", "-q")
    assert answered_from(bucket, ["day"]) == "rollups"
    from_rollups = report_json("--by", "day")
    assert figures(from_rollups) == figures(local_report(tmp_path, late, early, by="day"))
    assert from_rollups["totals"]["requests"] == 2


def test_verify_does_not_excuse_an_injected_part_by_its_name(bucket: str, tmp_path: Path) -> None:
    """Parts no ledger records are 'in flight' only while the bucket's own clock says they are new and
    their name is one tokmeter writes: a forged future time stamp in the name does not hide one."""
    import io

    import polars as pl

    from tokmeter.store.objects import Bucket

    cli_ok("ingest", "-q", str(write_log(tmp_path / "a.jsonl", range(20))))
    key = objects(bucket, "usage/")[0]
    frame = pl.read_parquet(io.BytesIO(Bucket(bucket).get(key)))
    buffer = io.BytesIO()
    frame.with_columns(request_id=pl.col("request_id") + "-forged").write_parquet(buffer)
    forged = f"{key.rsplit('/', 1)[0]}/zz-forged.parquet"
    Bucket(bucket).put(forged, buffer.getvalue())
    done = run_cli("verify")
    assert done.returncode == 5 and f"unexpected: {forged}" in done.stdout


def test_a_prefix_without_a_store_is_an_error_until_an_ingester_writes(bucket: str, tmp_path: Path) -> None:
    done = run_cli("verify")  # a subprocess: the error as users see it
    assert done.returncode == 2 and f"$TOKMETER_STORE ({bucket}): no tokmeter store there" in done.stderr
    assert "Traceback" not in done.stderr and "ok:" not in done.stdout
    cli_ok("ingest", "-q", str(write_log(tmp_path / "a.jsonl", range(3))))
    assert report_json()["totals"]["requests"] == 3


def test_a_grown_agent_session_counts_once_on_s3(bucket: str, tmp_path: Path) -> None:
    """A Hermes session without a start time (its time: the file's), read, grown and read again a week later,
    then again after its ingester's session_times.json is gone (as in a bucket written before it existed):
    one row, the final total, on the day of the first read (``store/sessions.py``)."""
    home = tmp_path / "hermes"
    _set_time(_hermes(home, 4000, False, False), FIRST_READ)
    cli_ok("ingest", "-q", "--format", "hermes", "--ingester-id", "laptop", str(home / "state.db"))
    _set_time(_hermes(home, 6000, False, False), LATER)
    cli_ok("ingest", "-q", "--format", "hermes", "--ingester-id", "laptop", str(home / "state.db"))
    Bucket(bucket).delete(["ingesters/laptop/session_times.json"])
    _set_time(_hermes(home, 9000, False, False), LATER + timedelta(days=3))
    cli_ok("ingest", "-q", "--format", "hermes", "--ingester-id", "laptop", str(home / "state.db"))
    days = report_json("--by", "day")["rows"]
    assert [(day["day"], day["requests"], day["input_tokens"]) for day in days] == [
        (FIRST_READ.date().isoformat(), 1, 9000 + 36000)
    ]
    assert "ingesters/laptop/session_times.json" in objects(bucket, "ingesters/")
