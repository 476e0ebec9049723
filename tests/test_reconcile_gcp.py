"""tokmeter reconcile on Google Cloud's billing export (the standard usage cost table, built from the
documented schema: tests/data/bills/README.md): Vertex AI and Gemini API token SKUs matched per UTC day and
model with the store's google-vertex and google rows; SKUs that are not token SKUs set aside with a reason;
the same rows read from JSON lines, Parquet (nested structs) and CSV (dotted column names)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from conftest import run_cli
from test_reconcile import usage_row
from tokmeter.reconcile.files import read_bills
from tokmeter.reconcile.gcp_billing import sku
from tokmeter.reconcile.result import reconcile
from tokmeter.schema import polars_schema
from tokmeter.store.local import Store

EXPORT = Path(__file__).parent / "data" / "bills" / "gcp-billing-export.jsonl"
ROWS = [
    # 2026-11-01: Vertex gemini-2.5-pro, every token billed; Gemini API flash, some input not captured
    usage_row(
        "g1",
        1,
        "google-vertex",
        "gemini-2.5-pro",
        input_tokens=10000,
        cache_read_tokens=2000,
        output_tokens=3000,
    ),
    usage_row("g2", 1, "google-vertex", "gemini-2.5-pro", input_tokens=5000, output_tokens=1000),
    usage_row("g3", 1, "google", "gemini-2.5-flash", input_tokens=1200, output_tokens=300),
    # 2026-11-02: no google-vertex capture (the export bills gemini-2.5-pro)
]


@pytest.fixture
def store(isolated_store: Path) -> Store:
    the_store = Store(isolated_store)
    with the_store.writing():
        the_store.commit(pl.DataFrame(ROWS, schema=polars_schema()))
    return the_store


def _export_rows() -> list[dict]:
    return [json.loads(line) for line in EXPORT.read_text().splitlines()]


def _billed(day: str, service: str, words: str) -> tuple[int, Decimal]:
    """Tokens and USD of the export's token SKUs with ``words`` in their description, added up here."""
    tokens, cost = 0, Decimal(0)
    for row in _export_rows():
        if (
            row["usage_start_time"].startswith(day)
            and row["service"]["description"] == service
            and words in row["sku"]["description"]
            and row["usage"]["amount"] >= 0
        ):
            tokens += row["usage"]["amount"]
            cost += Decimal(str(row["cost"]))
    return tokens, cost


def _group(result, day: str, provider: str) -> dict:
    (row,) = [r for r in result.rows.iter_rows(named=True) if (r["day"], r["provider"]) == (day, provider)]
    return row


def test_token_skus_are_read_and_the_rest_set_aside() -> None:
    bill = read_bills([EXPORT])
    assert bill.formats == {str(EXPORT): {"gcp-billing-json"}}
    assert {line["provider"] for line in bill.lines} == {"google", "google-vertex"}
    skipped = {s.where: s for s in bill.skipped}
    assert set(skipped) == {"line 9", "line 10", "line 11"}  # characters, a request SKU, a bad amount
    assert "not a count of tokens" in skipped["line 9"].reason and "left out" in skipped["line 9"].hint
    assert "Grounding" in skipped["line 10"].reason and "not a token count" in skipped["line 11"].reason
    assert len(bill.lines) == 8  # the Compute Engine line is another service's: left out, not set aside


def test_gemini_is_matched_per_day_and_model(store: Store) -> None:
    result = reconcile(store, [EXPORT])
    pro = _group(result, "2026-11-01", "google-vertex")
    uncached, uncached_cost = _billed("2026-11-01", "Vertex AI", "Pro Input")
    cached, cached_cost = _billed("2026-11-01", "Vertex AI", "Pro Cached Input")
    output, output_cost = _billed("2026-11-01", "Vertex AI", "Pro Output")
    assert pro["model"] == "gemini-2.5-pro"
    assert pro["billed_input_tokens"] == uncached + cached == pro["metered_input_tokens"] == 15000
    assert pro["billed_cache_read_tokens"] == cached == pro["metered_cache_read_tokens"]
    assert pro["billed_output_tokens"] == output == pro["metered_output_tokens"]
    assert pro["billed_cost_usd"] == uncached_cost + cached_cost + output_cost
    assert not any("captur" in r or "bill" in r for r in pro["reasons"])  # only a price difference, if any

    flash = _group(result, "2026-11-01", "google")
    assert flash["billed_input_tokens"] == _billed("2026-11-01", "Gemini API", "Flash Input")[0] == 2000
    assert flash["metered_input_tokens"] == 1200 and flash["reasons"][-1].startswith("usage not captured")

    missing = _group(result, "2026-11-02", "google-vertex")
    assert missing["reasons"] == ["no captures of google-vertex on 2026-11-02"]
    assert missing["billed_cost_usd"] == sum(
        (_billed("2026-11-02", "Vertex AI", w)[1] for w in ("Pro Input", "Pro Output")), Decimal(0)
    )
    assert "on 2026-11-02 with no captures" in result.summary
    assert len(result.skipped) == 3


def test_parquet_and_csv_exports_read_as_the_json_rows(tmp_path: Path) -> None:
    nested = pl.read_ndjson(EXPORT, infer_schema_length=None)  # structs and lists, as bq extract writes
    nested.write_parquet(tmp_path / "export.parquet")
    flat = nested.drop("labels", "system_labels", "credits", "project").unnest(
        "service", "sku", "usage", "location", "invoice", separator="."
    )
    flat.write_csv(tmp_path / "export.csv")  # a query's result saved as CSV: service.description, ...
    from_json = read_bills([EXPORT])
    for name in ("export.parquet", "export.csv"):
        other = read_bills([tmp_path / name])
        assert [{**line, "project": None} for line in other.lines] == [
            {**line, "project": None} for line in from_json.lines
        ], name
        assert [(s.where, s.reason.replace("'", "")) for s in other.skipped] == [
            (f"row {s.where.split()[-1]}", s.reason.replace("'", "")) for s in from_json.skipped
        ]  # a table's values are text: '-5' where JSON says -5
    assert read_bills([tmp_path / "export.parquet"]).lines == from_json.lines  # project.id from the struct


@pytest.mark.parametrize(
    ("description", "parsed"),
    [
        ("Gemini 2.5 Pro Input Tokens", ("gemini-2.5-pro", "input", None)),
        ("Gemini 2.5 Pro Cached Input Tokens", ("gemini-2.5-pro", "cache_read", None)),
        ("Gemini 2.5 Flash Thinking Output Tokens", ("gemini-2.5-flash", "output", None)),
        ("Gemini 2.5 Pro Batch Output Tokens", ("gemini-2.5-pro", "output", "batch")),
        ("Gemini 2.0 Flash Text Input - Predictions", ("gemini-2.0-flash", "input", None)),
        ("Gemini 2.5 Pro Long Context Input Tokens (>200K)", ("gemini-2.5-pro", "input", None)),
        ("Gemini 2.5 Pro Context Cache Storage", None),
        ("Grounding with Google Search", None),
    ],
)
def test_sku_descriptions(description: str, parsed: tuple | None) -> None:
    assert sku(description) == parsed


def test_cli_reads_the_export(store: Store) -> None:
    result = run_cli("reconcile", str(EXPORT), "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["formats"] == {str(EXPORT): ["gcp-billing-json"]} and len(doc["skipped"]) == 3
    assert {(r["day"], r["provider"]) for r in doc["rows"]} == {
        ("2026-11-01", "google-vertex"),
        ("2026-11-01", "google"),
        ("2026-11-02", "google-vertex"),
    }
