"""The local cache of a bucket's parts stays under its cap ($TOKMETER_CACHE_MAX_BYTES, the config file's
cache_max_bytes): the least recently used parts go first, the newest stay, and a read that needs an evicted
part fetches it again and gives the same figures. A real S3 server (moto's) on 127.0.0.1, as in
test_remote_store.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from test_agent_sessions import FIRST_READ, LATER, _hermes, _set_time
from test_remote_reads import ingest, spread_log
from test_remote_store import bucket, cli_ok, report_json, s3_endpoint  # noqa: F401 - fixtures

if TYPE_CHECKING:
    from tokmeter.report.queries import Report
    from tokmeter.store.protocol import StoreBackend

pytest.importorskip("moto.server")
pytest.importorskip("s3fs")

FIRST = (date(2026, 11, 2), date(2026, 11, 8))  # reads 11-01..11-09 (deduplication: a day each side)
SECOND = (date(2026, 11, 16), date(2026, 11, 22))  # reads 11-15..11-23


def part_sizes(url: str) -> dict[str, int]:
    """day (YYYY-MM-DD) -> the bytes of its parts in the bucket."""
    from tokmeter.store.objects import Bucket

    sizes: dict[str, int] = {}
    for obj in Bucket(url).list("usage/"):
        sizes[obj.key[11:21]] = sizes.get(obj.key[11:21], 0) + obj.size
    return sizes


def read_days(week: tuple[date, date]) -> set[str]:
    return {(week[0] + timedelta(days=k)).isoformat() for k in range(-1, (week[1] - week[0]).days + 2)}


def cached_days(root: Path) -> set[str]:
    return {p.parent.name.split("=", 1)[1] for p in root.glob("usage/date=*/*.parquet")}


def week_report(store: StoreBackend, week: tuple[date, date]) -> Report:
    from tokmeter.report.queries import Filters, build_report

    return build_report(store, ["model", "day"], Filters(since=week[0], until=week[1]), use_rollups=False)


def test_the_cap_holds_the_newest_parts_stay_and_evicted_ones_are_fetched_again(
    bucket: str,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tokmeter.ingest.pipeline import run_ingest
    from tokmeter.store import cache
    from tokmeter.store.local import Store
    from tokmeter.store.remote import RemoteStore

    log = spread_log(tmp_path / "in.jsonl", range(0, 840))
    ingest(bucket, "gw-0", log)
    local = Store(tmp_path / "local")
    run_ingest([log], local)
    sizes = part_sizes(bucket)
    cap = max(sum(sizes[d] for d in read_days(FIRST)), sum(sizes[d] for d in read_days(SECOND)))
    assert cap < sum(sizes[d] for d in read_days(FIRST) | read_days(SECOND))  # both weeks do not fit
    monkeypatch.setenv("TOKMETER_CACHE_MAX_BYTES", str(cap))

    host = RemoteStore(bucket, cache=tmp_path / "host")
    first = week_report(host, FIRST)
    assert cached_days(host.root) == read_days(FIRST)
    second = week_report(host, SECOND)
    assert cache.usage(host.usage_dir).bytes <= cap
    assert cached_days(host.root) >= read_days(SECOND)  # the newest stay; the first week's go first

    fetched = len(host.fetched)
    again = week_report(host, FIRST)  # its evicted parts are fetched again, with the same figures
    refetched = {key[11:21] for key in host.fetched[fetched:]}
    assert refetched and refetched <= read_days(FIRST) and cached_days(host.root) >= read_days(FIRST)
    assert again.rows.equals(first.rows) and again.totals.equals(first.totals)
    expected = week_report(local, FIRST)
    assert first.rows.equals(expected.rows) and first.totals.equals(expected.totals)
    assert second.rows.equals(week_report(local, SECOND).rows)
    assert cache.usage(host.usage_dir).bytes <= cap

    monkeypatch.setenv("TOKMETER_CACHE_MAX_BYTES", "0")  # nothing kept past the command that read it
    empty = RemoteStore(bucket, cache=tmp_path / "no-cache")
    assert week_report(empty, SECOND).rows.equals(second.rows)
    assert cache.usage(empty.usage_dir).parts == 0 and len(empty.fetched) > 0
    outside = empty.part_files({SECOND[0]})  # read by the caller after the mirror is let go: spared
    assert outside and all(path.exists() for path in outside)


def test_two_processes_sharing_a_small_cache_both_read_right(
    bucket: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Each evicts what the other fetched (a cap below one week) but never while the other reads."""
    from tokmeter.report.queries import Filters, build_report
    from tokmeter.store.local import Store

    log = spread_log(tmp_path / "in.jsonl", range(0, 560))
    ingest(bucket, "gw-0", log)
    sizes = part_sizes(bucket)
    env = {"TOKMETER_CACHE_MAX_BYTES": str(max(sizes.values()) * 3)}
    weeks = [FIRST, SECOND, FIRST]
    args = [
        [
            sys.executable,
            "-m",
            "tokmeter",
            "report",
            "--format",
            "json",
            "--by",
            "day",
            "--since",
            str(a),
            "--until",
            str(b),
        ]
        for a, b in weeks
    ]
    runs = [
        subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env}
        )
        for cmd in args
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert all(run.returncode == 0 for run in runs), [err for _out, err in outputs]
    local = Store(tmp_path / "local")
    from tokmeter.ingest.pipeline import run_ingest

    run_ingest([log], local)
    for (out, _err), (since, until) in zip(outputs, weeks, strict=True):
        expected = build_report(local, ["day"], Filters(since=since, until=until), use_rollups=False)
        got = {row["day"]: row["requests"] for row in json.loads(out)["rows"]}
        assert got == dict(zip(expected.rows["day"], expected.rows["requests"], strict=True))
        assert len(got) == 7


