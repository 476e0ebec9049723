"""The HTML report's stylesheet: a light and a dark theme (``prefers-color-scheme``), and print.

Colours are CSS variables, so the inline SVG charts follow the theme. System fonts only: the page never
loads anything.
"""

from __future__ import annotations

LIGHT = {
    "bg": "#ffffff",
    "fg": "#1d2330",
    "muted": "#5b6475",
    "grid": "#e3e6ec",
    "card": "#f5f7fa",
    "border": "#d9dde5",
    "track": "#eceff3",
    "s0": "#4e79a7",
    "s1": "#f28e2b",
    "s2": "#e15759",
    "s3": "#76b7b2",
    "s4": "#59a14f",
    "s5": "#edc948",
    "s6": "#b07aa1",
    "s7": "#ff9da7",
    "so": "#a0a4ab",
    "k-input": "#4e79a7",
    "k-cache-read": "#59a14f",
    "k-cache-write": "#edc948",
    "k-output": "#e15759",
    "warn": "#b45309",
}
DARK = {
    "bg": "#12151c",
    "fg": "#e6e9ef",
    "muted": "#9aa3b2",
    "grid": "#2a303c",
    "card": "#1b2029",
    "border": "#2f3542",
    "track": "#262c37",
    "s0": "#6f9fd8",
    "s1": "#ffa552",
    "s2": "#ff7b7d",
    "s3": "#8fd3cd",
    "s4": "#7cc870",
    "s5": "#f5d76e",
    "s6": "#c99bc0",
    "s7": "#ffb3bb",
    "so": "#7d828c",
    "k-input": "#6f9fd8",
    "k-cache-read": "#7cc870",
    "k-cache-write": "#f5d76e",
    "k-output": "#ff7b7d",
    "warn": "#fbbf24",
}
CLASSES = [f"s{i}" for i in range(8)] + ["so", "k-input", "k-cache-read", "k-cache-write", "k-output"]

BASE = """
*{box-sizing:border-box}
html{color-scheme:light dark}
body{margin:0;background:var(--bg);color:var(--fg);
 font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1040px;margin:0 auto;padding:24px 20px 40px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:17px;margin:0 0 10px}
h3{font-size:14px;margin:14px 0 6px;color:var(--muted);font-weight:600}
.sub,.muted,.note{color:var(--muted)}
.note{font-size:12px;margin:6px 0 0}
section{margin:22px 0;padding:16px 18px;border:1px solid var(--border);border-radius:10px;background:var(--bg)}
dl.filters{display:flex;flex-wrap:wrap;gap:4px 20px;margin:12px 0 0;font-size:13px}
dl.filters div{display:flex;gap:6px}
dl.filters dt{color:var(--muted)}
dl.filters dt::after{content:":"}
dl.filters dd{margin:0;overflow-wrap:anywhere}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(112px,1fr));gap:10px;border:0;padding:0}
.card{background:var(--card);border:1px solid var(--border);border-radius:8px;padding:10px 12px}
.card .k{display:block;font-size:12px;color:var(--muted)}
.card .v{display:block;font-size:20px;font-weight:650;font-variant-numeric:tabular-nums}
.card.main{grid-column:span 2}
.card.main .v{font-size:24px}
.two{display:grid;grid-template-columns:1fr 1fr;gap:18px}
@media (max-width:760px){.two{grid-template-columns:1fr}}
svg.chart{display:block;width:100%;height:auto;overflow:visible;font-size:12px}
svg.chart text{fill:var(--fg)}
svg.chart text.axis,svg.chart text.muted{fill:var(--muted);font-size:11px}
svg.chart text.value{font-variant-numeric:tabular-nums;font-size:11px}
svg.chart line.grid{stroke:var(--grid);stroke-width:1}
svg.chart rect.track,svg.chart rect.track-part{fill:var(--track)}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;margin:8px 0 0;padding:0;list-style:none;font-size:12px}
.legend li{display:flex;align-items:center;gap:6px;overflow-wrap:anywhere}
.sw{display:inline-block;width:11px;height:11px;border-radius:2px;flex:none}
.legend .n{color:var(--muted);font-variant-numeric:tabular-nums}
table{border-collapse:collapse;width:100%;font-size:13px;font-variant-numeric:tabular-nums}
th,td{padding:4px 6px;border-bottom:1px solid var(--border);text-align:right;white-space:nowrap}
th{font-weight:600;color:var(--muted);white-space:normal;vertical-align:bottom}
th.dim,td.dim{text-align:left;white-space:normal;overflow-wrap:anywhere;min-width:12ch}
tfoot td{font-weight:650;border-bottom:0;border-top:2px solid var(--border)}
.scroll{overflow-x:auto}
.meters{display:grid;grid-template-columns:max-content 1fr max-content;gap:8px 14px;align-items:center}
.meter{display:contents}
.warn{color:var(--warn)}
footer{color:var(--muted);font-size:12px;margin-top:20px}
@media print{
 body{font-size:11px}
 main{max-width:none;padding:0}
 section{break-inside:avoid;page-break-inside:avoid;border-color:#ccc}
 .scroll{overflow:visible}
 *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
"""


def _variables(values: dict[str, str]) -> str:
    return ":root{" + ";".join(f"--{k}:{v}" for k, v in values.items()) + "}"


def stylesheet() -> str:
    """The whole stylesheet; the light theme is also forced for print."""
    swatches = "".join(f".{c}{{fill:var(--{c});background:var(--{c})}}" for c in CLASSES)
    return (
        _variables(LIGHT)
        + "\n@media (prefers-color-scheme: dark){"
        + _variables(DARK)
        + "}\n"
        + "@media print{"
        + _variables(LIGHT)
        + "}\n"
        + BASE
        + swatches
        + "\n"
    )
