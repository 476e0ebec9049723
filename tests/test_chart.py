"""`tokmeter report --chart`: bars in the terminal, plain ASCII off a terminal; and the chart data behind
both the terminal and the HTML charts."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from rich.console import Console

from conftest import SAMPLE_LOGS, run_cli
from tokmeter.render.chart import report_chart
from tokmeter.report.chart_data import bars, period_labels, pivot, span_period
from tokmeter.report.queries import Filters, build_report
from tokmeter.store.local import Store

ANSI = re.compile(r"\x1b\[[0-9;]*m")
SAMPLE_MODELS = (
    "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5-20251001",
    "o4-mini-2025-04-16",
    "gpt-4.1-2025-04-14",
    "gpt-4o-2024-08-06",
    "gpt-4o-mini-2024-07-18",
    "claude-sonnet-4-5",
)


@pytest.fixture
def ingested(isolated_store: Path) -> Path:
    result = run_cli("ingest", str(SAMPLE_LOGS))
    assert result.returncode == 0, result.stderr
    return isolated_store


def chart_text(store: Path, dims: list[str], metric: str = "cost", *, fancy: bool, width: int = 80) -> str:
    report = build_report(Store(store), dims, Filters())
    console = Console(
        record=True,
        width=width,
        force_terminal=fancy,
        color_system="truecolor" if fancy else None,
        file=open("/dev/null", "w"),
    )  # noqa: SIM115 - closed with the console
    console.print(
        report_chart(
            report,
            metric,
            width=console.width,
            fancy=fancy,  # type: ignore[arg-type]
            color_system=console.color_system,
        ),
        soft_wrap=True,
    )
    return console.export_text(styles=fancy)


def bar_length(line: str) -> int:
    return len(re.findall(r"[#█▏▎▍▌▋▊▉]", line))


def test_bars_per_group_plain(ingested: Path) -> None:
    text = chart_text(ingested, ["model"], fancy=False)
    assert text.isascii(), text
    lines = text.splitlines()
    assert lines[0] == "cost (USD) by model"
    rows = lines[1:8]
    assert [r.split()[0] for r in rows] == list(SAMPLE_MODELS)
    assert rows[0].endswith("$0.012795") and rows[-1].endswith("$0.000000")
    assert all(len(r) <= 80 for r in lines)
    # lengths follow the values: the largest fills the bar width, the others in proportion
    longest = bar_length(rows[0])
    assert longest == 80 - len(SAMPLE_MODELS[0]) - len("$0.012795") - 4
    assert bar_length(rows[1]) == round(longest * 0.008640 / 0.012795)
    assert bar_length(rows[-1]) == 0
    assert "Total $0.030059, 10 requests" in text
    assert "Prices: genai-prices" in text


def test_bars_on_a_terminal_are_coloured_blocks(ingested: Path) -> None:
    text = chart_text(ingested, ["model"], fancy=True)
    assert "\x1b[" in text and "█" in text
    plain = ANSI.sub("", text)
    assert "claude-sonnet-4-5-20250929" in plain and "$0.012795" in plain


def test_metric_tokens_and_requests(ingested: Path) -> None:
    doc = json.loads(run_cli("report", "--by", "user", "--format", "json").stdout)
    tokens = chart_text(ingested, ["user"], "tokens", fancy=False, width=100)
    requests = chart_text(ingested, ["user"], "requests", fancy=False, width=100)
    for row in doc["rows"]:
        user = row["user"] or "(unknown)"
        assert re.search(
            rf"^{re.escape(user)} .* {row['input_tokens'] + row['output_tokens']:,}$", tokens, re.MULTILINE
        )
        assert re.search(rf"^{re.escape(user)} .* {row['requests']}$", requests, re.MULTILINE)
    assert tokens.splitlines()[0] == "tokens (input + output) by user"


def test_time_dimension_draws_a_bar_per_period_with_gaps(ingested: Path) -> None:
    text = chart_text(ingested, ["day"], fancy=False)
    periods = [line.split()[0] for line in text.splitlines()[1:5]]
    assert periods == ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"]
    assert text.splitlines()[3].endswith("$0.019920")


def test_time_and_model_stack_with_a_legend_and_sparklines(ingested: Path) -> None:
    text = chart_text(ingested, ["day", "model"], fancy=False, width=90)
    lines = text.splitlines()
    assert lines[0] == "cost (USD) by day and model (stacked by model)"
    day3 = next(line for line in lines if line.startswith("2026-11-03"))
    # sonnet ($0.012795, fill '#') then haiku ($0.007125, fill '=') on the 3rd
    assert re.search(r"#+=+ +\$0\.019920$", day3), day3
    legend = [line for line in lines if line[:2] in ("##", "==", "++", "**", "oo", "%%", "@@")]
    assert [line.split()[1] for line in legend] == list(SAMPLE_MODELS)
    # a sparkline over the 4 days: sonnet only spent on the 3rd (the top level), haiku mostly then
    assert legend[0] == "## claude-sonnet-4-5-20250929    %   $0.012795"
    assert legend[1] == "== claude-haiku-4-5-20251001     %:  $0.008640"


def test_cli_chart_off_a_terminal_is_plain_text(ingested: Path) -> None:
    result = run_cli("report", "--by", "day", "--by", "user", "--chart")
    assert result.returncode == 0, result.stderr
    assert result.stdout.isascii(), result.stdout
    assert "cost (USD) by day and user (stacked by user)" in result.stdout
    for user in ("alice", "bob", "carol", "dave"):
        assert re.search(rf"^\S\S {user} ", result.stdout, re.MULTILINE), result.stdout


def test_cli_chart_on_a_terminal(ingested: Path) -> None:
    result = run_cli("report", "--by", "model", "--chart", "--metric", "tokens", env={"FORCE_COLOR": "1"})
    assert result.returncode == 0, result.stderr
    assert "\x1b[" in result.stdout and "█" in result.stdout
    assert "claude-sonnet-4-5-20250929" in ANSI.sub("", result.stdout)


def test_cli_chart_to_a_file(ingested: Path, tmp_path: Path) -> None:
    out = tmp_path / "chart.txt"
    result = run_cli("report", "--by", "model", "--chart", "--output", str(out), env={"FORCE_COLOR": "1"})
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "\x1b" not in text and "#" in text and "$0.012795" in text


def test_cli_chart_option_errors(ingested: Path) -> None:
    result = run_cli("report", "--chart", "--format", "json")
    assert result.returncode == 2 and "--chart draws in the terminal" in result.stderr
    assert "Hint:" in result.stderr
    result = run_cli("report", "--metric", "tokens")
    assert result.returncode == 2 and "add --chart, or use --format html" in result.stderr


def test_empty_store_chart(isolated_store: Path, tmp_path: Path) -> None:
    (tmp_path / "nothing").mkdir()
    assert run_cli("ingest", str(tmp_path / "nothing"), "--quiet").returncode == 0  # a store, with no rows
    result = run_cli("report", "--by", "model", "--chart")
    assert result.returncode == 0, result.stderr
    assert "(no usage in this report)" in result.stdout


# ---- chart data -----------------------------------------------------------------------------------


def test_period_labels_fill_gaps() -> None:
    assert period_labels("day", ["2026-02-27", "2026-03-02", None]) == [
        "2026-02-27",
        "2026-02-28",
        "2026-03-01",
        "2026-03-02",
    ]
    assert period_labels("week", ["2026-W52", "2027-W02", "2026-W53"]) == [
        "2026-W52",
        "2026-W53",
        "2027-W01",
        "2027-W02",
    ]
    assert period_labels("month", ["2026-11", "2027-02"]) == ["2026-11", "2026-12", "2027-01", "2027-02"]
    assert period_labels("day", ["2020-01-01", "2026-01-01"]) == [
        "2020-01-01",
        "2026-01-01",
    ]  # too many to fill


def test_span_period() -> None:
    assert span_period(["2026-11-01", "2026-12-31"]) == "day"
    assert span_period(["2026-01-01", "2026-12-31"]) == "week"
    assert span_period(["2024-01-01", "2026-12-31"]) == "month"
    assert span_period([]) == "day"


def test_pivot_keeps_the_top_and_sums_the_rest_exactly() -> None:
    rows = pl.DataFrame(
        {
            "day": ["2026-01-01", "2026-01-03", "2026-01-01", "2026-01-03", "2026-01-03"],
            "model": ["a", "a", "b", "c", "d"],
            "cost_usd": [
                Decimal("0.1"),
                Decimal("0.2"),
                Decimal("0.000000000000000001"),
                Decimal("0.05"),
                None,
            ],
            "input_tokens": [10, 20, 30, 40, 50],
            "output_tokens": [1, 2, 3, 4, 5],
            "requests": [1, 1, 1, 1, 1],
        },
        schema_overrides={"cost_usd": pl.Decimal(38, 18)},
    )
    series = pivot(rows, "day", ["model"], "cost", top=2)
    assert series.periods == ["2026-01-01", "2026-01-02", "2026-01-03"]
    assert series.names == ["a", "3 others"] and series.others == 3
    assert series.values["3 others"] == [Decimal("0.000000000000000001"), 0, Decimal("0.05")]
    assert series.period_totals() == [Decimal("0.100000000000000001"), 0, Decimal("0.25")]
    tokens = pivot(rows, "day", ["model"], "tokens", top=8)
    assert tokens.names == ["d", "c", "a", "b"] and tokens.name_totals()["a"] == 33
    ranked = bars(rows.head(4), ["model"], "cost")
    assert ranked.labels == ["a", "a", "c", "b"]
