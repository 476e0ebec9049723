"""A newcomer's first hour (issue #17, part A): no traceback and no silent success, through the real entry
point (tests/conftest.py run_cli): output paths, stores that are not there, skipped files, standard input and
output, dates, --version."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import SAMPLE_LOGS, run_cli

READING_COMMANDS = [("report",), ("rows",), ("verify",), ("status",), ("quarantine",), ("prices", "check"),
                    ("rollup",)]


@pytest.fixture
def ingested(isolated_store: Path) -> Path:
    result = run_cli("ingest", str(SAMPLE_LOGS), "--quiet")
    assert result.returncode == 0, result.stderr
    return isolated_store


def assert_clean_error(result, *, code: int, says: str, hint: str) -> None:  # noqa: ANN001 - CompletedProcess
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Error:" in result.stderr
    assert says in result.stderr, result.stderr
    assert f"Hint: {hint}" in result.stderr.replace("\n", " "), result.stderr


@pytest.mark.parametrize("command", READING_COMMANDS, ids=" ".join)
def test_a_mistyped_store_is_an_error_for_every_reading_command(ingested: Path, tmp_path: Path,
                                                                 command: tuple[str, ...]) -> None:
    typo = tmp_path / "stroe"
    result = run_cli(*command, "--store", str(typo))
    assert_clean_error(result, code=2, says=f"--store {typo}: no tokmeter store there", hint="check the path")
    assert "TOKMETER_STORE" in result.stderr and "the default store" in result.stderr
    assert not typo.exists()  # nothing was created there


def test_a_store_variable_naming_no_store_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "not-a-store"
    folder.mkdir()
    result = run_cli("verify", env={"TOKMETER_STORE": str(folder)})
    assert_clean_error(result, code=2, says=f"$TOKMETER_STORE ({folder}): no tokmeter store there",
                       hint="check the path")
    assert "ok:" not in result.stdout and list(folder.iterdir()) == []


def test_a_fresh_default_store_says_to_ingest_first_then_ingest_and_report_work(tmp_path: Path) -> None:
    env = {"TOKMETER_STORE": "", "XDG_DATA_HOME": str(tmp_path / "data"), "HOME": str(tmp_path)}
    before = run_cli("report", env=env)
    assert_clean_error(before, code=2, says="nothing has been ingested", hint="ingest captures first")
    assert run_cli("ingest", str(SAMPLE_LOGS), env=env).returncode == 0
    after = run_cli("report", "--by", "model", env=env)
    assert after.returncode == 0, after.stderr
    assert "claude-sonnet" in after.stdout


def test_an_ingest_that_found_nothing_still_makes_a_store(isolated_store: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_cli("ingest", str(empty), "--quiet").returncode == 0
    verified = run_cli("verify")
    assert verified.returncode == 0, verified.stderr
    assert "ok: every part matches the ledger" in verified.stdout


# ---- --version and dates ------------------------------------------------------------------------------
def test_version() -> None:
    from importlib.metadata import version

    result = run_cli("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"tokmeter {version('tokmeter')} (genai-prices {version('genai-prices')})"


@pytest.mark.parametrize(("args", "says"), [
    (("report", "--since", "2026-13-01"), "--since 2026-13-01: not a date; expected YYYY-MM-DD"),
    (("rows", "--until", "2026-02-30"), "--until 2026-02-30: not a date; expected YYYY-MM-DD"),
    (("prices", "check", "--since", "yesterday"), "--since yesterday: not a date; expected YYYY-MM-DD"),
    (("prices", "show", "gpt-4o", "--at", "2026-03-01T25:00"),
     "--at 2026-03-01T25:00: not a date; expected YYYY-MM-DD (or YYYY-MM-DDTHH:MM)"),
], ids=lambda value: value[0] if isinstance(value, tuple) else None)
def test_a_bad_date_is_refused_in_the_users_terms(ingested: Path, args: tuple[str, ...], says: str) -> None:
    result = run_cli(*args)
    assert_clean_error(result, code=2, says=says, hint=f"e.g. {args[-2]} 20")
    assert "%Y" not in result.stderr and "Usage:" not in result.stderr


def test_good_dates_still_filter(ingested: Path) -> None:
    import json

    whole = run_cli("report", "--format", "json")
    one_day = run_cli("report", "--format", "json", "--since", "2026-11-03", "--until", "2026-11-03")
    assert whole.returncode == one_day.returncode == 0, one_day.stderr
    total, part = (json.loads(r.stdout)["totals"]["requests"] for r in (whole, one_day))
    assert 0 < part < total
    shown = run_cli("prices", "show", "gpt-4o", "--at", "2026-03-01T10:00")
    assert shown.returncode == 0, shown.stderr
