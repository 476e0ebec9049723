"""Pricing never raises on price data, and prices what genai-prices prices: every provider, model, dated and
time-of-day price and context tier genai-prices knows, and every real recorded response, priced through
tokmeter's path (``pricing.price_rows`` over a real polars frame, what ``rows`` and the per-row checks use)
equals ``genai_prices.calc_price`` to 1e-12 USD; a price that cannot be applied makes its model unpriced,
with the reason, in every command that lists unpriced models."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from genai_prices import calc_price, data_snapshot
from genai_prices import types as T

from conftest import REAL_CAPTURES, SAMPLE_LOGS, run_cli
from tokmeter.ingest.pipeline import unpriced as unpriced_at_ingest
from tokmeter.pricing.resolve import genai_usage
from tokmeter.pricing.table import price_rows
from tokmeter.pricing.unpriced import reason
from tokmeter.schema import polars_schema

TOLERANCE = Decimal("1e-12")


# ---- the whole catalogue ---------------------------------------------------------------------------
def _refs(clause: Any) -> list[str]:
    """Model names a genai-prices match clause accepts (regexes aside)."""
    if isinstance(clause, T.ClauseOr):
        return [ref for sub in clause.or_ for ref in _refs(sub)]
    if isinstance(clause, T.ClauseAnd):
        return [ref for sub in clause.and_ for ref in _refs(sub)]
    return [
        getattr(clause, a) for a in ("equals", "starts_with", "ends_with", "contains") if hasattr(clause, a)
    ]


def _stored_name(snapshot: Any, provider: Any, model: Any) -> str | None:
    """A model name that genai-prices (and so tokmeter) resolves to exactly this model of this provider."""
    for ref in [model.id, *_refs(model.match)]:
        try:
            found = snapshot.find_provider_model(ref, None, provider.id, None)
        except LookupError:
            continue
        if found[1] is model:
            return ref
    return None


def _moments(model: Any) -> dict[int, datetime]:
    """For each of the model's prices (by position), a moment at which it is the one in force: the day
    before and the day of each start date, early and late days, at midnight, noon and each time-of-day
    window's edges."""
    prices = model.prices if isinstance(model.prices, list) else [model.prices]
    constraints = [getattr(p, "constraint", None) for p in prices]
    days = {date(2023, 1, 2), date(2027, 6, 1)}
    times = {time(0), time(12)}
    for c in constraints:
        if isinstance(c, T.StartDateConstraint):
            days |= {c.start_date, c.start_date - timedelta(days=1)}
        if isinstance(c, T.TimeOfDateConstraint):
            for edge in (c.start_time, c.end_time):
                utc = (
                    datetime.combine(date(2025, 1, 1), edge).astimezone(UTC)
                    if edge.tzinfo
                    else datetime.combine(date(2025, 1, 1), edge, UTC)
                )
                times |= {utc.time(), (utc - timedelta(minutes=1)).time()}
    found: dict[int, datetime] = {}
    for day in sorted(days):
        for at in sorted(times):
            moment = datetime.combine(day, at, UTC)
            in_force = model.get_prices(moment)
            index = next(i for i, p in enumerate(prices) if getattr(p, "prices", p) is in_force)
            found.setdefault(index, moment)
    return found


def _tier_starts(model_price: Any) -> list[int]:
    return sorted(
        {
            tier.start
            for value in vars(model_price).values()
            if isinstance(value, T.TieredPrices)
            for tier in value.tiers
        }
    )


def _inputs(starts: list[int]) -> list[int]:
    """Input counts in every tier: each tier's lowest count and one further in (the top tier: 10^11)."""
    bounds = [0, *starts]
    out = []
    for level, low in enumerate(bounds):
        high = bounds[level + 1] if level + 1 < len(bounds) else 10**11
        out += [
            low + 1 if level else min(high, 1_000),
            (low + high) // 2 if level + 1 < len(bounds) else high,
        ]
    return out


