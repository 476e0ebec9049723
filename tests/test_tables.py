"""Tables for people, through the real CLI: they fit the width (COLUMNS) without cutting a number or an id,
rows come in a sensible order, an empty result is a sentence, and each --format name means one thing."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import polars as pl
import pytest

from conftest import SAMPLE_LOGS, run_cli

BOX = "│┃"
RULE = re.compile(r"^[\s─━┡┩├┤┼╇┏┓┗┛┳┻━└┘┴┬┌┐╈]+$")
# a self-hosted model with a name longer than any column a terminal can give it (and no price)
LONG_MODEL = "acme-house-llm-70b-instruct:customer-support-v2:2026-11-research-preview"
LONG_ID = "req_0123456789abcdef0123456789abcdef-retry-2"


@pytest.fixture
def ingested(isolated_store: Path, tmp_path: Path) -> Path:
    """sample_logs/ and one capture of a long-named model with a long request id (not priced)."""
    first = (SAMPLE_LOGS / "gateway-2026-11.jsonl").read_text().splitlines()[0]
    record = json.loads(first)
    record["request_id"] = LONG_ID
    record["response_headers"]["x-request-id"] = LONG_ID
    record["body"] = record["body"].replace("gpt-4o-mini-2024-07-18", LONG_MODEL)
    record["user"] = "someone.with.a.long.name@example.com"
    (tmp_path / "extra.jsonl").write_text(json.dumps(record) + "\n")
    for path in (SAMPLE_LOGS, tmp_path / "extra.jsonl"):
        result = run_cli("ingest", str(path))
        assert result.returncode == 0, result.stderr
    return isolated_store


def cli(*args: str, columns: int | None = 200) -> str:
    result = run_cli(*args, env={"COLUMNS": str(columns)} if columns else None)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def figures(row: dict, columns: list[str]) -> list[str]:
    """A JSON report row's figures as the table writes them."""
    out = []
    for column in columns:
        value = row[column]
        out.append(
            "unpriced"
            if value is None and column == "cost_usd"
            else f"${value:,.6f}"
            if column == "cost_usd"
            else f"{value:,}"
        )
    return out


def first_column(text: str) -> list[str]:
    """The first column of a table drawn boxed or compact, folded cells joined back together: a line that
    has figures after its first cell starts a row, a line with the first cell alone continues one."""
    lines = [line for line in text.splitlines() if line.strip()]
    header_end = next(i for i, line in enumerate(lines) if RULE.match(line) and "┏" not in line)
    cells: list[str] = []
    for line in lines[header_end + 1 :]:
        if line.startswith(("Prices:", "└")):
            break
        if RULE.match(line):
            continue
        parts = [p for p in re.split(rf"[{BOX}]|\s+", line) if p]
        if not parts:
            continue
        if len(parts) > 1:
            cells.append(parts[0])
        else:
            cells[-1] += parts[0]
    return cells


MEASURES = [
    "requests",
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cost_usd",
]


@pytest.mark.parametrize("columns", [60, 80, 120])
def test_report_fits_and_never_cuts_a_number(ingested: Path, columns: int) -> None:
    doc = json.loads(cli("report", "--by", "model", "--format", "json"))
    text = cli("report", "--by", "model", columns=columns)
    assert "…" not in text
    assert max(len(line.rstrip()) for line in text.splitlines()) <= columns
    words = set(re.split(rf"[\s{BOX}]+", text))
    for row in doc["rows"]:
        for figure in figures(row, MEASURES):
            assert figure in words, (figure, text)
    assert f"${doc['totals']['cost_usd']:,.6f}" in words
    table = text.split("Unpriced models")[0]
    assert_models_whole(table, [row["model"] for row in doc["rows"]])
    # 10 columns and a 75-character name: one block per model at 60 and 80, compact (name folded) at 120
    assert table.startswith("model  ") == (columns < 120) and "┃" not in table


def assert_models_whole(table: str, models: list[str]) -> None:
    if table.startswith("model  "):  # too narrow for a table: one block per model, names folded at most
        squeezed = re.sub(r"\s+", "", table)
        assert all(f"model{model}requests" in squeezed for model in models)
        assert table.count("cost usd  ") == len(models) + 1  # and the totals
    else:
        assert first_column(table)[:-1] == models


