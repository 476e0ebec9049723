"""The price memo (``price_memo.py``) changes how long a report takes, never what it says."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from conftest import SAMPLE_LOGS, run_cli
from test_price_overrides import FULL, overrides
from test_pricing import _varied_frame
from tokmeter.pricing.costs import PRICE_KEY
from tokmeter.pricing.memo import PriceMemo, memo_path
from tokmeter.pricing.overrides import PriceOverrides
from tokmeter.pricing.resolve import DAY_KEY
from tokmeter.pricing.table import build_price_table, price_keys, price_rows
from tokmeter.report.queries import report_from_rows
from tokmeter.rollup.transforms import group_usage, unpriced_models

HOUSE_ROWS = """
[[prices]]
model = "house-llm-7b"
provider = "acme"
input = 0.20
output = 0.80
"""


def _expected(
    lf: pl.LazyFrame, dims: list[str], tz: str, prices: PriceOverrides | None
) -> list[pl.DataFrame]:
    per_row = price_rows(lf, prices)
    return pl.collect_all(
        [group_usage(per_row, dims, tz=tz), group_usage(per_row, []), unpriced_models(per_row)]
    )


@pytest.mark.parametrize("with_price_file", [False, True])
def test_reports_from_the_memo_equal_pricing_every_row(tmp_path: Path, with_price_file: bool) -> None:
    """Tiers, date and time-of-day prices, aliases, discounts, custom prices and unpriced models: the
    first report fills the memo, the next ones (new processes would do the same) read it."""
    prices = overrides(tmp_path, FULL) if with_price_file else None
    lf = _varied_frame(3000, 5).lazy()
    if with_price_file:  # rows the price file's custom model and aliases apply to
        extra = _varied_frame(300, 6).with_columns(
            provider=pl.lit("acme"), model=pl.Series(["house-llm-7b", "prod-gpt4o-eu", "chat-large"] * 100)
        )
        lf = pl.concat([lf, extra.with_columns(request_id=pl.concat_str(pl.lit("x"), "request_id")).lazy()])
    want = _expected(lf, ["model", "day"], "Asia/Kolkata", prices)
    assert not memo_path(prices).exists()
    for _ in range(2):
        got = report_from_rows(lf, ["model", "day"], "Asia/Kolkata", prices, False)
        for g, w in zip(got, want, strict=True):
            assert_frame_equal(g, w, check_exact=True)
        assert memo_path(prices).exists()


def test_memo_table_equals_the_price_table_after_a_reload(tmp_path: Path) -> None:
    prices = overrides(tmp_path, FULL)
    keys = (
        price_keys(_varied_frame(2000, 9).lazy())
        .select(DAY_KEY)
        .with_columns(_price_minute=pl.lit(None, dtype=pl.Int32))
        .unique()
        .collect()
    )  # day keys, as the memo keeps
    direct = build_price_table(keys, prices)
    first = PriceMemo.load(prices)
    first.price_table(keys, prices)
    first.save()
    reloaded = PriceMemo.load(prices).price_table(keys, prices)
    order = [*PRICE_KEY, "_tier"]
    assert_frame_equal(
        reloaded.sort(order, nulls_last=True), direct.sort(order, nulls_last=True), check_exact=True
    )
    assert direct.height > 100


def test_each_price_file_content_has_its_own_memo(tmp_path: Path) -> None:
    one = overrides(tmp_path, HOUSE_ROWS)
    other = overrides(tmp_path, HOUSE_ROWS.replace("0.80", "0.90"))
    assert memo_path(one) != memo_path(other) != memo_path(None)


def test_a_damaged_memo_is_ignored_and_rewritten(tmp_path: Path) -> None:
    lf = _varied_frame(500, 3).lazy()
    want = _expected(lf, ["model"], "UTC", None)
    report_from_rows(lf, ["model"], "UTC", None, False)
    memo_path(None).write_bytes(b'{"format": 1, "cuts": [1, 2')
    for g, w in zip(report_from_rows(lf, ["model"], "UTC", None, False), want, strict=True):
        assert_frame_equal(g, w, check_exact=True)
    assert json.loads(memo_path(None).read_bytes())["cuts"]


def test_a_later_report_does_not_load_genai_prices(tmp_path: Path) -> None:
    """What the memo is for: the CLI's second report over the same days answers without genai-prices, even
    the reason of an unpriced model."""
    body = {"id": "c-1", "object": "chat.completion", "model": "mystery-9b", "usage": {"prompt_tokens": 9}}
    unpriced = tmp_path / "unpriced.jsonl"
    unpriced.write_text(
        json.dumps(
            {
                "ts": "2026-11-03T10:00:00Z",
                "request_id": "m1",
                "provider": "acme",
                "path": "/v1/chat/completions",
                "status": 200,
                "body": json.dumps(body),
            }
        )
    )
    assert run_cli("ingest", str(SAMPLE_LOGS), str(unpriced)).returncode == 0
    probe = (
        "import sys, runpy; sys.argv = ['tokmeter', 'report', '--by', 'model', '--format', 'json'];\n"
        "try:\n    runpy.run_module('tokmeter', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print('GENAI' if 'genai_prices' in sys.modules else 'NO-GENAI', file=sys.stderr)"
    )
    import os
    import subprocess

    runs = [
        subprocess.run(
            [sys.executable, "-c", probe],
            capture_output=True,
            text=True,
            env=dict(os.environ),
            timeout=120,
            check=False,
        )
        for _ in range(2)
    ]
    assert "GENAI" in runs[0].stderr.split()[-1:] and runs[1].stderr.split()[-1:] == ["NO-GENAI"]
    assert json.loads(runs[0].stdout) == json.loads(runs[1].stdout)
    assert [(m["model"], m["reason"]) for m in json.loads(runs[1].stdout)["unpriced_models"]] == [
        ("mystery-9b", "no price in genai-prices")
    ]
    off = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "TOKMETER_PRICE_MEMO": "0"},
    )
    assert off.stderr.split()[-1:] == ["GENAI"] and json.loads(off.stdout) == json.loads(runs[0].stdout)


def test_the_memo_keeps_no_minute_keys_and_stays_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Models priced by time of day (deepseek-chat) would add a key per minute: they are resolved each
    time instead. Past MAX_ROWS the memo keeps the latest days; reports stay exact either way."""
    from tokmeter.pricing import memo as price_memo

    monkeypatch.setattr(price_memo, "MAX_ROWS", 200)
    lf = _varied_frame(3000, 21).lazy()
    want = _expected(lf, ["model"], "UTC", None)
    for _ in range(2):
        for g, w in zip(report_from_rows(lf, ["model"], "UTC", None, False), want, strict=True):
            assert_frame_equal(g, w, check_exact=True)
    table = json.loads(memo_path(None).read_bytes())["table"]
    assert not [m for m in table["_price_minute"] if m is not None]
    assert 0 < len(table["_price_day"]) <= 200
    assert max(table["_price_day"]) == str(lf.select(pl.col("timestamp").max()).collect().item().date())


