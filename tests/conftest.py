"""Shared fixtures: every test gets its own store through TOKMETER_STORE, its own cache directory
(remote-store mirrors, the price memo) through TOKMETER_CACHE, and a pinned Rich width."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE_LOGS = REPO / "sample_logs"
REAL_CAPTURES = REPO.parent / "shared" / "real-captures"


@pytest.fixture(autouse=True)
def isolated_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    store = tmp_path / "store"
    monkeypatch.setenv("TOKMETER_STORE", str(store))
    monkeypatch.setenv("TOKMETER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("TOKMETER_DEBUG", raising=False)
    return store


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):  # noqa: ANN201
    """Run the real console entry point in a subprocess (python -m tokmeter)."""
    import subprocess

    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "tokmeter", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=120,
    )