@pytest.mark.parametrize(("columns", "layout"), [(60, "vertical"), (80, "compact"), (120, "boxed")])
def test_sample_report_layout(isolated_store: Path, columns: int, layout: str) -> None:
    assert run_cli("ingest", str(SAMPLE_LOGS)).returncode == 0
    models = [row["model"] for row in json.loads(cli("report", "--by", "model", "--format", "json"))["rows"]]
    text = cli("report", "--by", "model", columns=columns)
    assert "…" not in text and max(len(line.rstrip()) for line in text.splitlines()) <= columns
    shown = "vertical" if text.startswith("model  ") else "boxed" if "┃" in text else "compact"
    assert shown == layout, text
    assert_models_whole(text, models)
    if layout == "boxed":  # the sample's names fit whole at 120: one line per model
        assert all(f"│ {model} " in text for model in models)


def test_rows_piped_are_as_wide_as_they_need(ingested: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS")
    rows = json.loads(cli("rows", "--format", "json", columns=None))["rows"]
    text = cli("rows", columns=None)
    assert "…" not in text
    lines = text.splitlines()
    for row in rows:  # each row on one line, its id and figures whole
        [line] = [line for line in lines if f" {row['request_id']} " in line]
        assert f"${row['cost_usd']:,.6f}" in line if row["cost_usd"] is not None else "unpriced" in line
        assert row["model"] in line and f" {row['input_tokens']:,} " in line


@pytest.mark.parametrize("columns", [60, 80, 120])
def test_rows_on_a_terminal_width_fold_ids_never_cut_them(ingested: Path, columns: int) -> None:
    text = cli("rows", "--user", "someone.with.a.long.name@example.com", columns=columns)
    assert "…" not in text
    assert max(len(line.rstrip()) for line in text.splitlines()) <= columns
    assert LONG_ID in re.sub(rf"[\s{BOX}]", "", text)  # folded or not, every character is there


def test_other_tables_fit_too(ingested: Path) -> None:
    for args in (
        ("quarantine",),
        ("prices", "check"),
        ("prices", "show", "gpt-4o-mini-2024-07-18"),
        ("status",),
    ):
        result = run_cli(*args, env={"COLUMNS": "60"})
        assert result.returncode in (0, 1) and "Traceback" not in result.stderr, result.stderr
        assert "…" not in result.stdout
        assert max(len(line.rstrip()) for line in result.stdout.splitlines()) <= 60, result.stdout


# ---- order -----------------------------------------------------------------------------------------------
def report_rows(*args: str) -> list[dict]:
    return json.loads(cli("report", "--format", "json", *args))["rows"]


def test_period_reports_are_in_period_order(ingested: Path) -> None:
    for period in ("day", "week", "month"):
        labels = [row[period] for row in report_rows("--by", period)]
        assert labels == sorted(labels) and len(labels) == len(set(labels)), (period, labels)
    table = cli("report", "--by", "day")
    days = [row["day"] for row in report_rows("--by", "day")]
    assert [table.index(day) for day in days] == sorted(table.index(day) for day in days)
    rows = report_rows("--by", "day", "--by", "model")  # by day, then by cost within each day
    assert [r["day"] for r in rows] == sorted(r["day"] for r in rows)
    for day in {r["day"] for r in rows}:
        costs = [r["cost_usd"] for r in rows if r["day"] == day and r["cost_usd"] is not None]
        assert costs == sorted(costs, reverse=True)


def test_other_reports_are_by_cost_and_sort_chooses(ingested: Path) -> None:
    costs = [r["cost_usd"] for r in report_rows("--by", "model") if r["cost_usd"] is not None]
    assert costs == sorted(costs, reverse=True) and len(costs) > 3
    assert report_rows("--by", "model")[-1]["cost_usd"] is None  # unpriced last
    by_cost = report_rows("--by", "day", "--sort", "cost")
    assert [r["cost_usd"] for r in by_cost] == sorted((r["cost_usd"] for r in by_cost), reverse=True)
    requests = [r["requests"] for r in report_rows("--by", "user", "--sort", "requests")]
    assert requests == sorted(requests, reverse=True)
    tokens = [
        r["input_tokens"] + r["output_tokens"] for r in report_rows("--by", "model", "--sort", "tokens")
    ]
    assert tokens == sorted(tokens, reverse=True)
    users = [r["user"] for r in report_rows("--by", "user", "--sort", "name")]
    assert users == sorted(users)
    csv_days = [
        r["day"] for r in csv.DictReader(io.StringIO(cli("report", "--by", "day", "--format", "csv")))
    ]
    assert csv_days == sorted(csv_days)


def test_report_without_by_is_one_row(ingested: Path) -> None:
    totals = json.loads(cli("report", "--format", "json"))["totals"]
    text = cli("report")
    assert text.count(f"${totals['cost_usd']:,.6f}") == 1 and f"{totals['input_tokens']:,}" in text


def test_sort_period_needs_a_period(ingested: Path) -> None:
    result = run_cli("report", "--by", "model", "--sort", "period")
    assert result.returncode == 2 and "--sort period needs a time dimension" in result.stderr
    assert "Traceback" not in result.stderr
    for charts in (("--chart",), ("--format", "html")):  # charts keep their own order: said, not ignored
        result = run_cli("report", "--by", "model", "--sort", "cost", *charts)
        assert result.returncode == 2 and "charts have their own order" in result.stderr, result.stderr


# ---- empty results ----------------------------------------------------------------------------------------
def test_empty_results_are_a_sentence_not_a_frame(ingested: Path) -> None:
    for args in (("report", "--by", "model"), ("report",), ("rows",)):
        text = cli(*args, "--since", "2030-01-01")
        assert "No usage row" in text and "--since 2030-01-01" in text, text
        assert not set("┏┃│─") & set(text), text
    nothing, empty = ingested.parent / "nothing", ingested.parent / "empty"
    nothing.mkdir()
    cli(
        "ingest", str(nothing), "--store", str(empty), "--quiet"
    )  # a store with no rows (no store at all: an error)
    fresh = cli("report", "--store", str(empty))
    assert "No usage rows in" in fresh and "tokmeter ingest" in fresh
    status = cli("status")
    assert "no checkpoints yet" in status and "┏" not in status


def test_no_quarantine_is_a_sentence(isolated_store: Path, tmp_path: Path) -> None:
    run_cli("ingest", str(SAMPLE_LOGS / "responses"))
    text = cli("quarantine")
    assert "No capture has been set aside" in text and "┏" not in text


# ---- one meaning per --format name --------------------------------------------------------------------------
FORMAT_COMMANDS = [("report", "--by", "model"), ("rows",), ("status",), ("quarantine",)]


def format_choices(command: str) -> list[str]:
    help_text = run_cli(command, "--help", env={"COLUMNS": "300"}).stdout
    [choices] = re.findall(r"^│ --format\s+<([a-z|]+)>", help_text, flags=re.MULTILINE)
    return choices.split("|")


def test_each_format_name_means_one_thing(ingested: Path, tmp_path: Path) -> None:
    seen: set[str] = set()
    for args in FORMAT_COMMANDS:
        choices = format_choices(args[0])
        assert "table" in choices and "json" in choices, (args, choices)
        for fmt in choices:
            seen.add(fmt)
            out = tmp_path / f"{args[0]}.{fmt}"
            extra = ("--output", str(out)) if fmt == "parquet" else ()
            text = cli(*args, "--format", fmt, *extra)
            if fmt == "json":
                assert isinstance(json.loads(text), dict)
            elif fmt == "jsonl":
                assert text and all(isinstance(json.loads(line), dict) for line in text.splitlines())
            elif fmt == "csv":
                assert len(list(csv.DictReader(io.StringIO(text)))) >= 1
            elif fmt == "parquet":
                assert pl.read_parquet(out).height >= 1
            elif fmt == "html":
                assert text.lstrip().lower().startswith("<!doctype html")
            elif fmt == "focus":  # FOCUS rows, CSV (tests/test_focus.py checks the columns)
                assert "BilledCost" in next(csv.DictReader(io.StringIO(text)))
            else:
                assert fmt == "table" and not text.lstrip().startswith(("{", "[")), (args, fmt)
    assert seen == {"table", "json", "jsonl", "csv", "parquet", "html", "focus"}