def test_the_cap_comes_from_the_variable_then_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tokmeter.config import DEFAULT_CACHE_MAX_BYTES, cache_max_bytes
    from tokmeter.errors import ConfigError

    config = tmp_path / "config.toml"
    config.write_text("")
    monkeypatch.setenv("TOKMETER_CONFIG", str(config))
    monkeypatch.delenv("TOKMETER_CACHE_MAX_BYTES", raising=False)
    assert cache_max_bytes() == DEFAULT_CACHE_MAX_BYTES == 2 * 1024**3
    config.write_text("cache_max_bytes = 5_000_000\n")
    assert cache_max_bytes() == 5_000_000
    monkeypatch.setenv("TOKMETER_CACHE_MAX_BYTES", "123")
    assert cache_max_bytes() == 123
    monkeypatch.setenv("TOKMETER_CACHE_MAX_BYTES", "-1")
    with pytest.raises(ConfigError, match="TOKMETER_CACHE_MAX_BYTES=-1"):
        cache_max_bytes()
    monkeypatch.delenv("TOKMETER_CACHE_MAX_BYTES")
    config.write_text('cache_max_bytes = "2GB"\n')
    with pytest.raises(ConfigError, match="cache_max_bytes: expected a whole number of bytes"):
        cache_max_bytes()


def test_compact_fetches_only_the_days_it_merges(
    bucket: str,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a cache that keeps nothing, a compaction run from cron must not fetch the whole store each
    time: the parts are counted from a listing, and only days with parts to merge are fetched."""
    from tokmeter.store.compact import compact
    from tokmeter.store.remote import RemoteStore

    monkeypatch.setenv("TOKMETER_CACHE_MAX_BYTES", "0")
    ingest(bucket, "gw-0", spread_log(tmp_path / "a.jsonl", range(0, 280)))  # one part a day, 28 days
    host = RemoteStore(bucket, cache=tmp_path / "cron-host")
    assert compact(host).partitions == [] and host.fetched == []
    ingest(bucket, "gw-1", spread_log(tmp_path / "b.jsonl", range(280, 283)))  # three more parts
    merged = compact(host)
    assert merged.partitions == [date(2026, 11, 1) + timedelta(days=k) for k in range(3)]
    assert sorted({key[11:21] for key in host.fetched}) == [str(d) for d in merged.partitions]
    assert len(host.fetched) == 6


def test_a_session_re_read_under_a_cap_of_0_counts_once(
    bucket: str,  # noqa: F811 - fixture
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An ingester that must build its session_times.json again (gone, as in a bucket written before it
    existed) reads the first stored times from its own parts: under a cap that keeps nothing, those parts
    must be read before the cache lets them go (they were evicted first, no time was found, and the
    re-read landed on its own day beside the first copy: the session counted twice)."""
    from tokmeter.store.objects import Bucket

    monkeypatch.setenv("TOKMETER_CACHE_MAX_BYTES", "0")
    home = tmp_path / "hermes"
    _set_time(_hermes(home, 4000, False, False), FIRST_READ)
    cli_ok("ingest", "-q", "--format", "hermes", "--ingester-id", "laptop", str(home / "state.db"))
    Bucket(bucket).delete(["ingesters/laptop/session_times.json"])
    _set_time(_hermes(home, 9000, False, False), LATER)
    cli_ok("ingest", "-q", "--format", "hermes", "--ingester-id", "laptop", str(home / "state.db"))
    days = report_json("--by", "day")["rows"]
    assert [(day["day"], day["requests"], day["input_tokens"]) for day in days] == [
        (FIRST_READ.date().isoformat(), 1, 9000 + 36000)
    ]