def _usage_rows(provider: str, model: str, at: datetime, input_tokens: int, index: int) -> list[dict]:
    """Rows that hit every token kind: plain input and output, and cache reads, 5-minute and 1-hour cache
    writes and reasoning together."""
    base = {
        "response_id": None,
        "timestamp": at,
        "user": None,
        "provider": provider,
        "model": model,
        "endpoint": None,
        "stream": False,
        "status": 200,
        "usage_source": "reported",
        "complete": True,
        "source": "catalogue",
        "input_tokens": input_tokens,
    }
    cache_write = input_tokens // 4
    return [
        base
        | {
            "request_id": f"c{index}a",
            "source_offset": 2 * index,
            "cache_read_tokens": 0,
            "cache_write_tokens": 0,
            "cache_write_1h_tokens": 0,
            "output_tokens": 777,
            "reasoning_tokens": 0,
        },
        base
        | {
            "request_id": f"c{index}b",
            "source_offset": 2 * index + 1,
            "cache_read_tokens": input_tokens // 3,
            "cache_write_tokens": cache_write,
            "cache_write_1h_tokens": cache_write // 3,
            "output_tokens": 5_003,
            "reasoning_tokens": 1_234,
        },
    ]


def _catalogue_rows() -> tuple[list[dict], int]:
    """Usage rows for every (provider, model, price in force, tier) of genai-prices, and how many prices."""
    snapshot = data_snapshot.get_snapshot()
    rows: list[dict] = []
    prices = 0
    for provider in snapshot.providers:
        for model in provider.models:
            name = _stored_name(snapshot, provider, model)
            assert name is not None, f"no name resolves to {provider.id}:{model.id}"
            listed = model.prices if isinstance(model.prices, list) else [model.prices]
            moments = _moments(model)
            assert len(moments) == len(listed), f"{provider.id}:{model.id}: a price is never in force"
            for index, at in moments.items():
                prices += 1
                for tokens in _inputs(_tier_starts(getattr(listed[index], "prices", listed[index]))):
                    rows += _usage_rows(provider.id, name, at, tokens, len(rows))
    return rows, prices


def _reference(row: dict) -> Decimal | None:
    """``calc_price`` of a row (None where genai-prices has no price for it)."""
    try:
        return calc_price(
            genai_usage(row),
            row["model"],
            provider_id=row["provider"],
            genai_request_timestamp=row["timestamp"],
        ).total_price
    except LookupError:
        return None


def _compare(rows: list[dict]) -> tuple[list[tuple], int]:
    """(rows whose tokmeter cost differs from calc_price by more than TOLERANCE, or has no cost where
    calc_price has one; the number of rows compared)"""
    priced = price_rows(pl.DataFrame(rows, schema=polars_schema()).lazy()).collect()
    wrong, compared = [], 0
    for row, cost in zip(rows, priced["cost_usd"].to_list(), strict=True):
        expected = _reference(row)
        if expected is None:
            if cost is not None:
                wrong.append((row["provider"], row["model"], row["timestamp"], cost, "calc_price: no price"))
            continue
        compared += 1
        if cost is None or abs(cost - expected) > TOLERANCE:
            why = reason(row["provider"], row["model"]) if cost is None else ""
            wrong.append(
                (row["provider"], row["model"], row["timestamp"], row["input_tokens"], cost, expected, why)
            )
    return wrong, compared


def test_every_price_in_the_catalogue_equals_calc_price() -> None:
    """Every provider and model of genai-prices, at each of its dated and time-of-day prices and each
    context tier (its edge and further in, up to 10^11 input tokens), every token kind: no exception, and
    each row's cost equals calc_price to 1e-12 USD."""
    rows, prices = _catalogue_rows()
    snapshot = data_snapshot.get_snapshot()
    assert prices >= sum(
        len(m.prices) if isinstance(m.prices, list) else 1 for p in snapshot.providers for m in p.models
    )
    wrong, compared = _compare(rows)
    assert not wrong, f"{len(wrong)} of {len(rows)} rows differ, first: {wrong[:3]}"
    assert compared == len(rows)  # every row was priced by genai-prices, so every row was compared


