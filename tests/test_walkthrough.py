"""A newcomer's first hour: the README's commands, in the README's order, on a fresh store.

First the tokmeter commands of the README's first set-up command (on sample_logs/), then every command
line of the Commands section's bash blocks, run by bash as written (an 80-column terminal), with the
README's paths mapped to local copies: /var/log/llm-proxy/ is a copy of sample_logs/, /srv/tokmeter the
fresh store, ~ a home holding the agent-log fixtures and the README's own price file and attribution
example, the clone a key.txt for tokmeter fingerprint, the bill exports the README names
(tests/data/bills) and its budgets file, and every http(s) URL a local server that answers 200. Left
out: the --follow lines (they run until stopped; tests/test_follow.py runs them). Any traceback fails, so does
an ellipsis in the output (a cut number or id), a failing exit, and an exit 0 that printed and wrote
nothing (unless --quiet asked for silence).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import polars as pl
import pytest

from conftest import REPO, SAMPLE_LOGS

README = (REPO / "README.md").read_text()
TRANSCRIPTS = REPO / "tests" / "data" / "transcripts"
BILLS = REPO / "tests" / "data" / "bills"
# exits 1 when a model has no price, 8 when the metered share of a bill is under --fail-under: what cron
# alerts on
MAY_FAIL = {"prices check": 1, "reconcile": 8}


def setup_commands() -> list[str]:
    block = README.split("## Set-up")[1].split("```bash")[1].split("```")[0]
    first = next(line for line in block.splitlines() if "tokmeter ingest" in line)
    return [part.strip().removeprefix(".venv/bin/") for part in first.split("&&") if "tokmeter " in part]


def command_lines() -> list[str]:
    section = README.split("\n## Commands")[1].split("\n## ")[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    return [line.strip() for block in blocks for line in block.splitlines() if line.startswith("tokmeter ")]


def price_file() -> str:
    return README.split("### Price file")[1].split("```toml\n")[1].split("```")[0]


def budgets_file() -> str:
    return README.split("### `tokmeter budgets`")[1].split("```toml\n")[1].split("```")[0]


def bill_exports(folder: Path) -> None:
    """The bill exports under the names the README gives them (one JSON page per line in .jsonl)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(BILLS / "openai-costs.jsonl", folder / "openai-costs.jsonl")
    usage = (BILLS / "openai-usage-completions.json").read_text()
    (folder / "openai-usage.jsonl").write_text(" ".join(usage.split()) + "\n")
    for name in ("anthropic-usage-report.json", "anthropic-cost-report.json"):
        shutil.copy(BILLS / name, folder / name)
    pl.read_csv(BILLS / "aws-cur2-bedrock.csv", infer_schema=False).write_parquet(
        folder / "cur-2026-11.parquet"
    )
    shutil.copy(BILLS / "gcp-billing-export.jsonl", folder / "gcp-2026-11.jsonl")


def key_files() -> dict[str, str]:
    """The README's [[key]] example (keys.toml, for reconcile --by api_key) and a key-ids.csv it names."""
    block = README.split("**By API key.**")[1].split("```toml\n")[1].split("```")[0]
    return {
        "keys.toml": block,
        "key-ids.csv": "provider_key_id,fingerprint\napikey_01x,sha256:9a8b7c6d5e4f\n",
    }


