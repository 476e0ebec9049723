"""`tokmeter report --format html`: one self-contained page whose figures equal the JSON report's, and
that loads in headless Chromium with no console error, no network, and charts that have drawn."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from cdp import Chromium, chromium_path
from conftest import REPO, SAMPLE_LOGS, run_cli

ARTIFACTS = REPO / "tests" / "artifacts"
CHARTS = ("over-time-model", "over-time-user", "top-model", "top-user", "token-mix", "token-mix-models")
HOSTILE_USER = '<script>alert("user")</script>&amp;'
HOSTILE_MODEL = '"><img src=x onerror=alert(1)></script><!--'


class Page(HTMLParser):
    """What the tests read back from the HTML: the embedded data, the data-* figures, every tag."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.cards: dict[str, str] = {}
        self.cells: dict[str, dict[str, str]] = defaultdict(dict)
        self._row: str | None = None
        self._in_script = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "script":
            self._in_script, self.scripts = True, [*self.scripts, ""]
        if tag == "tr" and a.get("data-row"):
            self._row = a["data-row"]
        if "data-measure" in a and "data-value" in a:
            if tag == "div":
                self.cards[a["data-measure"] or ""] = a["data-value"] or ""
            elif self._row is not None:
                self.cells[self._row][a["data-measure"] or ""] = a["data-value"] or ""

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False if tag == "script" else self._in_script

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data

    @property
    def data(self) -> dict[str, Any]:
        script = next(a for t, a in self.tags if t == "script")
        assert script == {"type": "application/json", "id": "report-data"}
        return dict(json.loads(self.scripts[0]))


@pytest.fixture
def ingested(isolated_store: Path) -> Path:
    result = run_cli("ingest", str(SAMPLE_LOGS))
    assert result.returncode == 0, result.stderr
    return isolated_store


def html_report(tmp_path: Path, *args: str, name: str = "report.html") -> tuple[Path, Page]:
    out = tmp_path / name
    result = run_cli("report", "--format", "html", "--output", str(out), *args)
    assert result.returncode == 0, result.stderr
    return out, Page(out.read_text(encoding="utf-8"))


def json_report(*args: str) -> dict[str, Any]:
    result = run_cli("report", "--format", "json", *[a for a in args if a not in ("--metric", "tokens")])
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def as_value(number: float | None) -> str:
    return "" if number is None else repr(number)


@pytest.mark.parametrize(
    "args",
    [
        ("--by", "model"),
        ("--by", "user", "--by", "day"),
        ("--by", "provider", "--since", "2026-11-02", "--until", "2026-11-03", "--cost-breakdown"),
        ("--user", "alice", "--user", "bob"),
        ("--by", "week", "--by", "model", "--metric", "tokens"),
    ],
)
def test_html_figures_equal_the_json_report(ingested: Path, tmp_path: Path, args: tuple[str, ...]) -> None:
    _, page = html_report(tmp_path, *args)
    doc = json_report(*args)
    data = page.data
    assert data["report"] == doc
    # what is shown: the totals cards and every cell of the report table carry the same figures
    for measure, value in page.cards.items():
        assert value == as_value(doc["totals"][measure]), measure
    assert set(page.cards) >= {"cost_usd", "requests", "input_tokens", "output_tokens"}
    assert page.cells.pop("totals") == {
        m: as_value(v) for m, v in doc["totals"].items() if m in page.cells["0"]
    }
    assert len(page.cells) == len(doc["rows"])
    for index, row in enumerate(doc["rows"]):
        assert page.cells[str(index)] == {
            m: as_value(v) for m, v in row.items() if m in page.cells[str(index)]
        }
        assert {"requests", "cost_usd"} <= set(page.cells[str(index)])


