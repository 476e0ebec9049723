"""tokmeter reconcile: bill exports of each provider (tests/data/bills, built from the documented schemas)
against a store built to match them, with a day of no captures, a model only on the bill, a model only in
the store, an estimated row, a price difference, usage tokmeter missed and a quarantined capture."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from conftest import run_cli
from tokmeter.capture import BadCapture
from tokmeter.errors import UsageError
from tokmeter.reconcile.aws_cur import usage_type
from tokmeter.reconcile.files import read_bills
from tokmeter.reconcile.models import match_key
from tokmeter.reconcile.pages import BadValue, rfc3339_day
from tokmeter.reconcile.result import reconcile
from tokmeter.render.reconcile import reconcile_doc
from tokmeter.schema import polars_schema
from tokmeter.store.local import Store

BILLS = Path(__file__).parent / "data" / "bills"
# Google Cloud's export has its own store and tests (test_reconcile_gcp.py)
FILES = sorted(p for p in BILLS.iterdir() if p.name != "README.md" and not p.name.startswith("gcp-"))


def usage_row(request_id: str, day: int, provider: str, model: str, **fields: object) -> dict:
    base = {
        "request_id": request_id,
        "response_id": None,
        "timestamp": datetime(2026, 11, day, 10, tzinfo=UTC),
        "user": "u",
        "provider": provider,
        "model": model,
        "endpoint": "/v1/x",
        "stream": False,
        "status": 200,
        "input_tokens": 10,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "cache_write_1h_tokens": 0,
        "output_tokens": 5,
        "reasoning_tokens": 0,
        "usage_source": "reported",
        "complete": True,
        "service_tier": None,
        "speed": None,
        "source": "f",
        "source_offset": 0,
    }
    return base | fields


ROWS = [
    # 2026-11-01: OpenAI gpt-4o exactly as billed
    usage_row(
        "o1", 1, "openai", "gpt-4o-2024-08-06", input_tokens=1000, cache_read_tokens=200, output_tokens=500
    ),
    usage_row("o2", 1, "openai", "gpt-4o-2024-08-06", input_tokens=3000, output_tokens=1500),
    # 2026-11-02: no OpenAI capture at all (the bill has gpt-4o)
    # 2026-11-03: gpt-5 at flex, one row estimated; billed 20% above tokmeter's flex price; gpt-4o-mini only billed
    usage_row(
        "o3", 3, "openai", "gpt-5-2025-08-07", input_tokens=2000, output_tokens=1000, service_tier="flex"
    ),
    usage_row(
        "o4",
        3,
        "openai",
        "gpt-5-2025-08-07",
        input_tokens=1000,
        output_tokens=400,
        service_tier="flex",
        usage_source="estimated",
        cache_read_tokens=None,
        cache_write_tokens=None,
        cache_write_1h_tokens=None,
        reasoning_tokens=None,
    ),
    # 2026-11-01: Anthropic sonnet 4 (the bill has more: usage tokmeter missed), haiku only metered
    usage_row(
        "a1",
        1,
        "anthropic",
        "claude-sonnet-4-20250514",
        input_tokens=5000,
        cache_read_tokens=1000,
        cache_write_tokens=500,
        output_tokens=800,
    ),
    usage_row("a2", 1, "anthropic", "claude-sonnet-4-20250514", input_tokens=2000, output_tokens=300),
    usage_row("a3", 1, "anthropic", "claude-3-5-haiku-20241022", input_tokens=1000, output_tokens=100),
    # 2026-11-03: Anthropic again, a day its exports do not cover (left out, not "metered, not billed")
    usage_row("a4", 3, "anthropic", "claude-3-5-haiku-20241022", input_tokens=1000, output_tokens=100),
    # 2026-11-01: Bedrock, as billed in the CUR
    usage_row(
        "b1", 1, "bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0", input_tokens=4000, output_tokens=1000
    ),
]


@pytest.fixture
def store(isolated_store: Path) -> Store:
    the_store = Store(isolated_store)
    bad = BadCapture("capture.jsonl", 120, "not JSON", line=3, digest="0" * 64, size=12)
    with the_store.writing():
        the_store.commit(pl.DataFrame(ROWS, schema=polars_schema()), quarantine=[bad])
    return the_store


def _group(result, day: str, provider: str, model_part: str) -> dict:
    rows = [
        r
        for r in result.rows.iter_rows(named=True)
        if (r["day"], r["provider"]) == (day, provider) and model_part in r["model"]
    ]
    assert len(rows) == 1, (day, provider, model_part, rows)
    return rows[0]


def _file_amounts(name: str, model: str) -> Decimal:
    """The billed USD of a model in an OpenAI costs file, added up here from the file itself."""
    total = Decimal(0)
    for line in (BILLS / name).read_text().splitlines():
        for bucket in json.loads(line)["data"]:
            for result in bucket["results"]:
                if result["line_item"].startswith(model):
                    total += Decimal(str(result["amount"]["value"]))
    return total


def test_every_export_is_recognised_and_bad_records_are_set_aside() -> None:
    bill = read_bills(FILES)
    assert {Path(source).name: names for source, names in bill.formats.items()} == {
        "anthropic-cost-report.json": {"anthropic-cost"},
        "anthropic-usage-report.json": {"anthropic-usage"},
        "aws-cur2-bedrock.csv": {"aws-cur"},
        "openai-costs.jsonl": {"openai-costs"},
        "openai-usage-completions.json": {"openai-usage"},
    }
    skipped = {(Path(s.source).name, s.where): s for s in bill.skipped}
    assert set(skipped) == {
        ("aws-cur2-bedrock.csv", "row 4"),
        ("openai-usage-completions.json", "bucket 3, result 3"),
    }
    assert all(s.reason and s.hint for s in bill.skipped)
    assert not any(line["provider"] == "bedrock" and line.get("model") is None for line in bill.lines)  # EC2


def test_a_file_that_is_no_bill_is_set_aside(tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text('{"object": "list", "data": [{"id": "x"}]}')
    broken = tmp_path / "pages.jsonl"
    broken.write_text((BILLS / "openai-costs.jsonl").read_text().splitlines()[0] + "\n{not json\n")
    bill = read_bills([other, broken])
    assert [(Path(s.source).name, s.where) for s in bill.skipped] == [
        ("other.json", ""),
        ("pages.jsonl", "line 2"),
    ]
    assert "not a known bill export" in bill.skipped[0].reason and "openai-usage" in bill.skipped[0].hint
    assert bill.lines and all(line["provider"] == "openai" for line in bill.lines)


def test_a_binary_file_is_set_aside_once(tmp_path: Path) -> None:
    """A binary file beside the exports used to be set aside once per "line" of its bytes."""
    binary = tmp_path / "export.zip"
    binary.write_bytes(bytes(range(256)) * 64 + b"\n" * 50 + bytes(range(256)))
    bill = read_bills([binary, BILLS / "openai-costs.jsonl"])
    assert [(Path(s.source).name, s.where) for s in bill.skipped] == [("export.zip", "")]
    assert "binary" in bill.skipped[0].reason and bill.skipped[0].hint
    assert bill.lines == read_bills([BILLS / "openai-costs.jsonl"]).lines


def test_times_beyond_any_calendar_are_set_aside(tmp_path: Path) -> None:
    """A start_time of 1e300, NaN or year 1 east of UTC used to end the command in a traceback."""
    good = json.loads((BILLS / "openai-costs.jsonl").read_text().splitlines()[0])
    pages = [good]
    for start in (1e300, -1e20):
        pages.append({**good, "data": [{**good["data"][0], "start_time": start}]})
    odd = tmp_path / "pages.jsonl"
    odd.write_text("\n".join(json.dumps(page) for page in pages) + "\n")
    bill = read_bills([odd])
    results = len(good["data"][0]["results"])
    assert sorted({s.where.split(", bucket")[0] for s in bill.skipped}) == ["line 2", "line 3"]
    assert len(bill.skipped) == 2 * results
    assert all("not a Unix time" in s.reason for s in bill.skipped)
    assert bill.lines == read_bills([BILLS / "openai-costs.jsonl"]).lines[: len(bill.lines)] and bill.lines
    with pytest.raises(BadValue, match="not an RFC 3339 time"):
        rfc3339_day("0001-01-01T00:00:00+01:00", "starting_at")


@pytest.mark.parametrize(
    ("store_name", "bill_name"),
    [
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4-20250514"),
        ("anthropic.claude-3-5-sonnet-20240620-v1:0", "Claude3.5Sonnet"),
        ("us.anthropic.claude-sonnet-4-20250514-v1:0", "Claude4Sonnet"),
    ],
)
def test_model_names_and_snapshots_meet(store_name: str, bill_name: str) -> None:
    provider = "bedrock" if "." in store_name else "openai" if "gpt" in store_name else "anthropic"
    assert match_key(provider, store_name) == match_key(provider, bill_name)
    assert match_key("openai", "gpt-4o-mini") != match_key("openai", "gpt-4o")


def test_each_gap_is_named(store: Store) -> None:
    result = reconcile(store, FILES)
    exact = _group(result, "2026-11-01", "openai", "gpt-4o")
    assert exact["coverage_pct"] == 100 and exact["reasons"] == []
    assert exact["billed_requests"] == exact["metered_requests"] == 2
    assert _group(result, "2026-11-01", "bedrock", "claude-3-5-sonnet")["coverage_pct"] == 100

    missing_day = _group(result, "2026-11-02", "openai", "gpt-4o")
    assert missing_day["reasons"] == ["no captures of openai on 2026-11-02"]
    assert missing_day["metered_cost_usd"] is None and missing_day["billed_requests"] == 3

    assert _group(result, "2026-11-03", "openai", "gpt-4o-mini")["reasons"] == [
        "gpt-4o-mini is on the bill, never in a capture"
    ]
    haiku = _group(result, "2026-11-01", "anthropic", "haiku")
    assert haiku["billed_cost_usd"] is None and haiku["reasons"][0].endswith(
        "was metered, it is not on the bill"
    )

    flex = _group(result, "2026-11-03", "openai", "gpt-5")
    assert flex["estimated_requests"] == 1 and "1 estimated request(s)" in flex["reasons"]
    billed = _file_amounts("openai-costs.jsonl", "gpt-5")
    assert flex["billed_cost_usd"] == billed
    # the same tokens on both sides: the whole gap is the price
    assert flex["price_difference_usd"] == billed - flex["metered_cost_usd"] > 0
    assert any(r.startswith("price difference") for r in flex["reasons"])

    sonnet = _group(result, "2026-11-01", "anthropic", "sonnet-4")
    assert sonnet["billed_input_tokens"] == 8500 + 1000 + 500  # uncached + cache read + cache write
    assert sonnet["price_difference_usd"] == 0 and sonnet["reasons"][0].startswith("usage not captured")

    assert result.summary.startswith(f"metered {result.coverage_pct:.1f}% of billed cost in November 2026; ")
    for part in (
        "on 2026-11-02 with no captures",
        "price difference on gpt-5 (flex)",
        "on gpt-4o-mini, never",
    ):
        assert part in result.summary
    assert any("1 capture(s) set aside as bad" in note for note in result.notes)
    assert result.coverage_pct == (
        result.totals["metered_cost_usd"] * 100 / result.totals["billed_cost_usd"]
    ).quantize(Decimal("0.01"))


def test_by_a_column_both_sides_carry(store: Store) -> None:
    result = reconcile(store, FILES, by=["service_tier"])
    assert "service_tier" in result.rows.columns
    flex = result.rows.filter(pl.col("service_tier") == "flex", pl.col("provider") == "openai")
    assert flex["metered_requests"].to_list() == [2] and flex["billed_requests"].to_list() == [2]


def test_by_project_where_both_sides_carry_it(isolated_store: Path) -> None:
    """The store's project (e.g. from an OpenAI-Project header rule) meets the bill's project_id; rows of
    another project, or with none, are groups of their own, never dropped."""
    rows = [r | {"project": "proj_abc" if r["request_id"] in ("o1", "o2") else None} for r in ROWS]
    the_store = Store(isolated_store)
    with the_store.writing():
        the_store.commit(pl.DataFrame(rows, schema=polars_schema()))
    result = reconcile(the_store, FILES, by=["project"])
    assert "project" in result.rows.columns
    day1 = result.rows.filter(
        pl.col("day") == "2026-11-01", pl.col("provider") == "openai", pl.col("project") == "proj_abc"
    )
    assert day1["metered_requests"].sum() == 2 and day1["billed_requests"].sum() > 0
    assert result.rows["metered_requests"].sum() == reconcile(the_store, FILES).rows["metered_requests"].sum()


def test_cli_json_prometheus_and_fail_under(store: Store, tmp_path: Path) -> None:
    prom = tmp_path / "bill.prom"
    files = [str(f) for f in FILES]
    result = run_cli("reconcile", *files, "--format", "json", "--fail-under", "99", "--prometheus", str(prom))
    assert result.returncode == 8, result.stderr
    assert "under --fail-under 99" in result.stderr and "Hint:" in result.stderr
    doc = json.loads(result.stdout)  # written before the exit
    totals = doc["totals"]
    assert doc["coverage_of"] == "cost" and doc["period"] == "in November 2026"
    assert doc["coverage_pct"] == pytest.approx(
        100 * totals["metered_cost_usd"] / totals["billed_cost_usd"], abs=0.01
    )
    assert len(doc["rows"]) == 7 and len(doc["skipped"]) == 2
    gauge = next(line for line in prom.read_text().splitlines() if 'provider="all"' in line)
    assert float(gauge.split()[-1]) == pytest.approx(doc["coverage_pct"] / 100, abs=1e-4)

    passing = run_cli("reconcile", *files, "--fail-under", "50", "--format", "csv")
    assert passing.returncode == 0, passing.stderr
    table = pl.read_csv(passing.stdout.encode())
    assert table.height == 7 and "no captures of openai on 2026-11-02" in table["reasons"].to_list()


def test_cli_table_names_the_gaps_and_what_was_set_aside(store: Store) -> None:
    result = run_cli("reconcile", *(str(f) for f in FILES))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Metered " in out and "% of billed cost in November 2026; " in out
    assert "no captures of openai on 2026-11-02" in out and "set aside: " in out and "row 4" in out
    assert "1 capture(s) set aside as bad" in out


def test_cli_mistyped_store_is_a_clean_error(tmp_path: Path) -> None:
    typo = run_cli("reconcile", str(FILES[0]), "--store", str(tmp_path / "stroe"))
    assert (
        typo.returncode == 2 and "no tokmeter store there" in typo.stderr and "Traceback" not in typo.stderr
    )
    assert not (tmp_path / "stroe").exists()


def test_no_bill_line_at_all_is_an_error_with_a_hint(store: Store, tmp_path: Path) -> None:
    other = tmp_path / "models.json"
    other.write_text('{"object": "list", "data": []}')
    with pytest.raises(UsageError, match="no usage or cost line") as raised:
        reconcile(store, [other])
    assert "openai-usage" in (raised.value.hint or "") and "not a known bill export" in (
        raised.value.hint or ""
    )


def test_days_a_provider_s_exports_do_not_cover_are_left_out(store: Store) -> None:
    result = reconcile(store, FILES)
    anthropic_days = result.rows.filter(pl.col("provider") == "anthropic")["day"].unique().to_list()
    assert anthropic_days == ["2026-11-01"]


def test_a_cost_of_no_model_is_named(store: Store, tmp_path: Path) -> None:
    page = {
        "object": "page",
        "data": [
            {
                "object": "bucket",
                "start_time": 1793491200,
                "end_time": 1793577600,
                "results": [
                    {"object": "organization.costs.result", "amount": {"value": 1.5, "currency": "usd"}}
                ],
            }
        ],
        "has_more": False,
        "next_page": None,
    }
    ungrouped = tmp_path / "costs.json"
    ungrouped.write_text(json.dumps(page))
    result = reconcile(store, [ungrouped])
    row = result.rows.filter(pl.col("model") == "(no model)").row(0, named=True)
    assert row["billed_cost_usd"] == Decimal("1.5") and "names no model" in row["reasons"][0]


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("USE1-Claude3.5Sonnet-input-tokens", ("Claude3.5Sonnet", "input", None)),
        ("USW2-Claude4Sonnet-cache-read-input-token-count", ("Claude4Sonnet", "cache_read", None)),
        ("EUC1-NovaLite-flex-output-tokens", ("NovaLite", "output", "flex")),
        ("USE1-Claude3Haiku-batch-input-tokens", ("Claude3Haiku", "input", "batch")),
        ("USE1-ModelUnits", None),
    ],
)
def test_bedrock_usage_types(text: str, parsed: tuple | None) -> None:
    assert usage_type(text) == parsed


def test_cur_parquet_with_legacy_headers_reads_as_the_csv(tmp_path: Path) -> None:
    csv = BILLS / "aws-cur2-bedrock.csv"
    frame = pl.read_csv(csv, infer_schema=False).head(3)  # the good lines
    legacy = {
        "line_item_usage_type": "lineItem/UsageType",
        "line_item_usage_start_date": "lineItem/UsageStartDate",
    }
    typed = frame.rename(legacy).with_columns(
        pl.col("line_item_usage_amount").cast(pl.Float64),
        pl.col("lineItem/UsageStartDate").str.to_datetime(time_zone="UTC"),
    )
    typed.write_parquet(tmp_path / "cur.parquet")
    from_csv, from_parquet = read_bills([csv]), read_bills([tmp_path / "cur.parquet"])
    assert from_parquet.lines == from_csv.lines and not from_parquet.skipped


def test_html_report_has_the_bill_section(store: Store, tmp_path: Path) -> None:
    page = tmp_path / "november.html"
    files = [arg for f in FILES for arg in ("--bill", str(f))]
    result = run_cli("report", "--by", "model", "--format", "html", *files, "--output", str(page))
    assert result.returncode == 0, result.stderr
    html = page.read_text()
    assert (
        'id="bill"' in html and "Against the bill" in html and "no captures of openai on 2026-11-02" in html
    )
    data = json.loads(html.split('id="report-data">')[1].split("</script>")[0])
    assert data["bill"]["rows"] == reconcile_doc(reconcile(store, FILES))["rows"]
    refused = run_cli("report", "--bill", str(FILES[0]))
    assert refused.returncode == 2 and "--format html" in refused.stderr


def test_a_usage_or_a_cost_export_alone_still_explains_what_it_can(store: Store) -> None:
    tokens_only = reconcile(store, [BILLS / "anthropic-usage-report.json"])
    assert tokens_only.coverage_of == "tokens"
    sonnet = _group(tokens_only, "2026-11-01", "anthropic", "sonnet-4")
    missed = (8500 + 1000 + 500 + 1700) - (7000 + 1100)
    assert sonnet["reasons"] == [f"tokens not captured: {missed:,} of {8500 + 1000 + 500 + 1700:,} billed"]
    assert tokens_only.summary.startswith(f"metered {tokens_only.coverage_pct:.1f}% of billed tokens")

    cost_only = reconcile(store, [BILLS / "anthropic-cost-report.json"])
    sonnet = _group(cost_only, "2026-11-01", "anthropic", "sonnet-4")
    assert (
        sonnet["reasons"][0].startswith("the export gives no tokens")
        and sonnet["price_difference_usd"] is None
    )
    assert "billed without tokens" in cost_only.summary
