"""reconcile --by api_key (issue #22 follow-up): the bill's key ids (OpenAI ``key_...``, Anthropic
``apikey_...``) meet the store's fingerprints through the attribution file's ``[[key]]`` tables; keys no
table maps stay groups of their own, named as such."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from conftest import run_cli
from test_reconcile import FILES, ROWS, usage_row
from tokmeter.attribution import load_attribution
from tokmeter.errors import ConfigError
from tokmeter.extract.attribution import fingerprint_key, key_digest
from tokmeter.reconcile.result import reconcile
from tokmeter.schema import polars_schema
from tokmeter.store.local import Store

ALICE = fingerprint_key("sk-proj-canary-alice-0000000000000001")
BOB = fingerprint_key("sk-ant-api03-canary-bob-00000000000002")
CAROL = fingerprint_key("sk-proj-canary-carol-0000000000000003")
KEY_OF = {"o1": ALICE, "o2": ALICE, "o3": ALICE, "o4": ALICE, "a1": BOB, "a2": BOB}


@pytest.fixture
def keyed_store(isolated_store: Path) -> Store:
    rows = [r | {"api_key": KEY_OF.get(r["request_id"])} for r in ROWS]
    rows.append(usage_row("o5", 1, "openai", "gpt-4o-2024-08-06", api_key=CAROL))  # a key no table maps
    store = Store(isolated_store)
    with store.writing():
        store.commit(pl.DataFrame(rows, schema=polars_schema()))
    return store


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    (tmp_path / "anthropic-keys.csv").write_text(
        f"provider_key_id,fingerprint\napikey_01Rj2N8SVvo6BePZj99NhmiT,{key_digest(BOB)}\n"
    )
    path = tmp_path / "keys.toml"
    path.write_text(
        f'[[key]]\nfingerprint = "{ALICE}"\nprovider_key_id = "key_abc"\n\n[[key]]\nmap = "anthropic-keys.csv"\n'
    )
    return path


def _rows(result, day: str, provider: str, key: str | None) -> list[dict]:
    return [
        r
        for r in result.rows.iter_rows(named=True)
        if (r["day"], r["provider"], r["api_key"]) == (day, provider, key)
    ]


def test_key_ids_meet_fingerprints_through_the_key_table(keyed_store: Store, key_file: Path) -> None:
    result = reconcile(keyed_store, FILES, by=["api_key"], attribution=load_attribution(key_file))
    assert result.dims == ["day", "provider", "model", "api_key", "api_key_id"]
    (alice,) = _rows(result, "2026-11-01", "openai", ALICE)
    assert alice["api_key_id"] == "key_abc" and alice["reasons"] == []
    assert alice["billed_requests"] == alice["metered_requests"] == 2
    assert alice["billed_input_tokens"] == alice["metered_input_tokens"] == 1000 + 3000
    flex = [r for r in _rows(result, "2026-11-03", "openai", ALICE) if r["billed_requests"]]
    assert [r["metered_requests"] for r in flex] == [2]

    (bob,) = [r for r in _rows(result, "2026-11-01", "anthropic", BOB) if "sonnet" in r["model"]]
    assert bob["api_key_id"] == "apikey_01Rj2N8SVvo6BePZj99NhmiT"  # through the CSV map's digest
    assert bob["billed_input_tokens"] and bob["metered_input_tokens"] == 5000 + 2000

    (unmapped_id,) = _rows(result, "2026-11-03", "openai", "key_xyz")
    assert unmapped_id["reasons"] == [
        "gpt-4o-mini on the bill under key id key_xyz, which no [[key]] maps to a fingerprint"
    ]
    (carol,) = _rows(result, "2026-11-01", "openai", CAROL)
    assert carol["api_key_id"] is None and carol["reasons"] == [
        f"gpt-4o metered with key {CAROL}, which no [[key]] maps to a provider key id"
    ]
    # the costs exports cannot be grouped by key: their costs are a group without one, named so
    (costs,) = _rows(result, "2026-11-01", "openai", None)
    assert costs["billed_cost_usd"] and costs["reasons"] == [
        "gpt-4o billed with no api_key (the export is not grouped by it, or names none)"
    ]
    assert "on gpt-4o billed with no api_key" in result.summary
    unsplit = reconcile(keyed_store, FILES)
    assert result.totals["metered_requests"] == unsplit.totals["metered_requests"]
    assert result.totals["billed_cost_usd"] == unsplit.totals["billed_cost_usd"]


def test_without_a_key_table_the_ids_stay_apart_and_a_note_says_why(keyed_store: Store) -> None:
    result = reconcile(keyed_store, FILES, by=["api_key"])
    (billed,) = _rows(result, "2026-11-01", "openai", "key_abc")
    assert billed["metered_requests"] is None and "no [[key]] maps" in billed["reasons"][0]
    (metered,) = _rows(result, "2026-11-01", "openai", ALICE)
    assert metered["billed_requests"] is None and "no [[key]] maps" in metered["reasons"][0]
    assert any("without a [[key]] table" in note for note in result.notes)


def test_cli_by_api_key_with_the_attribution_file(keyed_store: Store, key_file: Path) -> None:
    files = [str(f) for f in FILES]
    out = run_cli("reconcile", *files, "--by", "api_key", "--attribution", str(key_file), "--format", "json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    matched = [r for r in doc["rows"] if r["api_key_id"] == "key_abc" and r["day"] == "2026-11-01"]
    assert [r["api_key"] for r in matched] == [ALICE] and matched[0]["reasons"] == []
    table = run_cli("reconcile", *files, "--by", "api_key", "--attribution", str(key_file))
    assert table.returncode == 0, table.stderr
    assert "api_key_id" in table.stdout and "key_xyz" in table.stdout
    assert "canary" not in out.stdout + out.stderr + table.stdout + table.stderr


def test_key_table_errors_name_file_and_line(tmp_path: Path) -> None:
    secret = "sk-proj-canary-pasted-000000000000009"
    cases = {
        'provider_key_id = "key_abc"': "has no fingerprint",
        f'fingerprint = "{secret}"\nprovider_key_id = "key_abc"': "not a key fingerprint",
        f'fingerprint = "sha256:1f2e3d4c5b6a"\nprovider_key_id = "{secret}"': "looks like a secret key",
        'fingerprint = "sha256:1f2e3d4c5b6a"\nprovider_key_id = "key_abc"\nteam = "x"': "unknown key",
        'map = "missing.csv"': "cannot read it",
    }
    for body, reason in cases.items():
        path = tmp_path / "keys.toml"
        path.write_text(f"# keys\n\n[[key]]\n{body}\n")
        with pytest.raises(ConfigError) as caught:
            load_attribution(path)
        message = caught.value.message
        assert f"{path}:3" in message and reason in message and caught.value.hint, message
        assert secret not in message + (caught.value.hint or "")
    twice = tmp_path / "twice.toml"
    twice.write_text(
        '[[key]]\nfingerprint = "sha256:1f2e3d4c5b6a"\nprovider_key_id = "key_abc"\n'
        '[[key]]\nfingerprint = "sha256:000000000000"\nprovider_key_id = "key_abc"\n'
    )
    with pytest.raises(ConfigError, match=r"twice\.toml:4: .*already names another fingerprint .*:1\)"):
        load_attribution(twice)
    (tmp_path / "ids.csv").write_text("provider_key_id,fingerprint\nkey_abc\n")
    mapped = tmp_path / "mapped.toml"
    mapped.write_text('[[key]]\nmap = "ids.csv"\n')
    with pytest.raises(ConfigError, match=r"ids\.csv:2: expected two columns"):
        load_attribution(mapped)
