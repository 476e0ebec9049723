"""The README stays true to the code: schema table, every command, the set-up commands, .ci/run."""

from __future__ import annotations

import re

from conftest import REPO, run_cli

from tokmeter.schema import markdown_table

README = (REPO / "README.md").read_text()


def test_schema_table_is_the_schema() -> None:
    assert markdown_table() in README


def test_every_command_is_documented() -> None:
    listed = run_cli("--help").stdout
    commands = re.findall(r"^│ (\w+)\s{2,}", listed, flags=re.M)
    assert commands, listed
    for command in commands:
        assert f"### `tokmeter {command}" in README, command


def test_ci_runs_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    command = next(line for line in ci.splitlines() if "pytest" in line).strip()
    assert command in README


def test_readme_main_job_runs_on_sample_logs() -> None:
    assert "tokmeter ingest sample_logs/" in README and "tokmeter report --by model" in README
