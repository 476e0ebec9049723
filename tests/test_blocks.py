"""``tokmeter blocks``: Claude's 5-hour usage windows by ccusage's rule (``identifySessionBlocks``),
checked on hand-made Claude Code transcripts (the shape of tests/data/transcripts/claude), against the
rule itself and, when node is here, against the real ccusage 20.0.24 ``blocks --json``."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from conftest import run_cli
from test_transcripts import cc_line, ccusage  # noqa: F401 - the ccusage fixture
from tokmeter.errors import UsageError
from tokmeter.ingest.blocks import HOUR_US, Window, assign_blocks, burn_rate, project
from tokmeter.ingest.pipeline import run_ingest
from tokmeter.report.blocks import build_blocks, parse_token_limit
from tokmeter.report.queries import Filters
from tokmeter.store.local import Store

LENGTH = 5 * HOUR_US


def us(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1_000_000)


def test_a_block_starts_at_the_hour_and_ends_five_hours_later() -> None:
    times = [
        us("2026-11-03T09:14:00+00:00"),
        us("2026-11-03T13:59:00+00:00"),
        us("2026-11-03T14:01:00+00:00"),
    ]
    ids, windows = assign_blocks(times, LENGTH)
    # 14:01 is less than 5 h after 09:14 but more than 5 h after the block's start (09:00): a new block
    assert ids == [0, 0, 1]
    assert windows == [
        Window(us("2026-11-03T09:00:00+00:00"), us("2026-11-03T14:00:00+00:00")),
        Window(us("2026-11-03T14:00:00+00:00"), us("2026-11-03T19:00:00+00:00")),
    ]


def test_a_quiet_spell_longer_than_a_block_is_a_gap() -> None:
    times = [us("2026-11-03T09:30:00+00:00"), us("2026-11-03T21:10:00+00:00")]
    ids, windows = assign_blocks(times, LENGTH)
    assert ids == [0, 2]
    gap = windows[1]
    assert gap.gap and (gap.start, gap.end) == (times[0] + LENGTH, times[1])
    assert windows[2].start == us("2026-11-03T21:00:00+00:00")


def test_exactly_five_hours_stays_in_the_block() -> None:
    times = [us("2026-11-03T09:00:00+00:00"), us("2026-11-03T14:00:00+00:00")]
    assert assign_blocks(times, LENGTH)[0] == [0, 0]  # ccusage starts a new block only past the length


def test_burn_rate_and_projection() -> None:
    window = Window(us("2026-11-03T09:00:00+00:00"), us("2026-11-03T14:00:00+00:00"))
    first, last = us("2026-11-03T09:10:00+00:00"), us("2026-11-03T10:10:00+00:00")
    burn = burn_rate(first, last, 60_000, 3.0)
    assert burn is not None and (burn.tokens_per_minute, burn.cost_per_hour) == (1000.0, 3.0)
    projection = project(window, burn, 60_000, 3.0, last)  # 3 h 50 m left at the last request
    assert (projection.minutes_left, projection.tokens) == (230, 60_000 + 230 * 1000)
    assert projection.cost == pytest.approx(3.0 + 230 * 3.0 / 60)
    assert burn_rate(first, first, 10, 1.0) is None  # a single instant has no rate


def write_transcript(folder: Path, times: list[datetime], out: int = 100) -> Path:
    path = folder / "projects" / "-home-alice-work" / "s-1.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    stamps = [t.isoformat(timespec="milliseconds").replace("+00:00", "Z") for t in times]
    path.write_text(
        "".join(
            cc_line(f"msg_{i:03d}", f"req_{i:03d}", ts, out, input_tokens=1000) for i, ts in enumerate(stamps)
        )
    )
    return path


def test_active_block_from_the_store(tmp_path: Path) -> None:
    now = datetime(2026, 11, 3, 11, 30, tzinfo=UTC)
    times = [
        datetime(2026, 11, 2, 8, 5, tzinfo=UTC),
        now - timedelta(minutes=90),
        now - timedelta(minutes=30),
    ]
    store = Store(tmp_path / "store")
    run_ingest([write_transcript(tmp_path / "claude", times)], store, check_prices=False)
    result = build_blocks(store, Filters(), now=now, token_limit="max")
    done, gap, active = result.blocks
    assert (done.active, gap.window.gap, active.active) == (False, True, True)
    assert active.window.start == us("2026-11-03T10:00:00+00:00") and active.requests == 2
    assert active.total_tokens == 2 * 1100 and active.models == ["claude-sonnet-4-5-20250929"]
    assert active.burn is not None and active.burn.tokens_per_minute == pytest.approx(2200 / 60)
    assert active.projection is not None and active.projection.minutes_left == 3 * 60 + 30
    assert result.limits.tokens == done.total_tokens == 1100  # max: the largest past block
    assert active.cost_usd is not None and active.cost_usd == 2 * done.cost_usd
    later = build_blocks(store, Filters(), now=now + timedelta(hours=5))
    assert not any(b.active for b in later.blocks)  # over 5 h since its last request
    only_today = build_blocks(store, Filters(since=now.date()), now=now)
    assert [b.window.start for b in only_today.blocks] == [active.window.start]


def test_odd_lengths_and_limits_are_refused(tmp_path: Path) -> None:
    """NaN, infinity and absurd lengths used to end in a traceback (a float that is no integer)."""
    store = Store(tmp_path / "store")
    run_ingest([write_transcript(tmp_path / "claude", [datetime(2026, 11, 2, 8, 5, tzinfo=UTC)])], store)
    for hours in (0.0, -1.0, float("nan"), float("inf"), 1e308):
        with pytest.raises(UsageError, match="--session-length"):
            build_blocks(store, Filters(), hours=hours)
    for usd in ("NaN", "Infinity", "-1"):
        with pytest.raises(UsageError, match="--cost-limit"):
            build_blocks(store, Filters(), cost_limit=Decimal(usd))
    assert len(build_blocks(store, Filters(), hours=24 * 366).blocks) == 1


def test_blocks_cli_json_and_limit_warning(isolated_store: Path, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    times = [now - timedelta(minutes=40), now - timedelta(minutes=20), now - timedelta(minutes=1)]
    folder = tmp_path / "claude"
    write_transcript(folder, times)
    run_ingest([folder], Store(isolated_store), check_prices=False)  # in process: the CLI runs are below
    done = run_cli("blocks", "--format", "json", "--token-limit", "4000", "--cost-limit", "0.0001")
    assert done.returncode == 0, done.stderr
    (block,) = json.loads(done.stdout)["blocks"]
    assert block["active"] and block["requests"] == 3 and block["total_tokens"] == 3300
    assert block["token_limit_status"]["status"] == "exceeds"  # 3,300 used, more at this rate
    assert block["cost_limit_status"]["status"] == "exceeds"
    table = run_cli("blocks", "--active", "--token-limit", "4000")
    assert table.returncode == 0, table.stderr
    assert "ACTIVE" in table.stdout and "PROJECTED" in table.stdout
    assert "exceeds the token limit (4,000 tokens)" in table.stderr
    with pytest.raises(UsageError, match="--token-limit"):
        parse_token_limit("lots")


def _ccusage_blocks(binary: str, claude_dir: Path, home: Path) -> list[dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE_", "CODEX_", "XDG_"))}
    env.update(HOME=str(home), CLAUDE_CONFIG_DIR=str(claude_dir), NO_COLOR="1")
    done = subprocess.run(
        [binary, "blocks", "--json", "--offline", "--timezone", "UTC"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout)["blocks"])


def test_blocks_equal_ccusage(ccusage: str, tmp_path: Path) -> None:  # noqa: F811 - the fixture
    """Past blocks (none active): the same starts, ends, gaps and token totals as ccusage's."""
    base = datetime(2026, 10, 1, 7, 48, tzinfo=UTC)
    offsets = [0, 30, 200, 299, 301, 420, 1500, 1510, 1800, 3000]  # minutes: in-block, past 5 h, gaps
    folder = tmp_path / "claude"
    write_transcript(folder, [base + timedelta(minutes=m) for m in offsets])
    home = tmp_path / "home"
    home.mkdir()
    theirs = _ccusage_blocks(ccusage, folder, home)
    store = Store(tmp_path / "store")
    run_ingest([folder], store, check_prices=False)
    ours = build_blocks(store, Filters()).blocks
    assert [(b.window.start, b.window.end, b.window.gap, b.requests, b.total_tokens) for b in ours] == [
        (us(t["startTime"]), us(t["endTime"]), t["isGap"], t["entries"], t["totalTokens"]) for t in theirs
    ]
