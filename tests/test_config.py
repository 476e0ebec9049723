"""Configuration in one place: every environment variable tokmeter reads is in config.ENV_VARS, none is
read at import time, and each reaches the stage that uses it (flag > variable > config file > default)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import REPO, SAMPLE_LOGS, run_cli
from tokmeter.capture import Capture
from tokmeter.config import ENV_VARS, Settings, settings
from tokmeter.errors import ConfigError

SRC = REPO / "src" / "tokmeter"


def test_every_variable_read_in_the_code_is_listed() -> None:
    named = {m for path in SRC.rglob("*.py") for m in re.findall(r"TOKMETER_[A-Z_]*[A-Z]", path.read_text())}
    assert named == {var.name for var in ENV_VARS}


# The Claude Code user is being turned into an explicit argument in sources/claude_code.py (issue #18).
NOT_YET: set[str] = set()
# their variables, not ours (agent.env: each coding agent's own, sources/agents.py)
OTHER_PROGRAMS = ("JAVA_HOME", "COLUMNS", "CLAUDE_CONFIG_ENV", "CODEX_HOME_ENV", "agent.env")


def test_nothing_reads_a_tokmeter_variable_but_config() -> None:
    reads = [
        f"{path.name}: {line.strip()}"
        for path in SRC.rglob("*.py")
        if path.name != "config.py" and path.name not in NOT_YET
        for line in path.read_text().splitlines()
        if re.search(r"environ\.get\(|getenv\(", line) and not any(name in line for name in OTHER_PROGRAMS)
    ]
    assert reads == []


def test_defaults_and_empty_values() -> None:
    environ = {"TOKMETER_WORKERS": "", "TOKMETER_UMASK": "", "TOKMETER_PRICE_MEMO": ""}
    assert Settings.from_env(environ) == Settings()
    assert Settings.from_env({}) == Settings()


def test_values_are_typed() -> None:
    got = Settings.from_env(
        {
            "TOKMETER_UMASK": "022",
            "TOKMETER_WORKERS": "3",
            "TOKMETER_MAX_LINE_BYTES": "1000",
            "TOKMETER_PRICE_MEMO": "0",
            "TOKMETER_DEBUG": "1",
            "TOKMETER_STORE": "s3://bucket/prefix",
            "TOKMETER_CACHE": "~/c",
        }
    )
    assert (got.umask, got.workers, got.max_line_bytes) == (0o022, 3, 1000)
    assert (got.price_memo, got.debug) == (False, True)
    assert got.store == "s3://bucket/prefix"  # a URL stays as given
    assert got.cache == Path("~/c").expanduser()


@pytest.mark.parametrize("name, value", [("TOKMETER_WORKERS", "many"), ("TOKMETER_UMASK", "999")])
def test_a_bad_number_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"\\${name}={value}") as caught:
        Settings.from_env({name: value})
    assert name in caught.value.hint


def test_settings_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKMETER_MAX_LINE_BYTES", "1234")
    first = settings()
    assert first.max_line_bytes == 1234 and settings() is first  # read once
    monkeypatch.setenv("TOKMETER_MAX_LINE_BYTES", "4321")
    assert settings().max_line_bytes == 4321  # read again when a variable changed


def test_a_bad_variable_is_one_message_with_a_hint() -> None:
    result = run_cli("ingest", str(SAMPLE_LOGS), env={"TOKMETER_CHUNK_BYTES": "32M"})
    assert result.returncode == 2, result.stderr
    assert "TOKMETER_CHUNK_BYTES=32M" in result.stderr and "Hint:" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_variable_set_after_import_applies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing is read at import time: a limit set after the modules are imported is the one used."""
    from tokmeter.sources.capture_log import read_capture_log

    line = b'{"body": "' + b"x" * 200 + b'"}\n'
    log = tmp_path / "captures.jsonl"
    log.write_bytes(line)
    monkeypatch.setenv("TOKMETER_MAX_LINE_BYTES", "100")
    with log.open("rb") as handle:
        (bad,) = list(read_capture_log(handle, str(log), None))
    assert "longer than 100 bytes" in bad.reason
    monkeypatch.setenv("TOKMETER_MAX_LINE_BYTES", str(len(line) * 2))
    with log.open("rb") as handle:
        (read,) = list(read_capture_log(handle, str(log), None))
    assert isinstance(read, Capture)
