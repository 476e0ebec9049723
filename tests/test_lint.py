"""The code's own checks, run by the suite (so `.ci/run`, the README's test command, runs them too):
`ruff check` on the sources with the rule set of pyproject.toml, `ruff format --check` on sources, tests
and benchmarks, and `mypy` with its configuration (disallow untyped defs in src)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    found = BIN / name if (BIN / name).exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (the test extra installs it)")
    return str(found)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)


def test_ruff_check_is_clean_on_the_sources() -> None:
    result = _run(_tool("ruff"), "check", "src")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_code_is_formatted() -> None:
    result = _run(_tool("ruff"), "format", "--check", "src", "tests", "bench")
    assert result.returncode == 0, "run: ruff format src tests bench\n" + result.stdout + result.stderr


def test_mypy_is_clean() -> None:
    result = _run(_tool("mypy"))
    assert result.returncode == 0, result.stdout + result.stderr