def test_the_models_of_the_issue_are_priced_to_calc_price() -> None:
    """OpenRouter's Gemini Flash prices have rates past 18 decimal places per token (cache writes at
    $0.083333.../MTok): they are priced, and equal calc_price, with cache writes."""
    at = datetime(2026, 11, 3, 12, tzinfo=UTC)
    rows = [
        row
        for i, model in enumerate(["google/gemini-2.5-flash-lite", "google/gemini-3.6-flash"])
        for row in _usage_rows("openrouter", model, at, 123_457, i)
    ]
    wrong, compared = _compare(rows)
    assert not wrong and compared == len(rows), wrong
    exact = [_reference(row) for row in rows]
    priced = price_rows(pl.DataFrame(rows, schema=polars_schema()).lazy()).collect()["cost_usd"].to_list()
    assert priced == exact  # these rates have at most 18 decimal places per million tokens: exact


def test_huge_rows_at_the_highest_rate_do_not_overflow() -> None:
    """Token counts of 10^12 per row at the highest rate genai-prices has, 2,000 rows in one group (the report
    prices the group's token sums at once): within Decimal(38, 24), and equal to the sum of calc_price."""
    from tokmeter.report.queries import report_from_rows

    snapshot = data_snapshot.get_snapshot()
    top = max(
        ((p, m) for p in snapshot.providers for m in p.models),
        key=lambda pm: max(
            (
                v
                for v in vars(pm[1].get_prices(datetime(2026, 1, 1, tzinfo=UTC))).values()
                if isinstance(v, Decimal)
            ),
            default=Decimal(0),
        ),
    )
    at = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        row | {"input_tokens": 10**12, "output_tokens": 10**12, "reasoning_tokens": 10**11}
        for i in range(1_000)
        for row in _usage_rows(top[0].id, _stored_name(snapshot, *top) or "", at, 10**12, i)
    ]
    _, totals, _ = report_from_rows(pl.DataFrame(rows, schema=polars_schema()).lazy(), [], "UTC", None, False)
    expected = sum(_reference(row) or Decimal(0) for row in rows[:2]) * 1_000
    assert totals["cost_usd"][0] == expected and expected > 10**9


# ---- the real recorded responses -------------------------------------------------------------------
@pytest.mark.skipif(not REAL_CAPTURES.is_dir(), reason=f"real captures not found at {REAL_CAPTURES}")
def test_real_captures_are_priced_as_calc_price() -> None:
    """Every row of ../shared/real-captures that genai-prices prices gets the same cost to 1e-12 USD."""
    from tokmeter.extract import extract_row
    from tokmeter.sources import Capture, read_captures

    rows = []
    for name, fmt in (("captures.jsonl.gz", "capture-log"), ("eventstream.har", "har")):
        for capture in read_captures(REAL_CAPTURES / name, fmt):
            assert isinstance(capture, Capture)
            rows.append(extract_row(capture))
    with gzip.open(REAL_CAPTURES / "expected.jsonl.gz", "rt", encoding="utf-8") as handle:
        assert len(rows) == sum(1 for _ in handle)  # every recorded response made a row
    wrong, compared = _compare(rows)
    assert not wrong, f"{len(wrong)} rows differ, first: {wrong[:3]}"
    assert compared > len(rows) // 2  # most of them have a genai-prices price: the comparison is real