class _Accept(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


def attribution_files() -> dict[str, str]:
    """The README's charge-back example: its rules file (teams.toml) and key table (keys.csv)."""
    section = README.split("## Who spent it")[1].split("\n## ")[0]
    rules = next(b for b in section.split("```toml\n")[1:] if b.startswith("# teams.toml")).split("```")[0]
    return {"teams.toml": rules, "keys.csv": section.split("```csv\n")[1].split("```")[0]}


@pytest.fixture
def local_server() -> Iterator[str]:
    """A local HTTP server answering every POST with 200: the README's webhooks and collectors."""
    server = HTTPServer(("127.0.0.1", 0), _Accept)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def newcomer(tmp_path: Path, isolated_store: Path, local_server: str) -> dict[str, Path]:
    """A clone (with sample_logs/), a home (agent logs, a price file) and the stand-ins for README paths."""
    clone, home = tmp_path / "clone", tmp_path / "home"
    shutil.copytree(SAMPLE_LOGS, clone / "sample_logs")
    proxy = tmp_path / "llm-proxy"
    shutil.copytree(SAMPLE_LOGS, proxy)
    (proxy / "gateway-2026-11.jsonl").rename(proxy / "gateway.jsonl")
    (clone / "captures").mkdir()
    shutil.copy(SAMPLE_LOGS / "responses" / "an-cut.sse", clone / "captures" / "stream-without-suffix.txt")
    shutil.copytree(TRANSCRIPTS / "claude" / "projects", home / ".claude" / "projects")
    shutil.copytree(TRANSCRIPTS / "codex" / "sessions", home / ".codex" / "sessions")
    (home / "finance").mkdir()
    for where in (home / "finance" / "prices.toml", clone / "prices.toml"):
        where.write_text(price_file())
    for name, text in attribution_files().items():
        (home / "finance" / name).write_text(text)
    (clone / "key.txt").write_text("sk-walkthrough-0123456789abcdef\n")  # for tokmeter fingerprint < key.txt
    (tmp_path / "textfile_collector").mkdir()
    bill_exports(clone)
    for name, text in key_files().items():
        (clone / name).write_text(text)
    bill_exports(tmp_path / "bills" / "2026-11")
    (clone / "team-budgets.toml").write_text(budgets_file())
    (home / ".config" / "tokmeter").mkdir(parents=True)  # the budgets go in the config file, as it says
    (home / ".config" / "tokmeter" / "config.toml").write_text(budgets_file())
    return {
        "clone": clone,
        "home": home,
        "proxy": proxy,
        "store": isolated_store,
        "tmp": tmp_path,
        "server": Path(local_server),  # a URL, kept beside the paths
    }


def localize(line: str, paths: dict[str, Path]) -> str:
    line = line.replace("/var/log/llm-proxy/", f"{paths['proxy']}/").replace(
        "/srv/tokmeter", str(paths["store"])
    )
    line = line.replace("/var/lib/node_exporter/textfile_collector/", f"{paths['tmp']}/textfile_collector/")
    line = line.replace("/var/lib/node_exporter/", f"{paths['tmp']}/textfile_collector/")
    line = line.replace("/srv/bills/", f"{paths['tmp']}/bills/")
    line = re.sub(r"https?://(?!127\.0\.0\.1)[a-z0-9.-]+(:\d+)?", _server_url(paths), line)
    return re.sub(r" \| jq .*$", "", line)  # the README pipes into jq; the walkthrough checks tokmeter's part


def _server_url(paths: dict[str, Path]) -> str:
    return str(paths["server"]).replace("http:/", "http://", 1)


def run_line(line: str, paths: dict[str, Path]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(paths["home"]), "COLUMNS": "80"}
    if env.get("PYTHONPATH"):  # the commands run in the clone: a relative entry (src) must still point here
        env["PYTHONPATH"] = os.pathsep.join(
            str(Path(p).resolve()) for p in env["PYTHONPATH"].split(os.pathsep)
        )
    for name in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "TOKMETER_CLAUDE_CODE_USER", "XDG_CONFIG_HOME"):
        env.pop(name, None)
    script = f'tokmeter() {{ "{sys.executable}" -m tokmeter "$@"; }}\n{line}'
    return subprocess.run(
        ["bash", "-c", script],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=paths["clone"],
        timeout=180,
    )


def wrote_something(line: str, result: subprocess.CompletedProcess[str], paths: dict[str, Path]) -> bool:
    if result.stdout.strip() or result.stderr.strip():
        return True
    written = re.findall(r"--(?:output|prometheus) (\S+)", line)
    return any(
        (paths["clone"] / file).is_file() and (paths["clone"] / file).stat().st_size for file in written
    )


def test_the_readme_commands_in_order(newcomer: dict[str, Path]) -> None:
    lines = setup_commands() + [line for line in command_lines() if "--follow" not in line]
    assert len(lines) > 25 and lines[0].startswith("tokmeter ingest sample_logs/")
    for line in lines:
        local = localize(line, newcomer)
        result = run_line(local, newcomer)
        where = f"{line}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        assert "Traceback" not in result.stderr + result.stdout, where
        fingerprint = local.startswith("tokmeter fingerprint")  # sk-…abcd: a key's fingerprint, not a cut
        assert fingerprint or "…" not in result.stdout, where
        command = " ".join(local.split()[1:3]) if local.startswith("tokmeter prices") else local.split()[1]
        assert result.returncode in (0, MAY_FAIL.get(command, 0)), where
        if result.returncode == 0 and " --quiet" not in line:
            assert wrote_something(local, result, newcomer), where
    assert (newcomer["tmp"] / "textfile_collector" / "tokmeter.prom").stat().st_size