def test_the_memo_key_names_the_code_and_version(monkeypatch: pytest.MonkeyPatch) -> None:
    import tokmeter
    from tokmeter.pricing import memo as price_memo

    here = Path(price_memo.__file__).parent
    assert all((here / name).exists() for name in price_memo.CODE)
    before = memo_path(None)
    monkeypatch.setattr(tokmeter, "__version__", "9.9.9")
    assert memo_path(None) != before
    monkeypatch.setattr(price_memo, "CODE", (*price_memo.CODE, "no-such-module.py"))
    assert memo_path(None) is None  # code that cannot be identified gets no memo


def _patchable_genai_prices(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A copy of genai-prices first on the path, a store of sample_logs and a cache: (env, its data.py)."""
    import genai_prices

    package = Path(genai_prices.__file__).parent
    site = tmp_path / "site"
    shutil.copytree(package, site / "genai_prices", ignore=shutil.ignore_patterns("__pycache__"))
    for info in package.parent.glob("genai_prices-*.dist-info"):
        shutil.copytree(info, site / info.name)
    env = {
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
        "TOKMETER_STORE": str(tmp_path / "store"),
        "TOKMETER_CACHE": str(tmp_path / "cache"),
    }
    assert run_cli("ingest", "-q", str(SAMPLE_LOGS), env=env).returncode in (0, 1)
    return env, site / "genai_prices" / "data.py"


def _mini_cost(env: dict[str, str]) -> float:
    done = run_cli("report", "--by", "model", "--format", "json", "--no-cache", env=env)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["rows"]
    return sum(row["cost_usd"] for row in rows if row["model"].startswith("gpt-4o-mini"))


def _raise_mini_price(data: Path) -> None:
    text = data.read_text()
    assert text.count("output_mtok=Decimal('0.6')") > 0  # gpt-4o-mini's output price, among others
    data.write_text(text.replace("output_mtok=Decimal('0.6')", "output_mtok=Decimal('60')"))


def test_an_edit_of_genai_prices_data_under_one_version_is_a_new_memo(tmp_path: Path) -> None:
    """genai-prices' price data can change while its version stays (an editable install, a patched copy):
    the memo is keyed by its files too, so a report after such an edit prices with the new data (it kept
    pricing with the memo of the old)."""
    env, data = _patchable_genai_prices(tmp_path)
    before = _mini_cost(env)
    _raise_mini_price(data)
    after = _mini_cost(env)
    fresh = _mini_cost(env)  # the memo of the new data, now filled
    assert after > before and after == fresh


def test_a_rollup_table_of_other_genai_prices_data_does_not_answer(tmp_path: Path) -> None:
    """A rollup table priced with genai-prices' data before an edit under one version is not fresh: the
    report is answered from the rows (the table answered with the old prices), and the next rollup
    rebuilds it."""
    env, data = _patchable_genai_prices(tmp_path)
    assert run_cli("rollup", "--period", "day", "-q", env=env).returncode == 0
    before = _mini_cost(env)
    _raise_mini_price(data)
    after = _mini_cost(env)
    assert after > before
    done = run_cli("rollup", "--period", "day", env=env)
    assert done.returncode == 0 and "all periods rewritten" in done.stderr, done.stderr
    assert _mini_cost(env) == after


def test_a_later_ingest_lists_unpriced_models_without_genai_prices(tmp_path: Path) -> None:
    """An ingest lists the models it has no price for through the memo: the first ingest loads genai-prices
    and keeps each answer, the next one over the same models answers from the memo, with the same list;
    with the memo off, genai-prices is loaded again and the list is the same."""
    import os
    import subprocess

    body = {"id": "c-2", "object": "chat.completion", "model": "mystery-9b", "usage": {"prompt_tokens": 9}}
    unpriced = tmp_path / "unpriced.jsonl"
    record = {"ts": "2026-11-03T10:00:00Z", "provider": "acme", "path": "/v1/chat/completions", "status": 200}
    unpriced.write_text(
        "\n".join(json.dumps(record | {"request_id": f"m{n}", "body": json.dumps(body)}) for n in range(3))
    )
    probe = (
        "import sys, runpy; sys.argv = ['tokmeter', 'ingest', sys.argv[1], sys.argv[2]];\n"
        "try:\n    runpy.run_module('tokmeter', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print('GENAI' if 'genai_prices' in sys.modules else 'NO-GENAI', file=sys.stderr)"
    )

    def ingest(**env: str) -> tuple[str, str]:
        done = subprocess.run(
            [sys.executable, "-c", probe, str(SAMPLE_LOGS), str(unpriced)],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            timeout=120,
            check=False,
        )
        listed = re.findall(r"^ +(\S+ / \S+: \d+ row\(s\))$", done.stdout, re.MULTILINE)
        return "\n".join(listed), done.stderr.split()[-1]

    first, second, off = ingest(), ingest(), ingest(TOKMETER_PRICE_MEMO="0")
    assert first[0] == "acme / mystery-9b: 3 row(s)"
    assert first == (second[0], "GENAI") and second[1] == "NO-GENAI"
    assert off == (first[0], "GENAI")
