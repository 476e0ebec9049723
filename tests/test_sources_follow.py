"""Following logged-record files (``ingest --follow`` / ``--resume``): a JSON Lines log that grows (a
LiteLLM file logger, Kong's file-log, the Collector's file exporter) is read on from its checkpoint, like
a capture log, never read again whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from sources_helpers import SAMPLES
from tokmeter.ingest.follow import FollowOptions, run_follow
from tokmeter.store.local import Store

RESUME = FollowOptions(follow=False, settle=0.0)


@pytest.mark.parametrize(
    "sample",
    [SAMPLES / "kong" / "file-log.json", SAMPLES / "litellm" / "proxy-callbacks.jsonl"],
    ids=lambda p: p.parent.name,
)
def test_resume_reads_only_the_appended_records(sample: Path, tmp_path: Path) -> None:
    lines = sample.read_bytes().splitlines(keepends=True)
    log = tmp_path / sample.name
    log.write_bytes(b"".join(lines[:2]))
    store = Store(tmp_path / "store")
    first = run_follow([log], store, RESUME)
    assert not first.bad and first.by_format[sample.parent.name] == first.captures > 0
    with log.open("ab") as handle:
        handle.write(b"".join(lines[2:]))
    again = run_follow([log], store, RESUME)
    assert not again.bad and again.duplicates_dropped == 0  # nothing read twice
    whole = Store(tmp_path / "whole")
    run_follow([sample], whole, RESUME)
    rows = sorted(store.scan().collect()["request_id"].to_list())
    assert rows == sorted(whole.scan().collect()["request_id"].to_list())
    assert again.captures == len(rows) - first.captures > 0