# ---- a price that cannot be applied ----------------------------------------------------------------
def _capture_log(path: Path, models: list[str]) -> Path:
    """A capture log with one OpenAI-style chat completion per model (provider acme, 2026-11-03)."""
    lines = []
    for i, model in enumerate(models):
        body = {
            "id": f"chatcmpl-{i}",
            "object": "chat.completion",
            "model": model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 1000 + i, "completion_tokens": 10, "total_tokens": 1010 + i},
        }
        lines.append(
            json.dumps(
                {
                    "ts": f"2026-11-03T10:00:0{i}Z",
                    "request_id": f"q{i}",
                    "provider": "acme",
                    "method": "POST",
                    "path": "/v1/chat/completions",
                    "status": 200,
                    "request": {"model": model},
                    "body": json.dumps(body),
                }
            )
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_price_out_of_range_is_unpriced_with_its_reason_everywhere(tmp_path: Path) -> None:
    """A price file whose rate is absurd (10 USD per token) for one model: report, rows and prices check
    run, price the other model, and list that one as unpriced with the reason; prices show says why."""
    prices = tmp_path / "prices.toml"
    prices.write_text(
        '[[prices]]\nmodel = "huge-llm"\ninput = 1\noutput = 10000000\n\n'
        '[[prices]]\nmodel = "house-llm"\ninput = 0.5\noutput = 2\n'
    )
    log = _capture_log(tmp_path / "capture.jsonl", ["huge-llm", "house-llm", "mystery-llm"])
    assert run_cli("ingest", str(log)).returncode == 0
    report = run_cli("report", "--by", "model", "--format", "json", "--prices", str(prices))
    assert report.returncode == 0, report.stderr
    doc = json.loads(report.stdout)
    reasons = {m["model"]: m["reason"] for m in doc["unpriced_models"]}
    assert set(reasons) == {"huge-llm", "mystery-llm"}
    assert reasons["huge-llm"].startswith("price error: the output rate of 10 USD per token")
    assert "out of range" in reasons["huge-llm"]
    assert reasons["mystery-llm"] == "no price in genai-prices or the price file"
    house = next(r for r in doc["rows"] if r["model"] == "house-llm")
    assert house["cost_usd"] == pytest.approx((1001 * 0.5 + 10 * 2) / 1e6)
    table = run_cli("report", "--by", "model", "--prices", str(prices))
    assert table.returncode == 0 and "out of range" in table.stdout and "Traceback" not in table.stderr

    rows = run_cli("rows", "--format", "jsonl", "--prices", str(prices))
    assert rows.returncode == 0, rows.stderr
    got = {
        r["model"]: (r["cost_usd"], r["unpriced_reason"]) for r in map(json.loads, rows.stdout.splitlines())
    }
    assert got["huge-llm"] == (None, reasons["huge-llm"]) and got["house-llm"][1] is None
    rows_table = run_cli("rows", "--prices", str(prices))
    assert (
        rows_table.returncode == 0
        and "unpriced: acme / huge-llm (1 row(s)): price error" in rows_table.stdout
    )

    check = run_cli("prices", "check", "--prices", str(prices))
    assert check.returncode == 1 and "out of range" in check.stdout and "Traceback" not in check.stderr
    show = run_cli("prices", "show", "huge-llm", "--at", "2026-11-03", "--prices", str(prices))
    assert show.returncode == 1 and "out of range" in show.stderr and "Traceback" not in show.stderr


def test_genai_prices_failing_on_one_price_makes_only_that_model_unpriced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """genai-prices raising on one model's price (its data is not ours): that model's rows are unpriced with
    the reason, the other rows are priced as before; the report's path (priced groups) agrees."""
    from tokmeter.pricing import resolve as pricing
    from tokmeter.report.queries import report_from_rows

    snapshot = data_snapshot.get_snapshot()
    gpt_4o = snapshot.find_provider_model("gpt-4o", None, "openai", None)[1]
    broken = gpt_4o.get_prices(datetime(2026, 1, 1, tzinfo=UTC))
    real_calc_price = T.ModelPrice.calc_price

    def calc_price_failing_on_broken(self: Any, usage: Any) -> Any:
        if self is broken:
            raise ZeroDivisionError("a price genai-prices cannot compute")
        return real_calc_price(self, usage)

    monkeypatch.setattr(T.ModelPrice, "calc_price", calc_price_failing_on_broken)
    monkeypatch.setattr(pricing, "_COEFFICIENT_CACHE", {})  # coefficients measured before the failure began
    at = datetime(2026, 1, 1, 9, tzinfo=UTC)
    rows = _usage_rows("openai", "gpt-4o", at, 5_000, 0) + _usage_rows("openai", "gpt-4o-mini", at, 5_000, 1)
    lf = pl.DataFrame(rows, schema=polars_schema()).lazy()
    costs = price_rows(lf).collect()["cost_usd"].to_list()
    assert costs[:2] == [None, None]
    assert costs[2:] == [_reference(row) for row in rows[2:]]
    assert reason("openai", "gpt-4o") == (
        "price error: genai-prices failed to price a probe usage of 1 input "
        "tokens: ZeroDivisionError: a price genai-prices cannot compute"
    )
    _, totals, unpriced = report_from_rows(lf, ["model"], "UTC", None, False)
    assert unpriced.select("model", "requests").rows() == [("gpt-4o", 2)]
    assert totals["cost_usd"][0] == sum(costs[2:])
    seen = Counter({("openai", "gpt-4o"): 2, ("openai", "gpt-4o-mini"): 2})
    assert unpriced_at_ingest(seen) == [("openai", "gpt-4o", 2)]  # what ingest lists as unpriced


def test_ingest_lists_unpriced_model_names_as_written(tmp_path: Path) -> None:
    """A model name like ``x:free:`` is printed as is (Rich would turn ``:free:`` into an emoji)."""
    result = run_cli("ingest", str(_capture_log(tmp_path / "capture.jsonl", ["mystery-llm:free"])))
    assert result.returncode == 0 and "acme / mystery-llm:free: 1 row(s)" in result.stdout


def test_a_rollup_table_written_with_the_old_cost_type_is_recomputed(tmp_path: Path) -> None:
    """Tables written before costs were Decimal(38, 24) (no ``cost_dtype`` in their state's spec) are not read by
    reports, and the next rollup recomputes every period in the new type, with the issue's models priced."""
    from tokmeter.ingest.pipeline import run_ingest
    from tokmeter.report.queries import Filters, build_report
    from tokmeter.rollup.spec import RollupSpec
    from tokmeter.rollup.tables import STATE, RollupTable
    from tokmeter.store.local import Store

    store = Store(tmp_path / "rolled")
    log = tmp_path / "openrouter.jsonl"
    log.write_text(
        _capture_log(tmp_path / "x.jsonl", ["google/gemini-2.5-flash-lite"])
        .read_text()
        .replace('"provider": "acme"', '"provider": "openrouter"')
    )
    run_ingest([SAMPLE_LOGS, log], store)
    table = RollupTable(store, RollupSpec())
    table.update()
    state = json.loads((table.dir / STATE).read_text())
    del state["spec"]["cost_dtype"]  # as an older tokmeter wrote it, with Decimal(38, 18) partitions
    (table.dir / STATE).write_text(json.dumps(state))
    for part in table.dir.glob("period=*/part.parquet"):
        pl.read_parquet(part).with_columns(pl.col("cost_usd").cast(pl.Decimal(38, 18))).write_parquet(part)
    assert build_report(store, ["model"], Filters()).source == "rows"
    result = table.update()
    assert result.full and result.periods_rewritten
    assert {pl.read_parquet_schema(p)["cost_usd"] for p in table.dir.glob("period=*/part.parquet")} == {
        pl.Decimal(38, 24)
    }
    fast, slow = (
        build_report(store, ["model"], Filters()),
        build_report(store, ["model"], Filters(), use_rollups=False),
    )
    assert fast.source == "rollups" and fast.rows.to_dicts() == slow.rows.to_dicts()
    lite = fast.rows.filter(pl.col("model") == "google/gemini-2.5-flash-lite")
    assert lite.height == 1 and lite["cost_usd"][0] is not None