def test_html_charts_equal_the_reports_they_draw(ingested: Path, tmp_path: Path) -> None:
    _, page = html_report(tmp_path, "--by", "model")
    data = page.data
    assert data["query"]["period"] == "day" and data["query"]["metric"] == "cost"
    by_day = {r["day"]: r["cost_usd"] for r in json_report("--by", "day")["rows"]}
    by_model = {r["model"]: r["cost_usd"] for r in json_report("--by", "model")["rows"]}
    by_user = {r["user"]: r["cost_usd"] for r in json_report("--by", "user")["rows"]}
    for stack, expected in (("model", by_model), ("user", by_user)):
        series = data["over_time"][stack]
        assert series["periods"] == sorted(by_day)
        assert dict(zip(series["periods"], series["totals"])) == by_day
        assert set(series["names"]) == set(expected)
        for name in series["names"]:  # each stacked name sums (exactly) to its own report row
            assert sum(Decimal(str(v)) for v in series["values"][name]) == Decimal(str(expected[name]))
    assert {t["label"]: t["value"] for t in data["top"]["model"]} == by_model
    assert [t["label"] for t in data["top"]["user"]] == ["bob", "alice", "carol", "dave"]
    totals = data["report"]["totals"]
    mix = data["token_mix"]
    assert mix == {
        "input_uncached": 18523 - 9024 - 4200,
        "cache_read": 9024,
        "cache_write": 4200,
        "output": 1469,
    }
    assert sum(mix.values()) == totals["input_tokens"] + totals["output_tokens"]


def test_html_tokens_metric_and_weeks(ingested: Path, tmp_path: Path) -> None:
    _, page = html_report(tmp_path, "--by", "week", "--metric", "tokens")
    data = page.data
    assert data["query"]["period"] == "week"
    weeks = {r["week"]: r["input_tokens"] + r["output_tokens"] for r in json_report("--by", "week")["rows"]}
    assert dict(zip(data["over_time"]["model"]["periods"], data["over_time"]["model"]["totals"])) == weeks


def test_html_is_self_contained(ingested: Path, tmp_path: Path) -> None:
    path, page = html_report(tmp_path, "--by", "model")
    text = path.read_text()
    assert text.startswith("<!doctype html>")
    assert not re.search(r"https?:|//cdn|@import|url\(", text)
    assert not [t for t, a in page.tags if t in ("link", "img", "iframe", "object", "embed")]
    assert [t for t, _ in page.tags].count("script") == 1  # the JSON data, which never runs
    csp = next(a for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert (csp["content"] or "").startswith("default-src 'none'")
    assert "prefers-color-scheme: dark" in text and "@media print" in text
    assert {a.get("data-chart") for t, a in page.tags if t == "svg"} >= set(CHARTS)


def test_html_to_standard_output(ingested: Path) -> None:
    result = run_cli("report", "--format", "html", "--by", "user")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("<!doctype html>") and result.stdout.rstrip().endswith("</html>")


def hostile_capture(tmp_path: Path) -> Path:
    body = {
        "id": "chatcmpl-evil",
        "object": "chat.completion",
        "model": HOSTILE_MODEL,
        "usage": {"prompt_tokens": 100, "completion_tokens": 7},
    }
    record = {
        "ts": "2026-11-02T10:00:00Z",
        "request_id": "req_evil",
        "user": HOSTILE_USER,
        "provider": "openai",
        "path": "/v1/chat/completions",
        "status": 200,
        "body": json.dumps(body),
    }
    path = tmp_path / "evil.jsonl"
    path.write_text(json.dumps(record) + "\n")
    return path


def test_html_escapes_names_from_captures(ingested: Path, tmp_path: Path) -> None:
    assert run_cli("ingest", str(hostile_capture(tmp_path))).returncode == 0
    path, page = html_report(tmp_path, "--by", "user", "--by", "model")
    text = path.read_text()
    assert HOSTILE_USER not in text and HOSTILE_MODEL not in text and "<img" not in text
    assert [t for t, _ in page.tags].count("script") == 1 and "img" not in [t for t, _ in page.tags]
    data = page.data  # the JSON survives intact
    assert data["report"] == json_report("--by", "user", "--by", "model")
    assert {"user": HOSTILE_USER, "model": HOSTILE_MODEL} in [
        {"user": r["user"], "model": r["model"]} for r in data["report"]["rows"]
    ]
    assert data["report"]["totals"]["unpriced_requests"] == 1  # the unknown model is unpriced, and said so
    assert 'id="unpriced"' in text


def test_html_empty_store(isolated_store: Path, tmp_path: Path) -> None:
    (tmp_path / "nothing").mkdir()
    assert run_cli("ingest", str(tmp_path / "nothing"), "--quiet").returncode == 0  # a store, with no rows
    _, page = html_report(tmp_path, "--by", "model")
    data = page.data
    assert data["report"]["rows"] == [] and data["over_time"]["model"]["periods"] == []
    assert page.cards["cost_usd"] == "" and page.cards["requests"] == "0"


# ---- in a real browser ----------------------------------------------------------------------------

CHROMIUM = chromium_path()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; .ci/run installs it)"
)

