"""Per-day token totals of tokmeter and ccusage on the same coding-agent logs, side by side.

    python bench/ccusage_compare.py                      # the test fixture (tests/data/transcripts/claude)
    python bench/ccusage_compare.py ~/.claude            # your own transcripts
    python bench/ccusage_compare.py DIR --ccusage PATH   # a given ccusage binary
    python bench/ccusage_compare.py ~/.gemini/tmp --agent gemini   # another agent's data directory

With --agent NAME, DIR is what that agent's variable names (``ingest --agent`` lists them in the README's
agent table: $GEMINI_DATA_DIR, $OPENCODE_DATA_DIR, ...): both tools read it through that variable, ccusage
as ``ccusage <agent> daily``. tokmeter's output is compared without the reasoning an agent counts apart
from it (ccusage leaves it out of ``outputTokens``); the README's agent table lists the differences that
remain on purpose.

DIR is a Claude Code config directory (holding ``projects/``) or a ``projects/`` directory. ccusage is
taken from --ccusage, else $TOKMETER_CCUSAGE, else ``ccusage`` on PATH if it is version 20.0.24, else
installed with npm into a temporary directory. It runs as ``ccusage daily --json --offline --timezone
UTC`` with CLAUDE_CONFIG_DIR=DIR and an empty HOME (so no other agent's logs are read); tokmeter
ingests DIR into a temporary store and reports ``--by day``.

ccusage's ``inputTokens`` excludes the cache, tokmeter's ``input_tokens`` includes it: the comparison
uses input - cache_read - cache_write. Exit status 0 when every day agrees, 1 when one differs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CCUSAGE_VERSION = "20.0.24"
FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "data" / "transcripts" / "claude"
FIELDS = ("input", "output", "cache_write", "cache_read")
INSIDE = ("codex", "qwen", "copilot")  # agents whose output count includes reasoning, as ccusage reads it too


def find_ccusage(explicit: str | None, scratch: Path) -> str | None:
    """A ccusage binary of the pinned version, installing it with npm when it has to (None: cannot)."""
    for candidate in (explicit, os.environ.get("TOKMETER_CCUSAGE"), shutil.which("ccusage")):
        if candidate and _version(candidate) == CCUSAGE_VERSION:
            return candidate
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        return None
    scratch.mkdir(parents=True, exist_ok=True)
    installed = scratch / "node_modules" / ".bin" / "ccusage"
    if not installed.exists():
        done = subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(scratch),
                "--no-audit",
                "--no-fund",
                f"ccusage@{CCUSAGE_VERSION}",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            return None
    return str(installed) if _version(str(installed)) == CCUSAGE_VERSION else None


def _version(binary: str) -> str | None:
    try:
        done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    words = done.stdout.split()
    return words[-1].lstrip("v") if words else None


def _environment(agent: str, data_dir: Path, home: Path) -> dict[str, str]:
    """This environment without any agent's variable, with HOME empty and the agent's variable naming DIR."""
    from tokmeter.sources.agents import AGENTS

    others = {entry.env for entry in AGENTS.values()}
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in others and not key.startswith(("CLAUDE_", "CODEX_", "XDG_"))
    }
    env.update(HOME=str(home), NO_COLOR="1")
    env[AGENTS[agent].env] = str(data_dir)
    return env


def ccusage_daily(
    binary: str, claude_dir: Path, home: Path, agent: str = "claude-code"
) -> dict[str, dict[str, int]]:
    env = _environment(agent, claude_dir, home)
    command = ["daily"] if agent == "claude-code" else [agent, "daily"]
    done = subprocess.run(
        [binary, *command, "--json", "--offline", "--timezone", "UTC"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    )
    return {
        row.get("period") or row["date"]: {
            "input": row["inputTokens"],
            "output": row["outputTokens"],
            "cache_write": row["cacheCreationTokens"],
            "cache_read": row["cacheReadTokens"],
        }
        for row in json.loads(done.stdout)["daily"]
    }


def tokmeter_daily(
    claude_dir: Path, store: Path, agent: str = "claude-code", home: Path | None = None
) -> dict[str, dict[str, int]]:
    command = [sys.executable, "-m", "tokmeter"]
    env = _environment(agent, claude_dir, home or store.parent)
    env["PYTHONPATH"] = os.environ.get("PYTHONPATH", "")
    subprocess.run(
        [*command, "ingest", "--agent", agent, "--store", str(store), "--quiet"],
        check=True,
        timeout=600,
        env=env,
    )
    done = subprocess.run(
        [*command, "report", "--by", "day", "--format", "json", "--store", str(store)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return {
        row["day"]: {
            "input": row["input_tokens"] - row["cache_read_tokens"] - row["cache_write_tokens"],
            "output": row["output_tokens"] - (0 if agent in INSIDE else row.get("reasoning_tokens") or 0),
            "cache_write": row["cache_write_tokens"],
            "cache_read": row["cache_read_tokens"],
        }
        for row in json.loads(done.stdout)["rows"]
    }


def compare(ours: dict[str, dict[str, int]], theirs: dict[str, dict[str, int]]) -> list[str]:
    """One line per day; lines of days that differ start with '!'."""
    lines = []
    for day in sorted(set(ours) | set(theirs)):
        a, b = ours.get(day), theirs.get(day)
        same = a == b
        show = " ".join(f"{f}={(a or {}).get(f, '-')}/{(b or {}).get(f, '-')}" for f in FIELDS)
        lines.append(f"{' ' if same else '!'} {day}  {show}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("claude_dir", nargs="?", type=Path, default=FIXTURE)
    parser.add_argument("--ccusage", help=f"path to a ccusage {CCUSAGE_VERSION} binary")
    parser.add_argument("--agent", default="claude-code", help="the agent whose logs DIR holds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ccusage-compare-") as tmp:
        scratch = Path(tmp)
        binary = find_ccusage(args.ccusage, scratch / "npm")
        if binary is None:
            print(f"no ccusage {CCUSAGE_VERSION}: install node and npm, or pass --ccusage", file=sys.stderr)
            return 2
        (scratch / "home").mkdir()
        theirs = ccusage_daily(binary, args.claude_dir.absolute(), scratch / "home", args.agent)
        ours = tokmeter_daily(args.claude_dir.absolute(), scratch / "store", args.agent, scratch / "home")
    lines = compare(ours, theirs)
    print("day         tokmeter/ccusage per field (input excludes the cache)")
    print("\n".join(lines))
    differing = sum(line.startswith("!") for line in lines)
    print("equal on every day" if not differing else f"{differing} day(s) differ")
    return 1 if differing else 0


if __name__ == "__main__":
    raise SystemExit(main())
