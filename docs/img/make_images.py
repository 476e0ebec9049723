"""Re-make the README's pictures from the bundled sample captures, offline:

- ``report.png``: ``tokmeter report --by model --format html``, as headless Chromium draws it;
- ``chart.png``: ``tokmeter report --by day --by model --chart`` on a colour terminal (Rich's HTML export of
  the ANSI output, drawn by Chromium).

Run from the repository root: ``.venv/bin/python docs/img/make_images.py`` (needs ``chromium``). It uses
the DevTools client of the tests (``tests/cdp.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.terminal_theme import MONOKAI
from rich.text import Text

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "tests"))

from cdp import Chromium, chromium_path


def tokmeter(store: Path, *args: str, env: dict[str, str] | None = None) -> str:
    full_env = {**os.environ, "TOKMETER_STORE": str(store), **(env or {})}
    return subprocess.run([sys.executable, "-m", "tokmeter", *args], check=True, capture_output=True, text=True,
                          env=full_env).stdout


def terminal_page(ansi: str, path: Path) -> None:
    console = Console(record=True, width=100, force_terminal=True, color_system="truecolor",
                      file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(Text.from_ansi(ansi), soft_wrap=True)
    html = console.export_html(theme=MONOKAI, inline_styles=True)
    path.write_text(html.replace("<body", '<body style="margin:0;padding:14px 18px;background:#272822"', 1))


def main() -> None:
    browser_path = chromium_path()
    if browser_path is None:
        sys.exit("chromium is needed: apt-get install chromium")
    with tempfile.TemporaryDirectory() as tmp:
        store, work = Path(tmp) / "store", Path(tmp)
        tokmeter(store, "ingest", str(REPO / "sample_logs"))
        tokmeter(store, "report", "--by", "model", "--format", "html", "--output", str(work / "report.html"))
        chart = tokmeter(store, "report", "--by", "day", "--by", "model", "--chart",
                         env={"FORCE_COLOR": "1", "COLORTERM": "truecolor", "COLUMNS": "100"})
        terminal_page(chart, work / "chart.html")
        with Chromium(browser_path) as browser:
            browser.open(work / "report.html", width=1100, height=900)
            browser.screenshot(HERE / "report.png")
            browser.open(work / "chart.html", width=1010, height=200)
            browser.screenshot(HERE / "chart.png")
    print(f"wrote {HERE / 'report.png'} and {HERE / 'chart.png'}")


if __name__ == "__main__":
    main()