MEASURE = """JSON.stringify([...document.querySelectorAll('svg.chart')].map(svg => {
  const box = svg.getBoundingClientRect();
  const marks = [...svg.querySelectorAll('rect.mark')].map(m => m.getBoundingClientRect());
  return {chart: svg.dataset.chart, width: box.width, height: box.height, marks: marks.length,
          empty_marks: marks.filter(m => !(m.width > 0 && m.height > 0)).length,
          fill: marks.length ? getComputedStyle(svg.querySelector('rect.mark')).fill : null};
}))"""


def luminance(css_color: str) -> float:
    r, g, b = (int(x) for x in re.findall(r"\d+", css_color)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


@needs_chromium
def test_html_loads_and_draws_in_headless_chromium(ingested: Path, tmp_path: Path) -> None:
    path, page = html_report(tmp_path, "--by", "model")
    with Chromium(str(CHROMIUM)) as browser:
        browser.open(path, width=1280, height=900)
        assert browser.console_errors() == []
        assert browser.requested_urls() == [path.resolve().as_uri()]  # the page itself, nothing else
        charts = {c["chart"]: c for c in json.loads(browser.evaluate(MEASURE))}
        for name in CHARTS:
            chart = charts[name]
            assert chart["width"] > 100 and chart["height"] > 10, chart
            assert chart["marks"] > 0 and chart["empty_marks"] == 0, chart
            assert chart["fill"] not in (None, "none", "rgb(0, 0, 0)"), chart  # the theme's colours applied
        assert charts["over-time-model"]["marks"] == 8  # one per (day, model) with spend in the sample
        shown = json.loads(browser.evaluate("document.getElementById('report-data').textContent"))
        assert shown == page.data
        browser.screenshot(ARTIFACTS / "report.png")
        light = browser.evaluate("getComputedStyle(document.body).backgroundColor")

        browser.emulate(color_scheme="dark")
        dark = browser.evaluate("getComputedStyle(document.body).backgroundColor")
        dark_text = browser.evaluate("getComputedStyle(document.querySelector('h1')).color")
        browser.screenshot(ARTIFACTS / "report-dark.png")
        assert luminance(light) > 0.9 and luminance(dark) < 0.15 and luminance(dark_text) > 0.8

        browser.emulate(media="print", color_scheme="dark")
        assert luminance(browser.evaluate("getComputedStyle(document.body).backgroundColor")) > 0.9
        assert browser.pdf(ARTIFACTS / "report.pdf").startswith(b"%PDF")
        assert browser.console_errors() == []
    assert (ARTIFACTS / "report.png").read_bytes().startswith(b"\x89PNG")


@needs_chromium
def test_hostile_names_stay_text_in_chromium(ingested: Path, tmp_path: Path) -> None:
    assert run_cli("ingest", str(hostile_capture(tmp_path))).returncode == 0
    path, _ = html_report(tmp_path, "--by", "user", "--by", "model")
    with Chromium(str(CHROMIUM)) as browser:
        browser.open(path)
        assert browser.console_errors() == []
        assert (
            browser.evaluate(
                "document.querySelectorAll('img, script:not([type=\"application/json\"])').length"
            )
            == 0
        )
        cells = browser.evaluate(
            "[...document.querySelectorAll('#report-table td.dim')].map(td => td.textContent)"
        )
        assert HOSTILE_USER in cells and HOSTILE_MODEL in cells


@needs_chromium
def test_the_browser_check_sees_errors_and_loads(ingested: Path, tmp_path: Path) -> None:
    """The checks above are not vacuous: a script or a remote image put into a copy of the page is
    reported (the page's Content-Security-Policy refuses both, and says so on the console)."""
    path, _ = html_report(tmp_path, "--by", "model")
    spoiled = tmp_path / "spoiled.html"
    spoiled.write_text(
        path.read_text().replace(
            "</main>",
            '<img src="https://example.invalid/x.png"><script>console.error("boom")</script></main>',
        )
    )
    with Chromium(str(CHROMIUM)) as browser:
        browser.open(spoiled)
        errors, urls = browser.console_errors(), browser.requested_urls()
    assert any("Content Security Policy" in e and "inline script" in e for e in errors), errors
    assert any("Content Security Policy" in e and "example.invalid" in e for e in errors), errors
    assert "https://example.invalid/x.png" in urls
