"""A newcomer's first hour (issue #17, part A): no traceback and no silent success, through the real entry
point (tests/conftest.py run_cli): output paths, stores that are not there, skipped files, standard input and
output, dates, --version."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import SAMPLE_LOGS, run_cli

READING_COMMANDS = [
    ("report",),
    ("rows",),
    ("verify",),
    ("status",),
    ("quarantine",),
    ("prices", "check"),
    ("rollup",),
]


@pytest.fixture
def ingested(isolated_store: Path) -> Path:
    result = run_cli("ingest", str(SAMPLE_LOGS), "--quiet")
    assert result.returncode == 0, result.stderr
    return isolated_store


def assert_clean_error(result: subprocess.CompletedProcess[str], *, code: int, says: str, hint: str) -> None:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Error:" in result.stderr
    assert says in result.stderr, result.stderr
    assert f"Hint: {hint}" in result.stderr.replace("\n", " "), result.stderr


@pytest.mark.parametrize("command", READING_COMMANDS, ids=" ".join)
def test_a_mistyped_store_is_an_error_for_every_reading_command(
    ingested: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    typo = tmp_path / "stroe"
    result = run_cli(*command, "--store", str(typo))
    assert_clean_error(result, code=2, says=f"--store {typo}: no tokmeter store there", hint="check the path")
    assert "TOKMETER_STORE" in result.stderr and "the default store" in result.stderr
    assert not typo.exists()  # nothing was created there


def test_compact_on_no_store_merges_nothing_and_creates_nothing(ingested: Path, tmp_path: Path) -> None:
    typo = tmp_path / "stroe"
    compacted = run_cli("compact", "--store", str(typo))
    assert compacted.returncode == 0, compacted.stderr
    assert "compacted 0 partition(s)" in compacted.stderr
    assert not typo.exists()  # else the next report there would take it for an (empty) store
    assert run_cli("report", "--store", str(typo)).returncode == 2


def test_a_store_variable_naming_no_store_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "not-a-store"
    folder.mkdir()
    result = run_cli("verify", env={"TOKMETER_STORE": str(folder)})
    assert_clean_error(
        result, code=2, says=f"$TOKMETER_STORE ({folder}): no tokmeter store there", hint="check the path"
    )
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

    from tokmeter.config import settings
    from tokmeter.extract import accel

    result = run_cli("--version")
    assert result.returncode == 0, result.stderr
    expected = f"tokmeter {version('tokmeter')} (genai-prices {version('genai-prices')}; {accel.status(settings().no_accel)})"
    assert result.stdout.strip() == expected
    forced_off = run_cli("--version", env={"TOKMETER_NO_ACCEL": "1"})
    says = "accelerator not built" if not accel.BUILT else "accelerator off ($TOKMETER_NO_ACCEL)"
    assert forced_off.stdout.strip().endswith(f"; {says})")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("report", "--since", "2026-13-01"), "--since 2026-13-01: not a date; expected YYYY-MM-DD"),
        (("rows", "--until", "2026-02-30"), "--until 2026-02-30: not a date; expected YYYY-MM-DD"),
        (("prices", "check", "--since", "yesterday"), "--since yesterday: not a date; expected YYYY-MM-DD"),
        (
            ("prices", "show", "gpt-4o", "--at", "2026-03-01T25:00"),
            "--at 2026-03-01T25:00: not a date; expected YYYY-MM-DD (or YYYY-MM-DDTHH:MM)",
        ),
    ],
    ids=lambda value: value[0] if isinstance(value, tuple) else None,
)
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


# ---- output paths -------------------------------------------------------------------------------------
OUTPUTS = [("report", "--format", fmt) for fmt in ("table", "json", "csv", "parquet", "html")] + [
    ("report", "--chart"),
    *(("rows", "--format", fmt) for fmt in ("table", "jsonl", "csv", "parquet")),
]


@pytest.mark.parametrize("args", OUTPUTS, ids=" ".join)
def test_output_into_a_missing_folder_or_a_folder_is_a_clean_error(
    ingested: Path, tmp_path: Path, args: tuple[str, ...]
) -> None:
    missing = tmp_path / "no-such-folder" / "out"
    result = run_cli(*args, "--output", str(missing))
    assert_clean_error(
        result,
        code=2,
        says=f"the folder {missing.parent} does not exist",
        hint=f"create it first (mkdir -p {missing.parent})",
    )
    assert not missing.parent.exists()
    folder = run_cli(*args, "--output", str(tmp_path))
    assert_clean_error(
        folder,
        code=2,
        says=f"--output {tmp_path}: is a folder, not a file",
        hint=f"name a file in it, e.g. --output {tmp_path}/",
    )


@pytest.mark.parametrize(
    "args",
    [("report", "--format", "json"), ("rows", "--format", "csv"), ("report", "--format", "html")],
    ids=" ".join,
)
def test_dash_is_standard_output(ingested: Path, tmp_path: Path, args: tuple[str, ...]) -> None:
    to_file = tmp_path / "out"
    assert run_cli(*args, "--output", str(to_file)).returncode == 0
    dashed = run_cli(*args, "--output", "-")
    assert dashed.returncode == 0, dashed.stderr
    if args[-1] == "html":  # the page says when it was made
        assert dashed.stdout.startswith("<!doctype html>") and dashed.stdout.rstrip().endswith("</html>")
    else:
        assert dashed.stdout == to_file.read_text()
    assert not (tmp_path / "-").exists()


def test_parquet_to_a_pipe(ingested: Path, tmp_path: Path) -> None:
    import io
    import sys

    import polars as pl

    to_file = tmp_path / "rows.parquet"
    assert run_cli("rows", "--format", "parquet", "--output", str(to_file)).returncode == 0
    piped = subprocess.run(
        [sys.executable, "-m", "tokmeter", "rows", "--format", "parquet", "-o", "-"],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert piped.returncode == 0, piped.stderr
    assert pl.read_parquet(io.BytesIO(piped.stdout)).equals(pl.read_parquet(to_file))


def test_prometheus_textfile_needs_its_folder_and_dash_prints_it(ingested: Path, tmp_path: Path) -> None:
    collector = tmp_path / "textfile_collector"
    result = run_cli("rollup", "--prometheus", str(collector / "tokmeter.prom"))
    assert_clean_error(result, code=2, says=f"the folder {collector} does not exist", hint="create it first")
    assert not collector.exists()
    assert run_cli("rollup", "--prometheus", str(tmp_path)).returncode == 2
    printed = run_cli("rollup", "--quiet", "--prometheus", "-")
    assert printed.returncode == 0, printed.stderr
    collector.mkdir()
    assert run_cli("rollup", "--quiet", "--prometheus", str(collector / "tokmeter.prom")).returncode == 0

    def metrics(text: str) -> list[str]:  # the timestamps differ between the runs
        return [line for line in text.splitlines() if "_timestamp_seconds" not in line and "lag" not in line]

    assert metrics(printed.stdout) == metrics((collector / "tokmeter.prom").read_text())
    assert "tokmeter_tokens_total" in printed.stdout


def test_rollup_output_folder_is_created_and_said_but_not_its_parent(ingested: Path, tmp_path: Path) -> None:
    deep = tmp_path / "a" / "rollups"
    result = run_cli("rollup", "--output", str(deep))
    assert_clean_error(
        result, code=2, says=f"the folder {deep.parent} does not exist", hint="create it first"
    )
    assert not deep.parent.exists()
    made = run_cli("rollup", "--output", str(tmp_path / "rollups"))
    assert made.returncode == 0, made.stderr
    assert f"created the folder {tmp_path / 'rollups'}" in made.stderr
    assert any((tmp_path / "rollups").iterdir())
    (tmp_path / "a-file").write_text("")
    assert_clean_error(
        run_cli("rollup", "--output", str(tmp_path / "a-file")),
        code=2,
        says="is a file, not a folder",
        hint="name a folder",
    )


# ---- ingest: what was skipped, --include / --format, standard input -------------------------------------
GATEWAY = SAMPLE_LOGS / "gateway-2026-11.jsonl"


@pytest.fixture
def log_folder(tmp_path: Path) -> Path:
    """Capture logs named *.log (one in a subfolder), a README, a hidden file and a sidecar."""
    folder = tmp_path / "logs"
    (folder / "older").mkdir(parents=True)
    (folder / "proxy.log").write_bytes(GATEWAY.read_bytes())
    (folder / "older" / "proxy-1.log").write_bytes(GATEWAY.read_bytes())
    (folder / "README").write_text("captures of the staging proxy\n")
    (folder / ".proxy.log.swp").write_text("")
    (folder / "stream.meta.json").write_text("{}")
    return folder


def test_skipped_files_are_named_with_why_and_the_fix(isolated_store: Path, log_folder: Path) -> None:
    done = run_cli("ingest", str(log_folder))
    assert done.returncode == 0, done.stderr
    assert "files              0" in done.stdout
    assert (
        "skipped            3 files: not a capture file name (2 *.log, 1 README); use --include '*.log' "
        "or --format FORMAT"
    ) in done.stdout
    assert "swp" not in done.stdout and "meta.json" not in done.stdout  # never meant as captures: not listed


def run_totals(store: Path) -> dict:
    import json

    report = run_cli("report", "--format", "json", "--store", str(store))
    assert report.returncode == 0, report.stderr
    return json.loads(report.stdout)["totals"]


def test_include_and_format_give_the_rows_of_the_logs_read_directly(
    isolated_store: Path, log_folder: Path, tmp_path: Path
) -> None:
    direct = tmp_path / "direct"
    assert run_cli("ingest", str(GATEWAY), "--quiet", "--store", str(direct)).returncode == 0
    included = tmp_path / "included"
    done = run_cli("ingest", str(log_folder), "--include", "*.log", "--store", str(included))
    assert done.returncode == 0, done.stderr
    assert "files              2" in done.stdout
    assert "skipped            1 file: not matching --include (README)" in done.stdout
    (log_folder / "README").unlink()  # --format reads every file of the folder as that format
    formatted = tmp_path / "formatted"
    done = run_cli("ingest", str(log_folder), "--format", "capture-log", "--store", str(formatted))
    assert done.returncode == 0, done.stderr
    assert "files              2" in done.stdout and "skipped" not in done.stdout
    assert run_totals(included) == run_totals(formatted) == run_totals(direct)


def test_exclude_in_plain_ingest(isolated_store: Path, log_folder: Path) -> None:
    done = run_cli("ingest", str(log_folder), "--include", "*.log", "--exclude", "older/*")
    assert done.returncode == 0, done.stderr
    assert "files              1" in done.stdout


def test_standard_input_is_a_capture_log_stream(isolated_store: Path, tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    direct = tmp_path / "direct"
    assert run_cli("ingest", str(GATEWAY), "--quiet", "--store", str(direct)).returncode == 0
    with GATEWAY.open("rb") as stdin:
        piped = subprocess.run(
            [sys.executable, "-m", "tokmeter", "ingest", "-"],
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert piped.returncode == 0, piped.stderr
    assert "files              1" in piped.stdout and "<stdin>:6: not valid JSON" in piped.stdout
    assert run_totals(isolated_store) == run_totals(direct)
    rows = run_cli("rows", "--format", "jsonl").stdout.splitlines()
    assert {json.loads(row)["source"] for row in rows} == {"<stdin>"}


def test_standard_input_with_a_format(isolated_store: Path) -> None:
    import subprocess
    import sys

    [sse] = sorted((SAMPLE_LOGS / "responses").glob("*.sse"))
    with sse.open("rb") as stdin:
        piped = subprocess.run(
            [sys.executable, "-m", "tokmeter", "ingest", "--format", "sse", "-"],
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert piped.returncode == 0, piped.stderr
    assert "captures           1  (1 sse)" in piped.stdout and "rows written       1" in piped.stdout
    refused = run_cli("ingest", "--follow", "-")
    assert_clean_error(refused, code=2, says="standard input (-) is read by plain ingest", hint="e.g.")


# ---- estimated rows among the duplicates ----------------------------------------------------------------
def test_ingest_and_report_explain_estimated_duplicates(isolated_store: Path, tmp_path: Path) -> None:
    import json
    import re

    done = run_cli("ingest", str(SAMPLE_LOGS))
    assert done.returncode == 0, done.stderr
    streams = int(re.search(r"estimated usage +([\d,]+) stream", done.stdout)[1])
    copies = int(
        re.search(
            r"([\d,]+) of them (?:was a copy|were copies) of a request already counted, dropped as "
            r"duplicates \(the report counts each request once\)",
            done.stdout,
        )[1]
    )
    report = json.loads(run_cli("report", "--format", "json").stdout)["totals"]
    assert copies > 0 and report["estimated_requests"] == streams - copies
    table = run_cli("report", "--by", "model")
    assert (
        f"Estimated requests: {report['estimated_requests']}, usage counted offline, once per request"
        in table.stdout.replace("\n", " ")
    )
    again = run_cli("ingest", str(SAMPLE_LOGS))  # every copy is a duplicate now
    assert f"{streams} of them were copies of a request already counted" in again.stdout
