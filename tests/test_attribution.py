"""Who spent it (issue #19): the built-in sources of user, api_key, session, tags; attribution rules of
every ``from`` kind; maps applied at query time (an edited map changes the next report, no ingest); old
stores without the columns; totals per owner that add up; and canary keys that reach nothing written.

Captures are capture-log records built on the first record of ``sample_logs/gateway-2026-11.jsonl`` (a
real OpenAI chat completion body), with request headers built from each gateway's documented schema:
Helicone (Helicone-User-Id, Helicone-Property-NAME, Helicone-Session-Id: docs.helicone.ai), LiteLLM
(x-litellm-tags "a,b": https://docs.litellm.ai/docs/proxy/request_headers; x-litellm-end-user-id),
Portkey (x-portkey-metadata, a JSON object whose ``_user`` names the user:
https://portkey.ai/docs/product/observability/metadata), Cloudflare AI Gateway (cf-aig-metadata, a JSON
object of strings, numbers and booleans: https://developers.cloudflare.com/ai-gateway/observability/custom-metadata).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from conftest import SAMPLE_LOGS, run_cli
from tokmeter.attribution import attributed, load_attribution
from tokmeter.capture import Capture
from tokmeter.errors import ConfigError
from tokmeter.extract import read_capture
from tokmeter.extract.attribution import Keep, fingerprint_key
from tokmeter.ingest.pipeline import run_ingest
from tokmeter.report.focus import build_focus
from tokmeter.report.queries import Filters, build_report, select_rows
from tokmeter.rollup.spec import RollupSpec
from tokmeter.rollup.tables import RollupTable
from tokmeter.sources.options import ReadOptions
from tokmeter.store.local import Store

TEMPLATE = json.loads((SAMPLE_LOGS / "gateway-2026-11.jsonl").read_text().splitlines()[0])
CANARY_KEY = "sk-proj-CANARYKEY0000000000000000000000000Wq3x"
CANARY_KEYS = (
    CANARY_KEY,
    "CANARY-XAPI-0123456789abcdef",
    "CANARY-AZURE-0123456789abcdef",
    "AIzaCANARY0123456789abcdef",
)
OLD_STORE = Path(__file__).parent / "data" / "old-store"


def record(n: int, **fields: Any) -> dict[str, Any]:
    rec = {**TEMPLATE, "request_id": f"req_attr_{n:04d}", "user": None}
    rec["request"] = {**TEMPLATE["request"], **fields.pop("request", {})}
    rec.update(fields)
    return {k: v for k, v in rec.items() if v is not None}


def row_of(**fields: Any) -> dict[str, Any]:
    rec = record(1, **fields)
    body = rec.pop("body")
    keep = fields.pop("keep", None) or Keep()
    row, _ = read_capture(Capture("log.jsonl", 0, rec, body, 1), keep)
    return dict(row)


def tags_of(row: dict[str, Any]) -> dict[str, str]:
    return {t["key"]: t["value"] for t in row["tags"] or []}


# ---- the built-in sources ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "user"),
    [
        ({"user": "cap", "request_headers": {"Helicone-User-Id": "h"}}, "cap"),
        ({"request_headers": {"Helicone-User-Id": "helicone-u"}}, "helicone-u"),
        ({"request_headers": {"X-LiteLLM-End-User-Id": "litellm-u"}}, "litellm-u"),
        ({"request_headers": {"x-user-id": "plain-u"}}, "plain-u"),
        ({"request_headers": {"x-user-id": "hdr"}, "request": {"user": "body"}}, "hdr"),
        ({"request": {"user": "body-u"}}, "body-u"),
        ({"request": {"metadata": {"user_id": "meta-u"}}}, "meta-u"),
        ({"request": {"safety_identifier": "safe-u"}}, "safe-u"),
        ({"request_headers": {"x-portkey-metadata": '{"_user": "pk-u", "env": "prod"}'}}, "pk-u"),
        ({"request": {"user": "body"}, "request_headers": {"x-portkey-metadata": '{"_user": "pk"}'}}, "body"),
        ({}, None),
    ],
)
def test_user_sources_in_order(fields: dict[str, Any], user: str | None) -> None:
    assert row_of(**fields)["user"] == user


def test_tag_sources() -> None:
    row = row_of(
        request_headers={
            "Helicone-Property-Feature": "search",
            "x-portkey-metadata": '{"_user": "u", "Env": "prod", "n": 3}',
            "cf-aig-metadata": '{"team_hint": "core"}',
            "x-litellm-tags": "batch-job, nightly",
        },
        tags={"Owner": "capture-says"},
    )
    assert tags_of(row) == {
        "_user": "u",
        "feature": "search",
        "env": "prod",
        "n": "3",
        "team_hint": "core",
        "batch-job": "true",
        "nightly": "true",
        "owner": "capture-says",
    }
    assert row_of(request_headers={"x-portkey-metadata": "{not json"})["tags"] is None  # the row stands


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {CANARY_KEY}"},
        {"x-api-key": CANARY_KEY},
        {"api-key": CANARY_KEY},
        {"x-goog-api-key": CANARY_KEY},
    ],
)
def test_api_key_is_a_fingerprint(headers: dict[str, str]) -> None:
    row = row_of(request_headers=headers)
    assert row["api_key"] == fingerprint_key(CANARY_KEY)
    assert CANARY_KEY not in json.dumps(row, default=str)


def test_fingerprint_rendering() -> None:
    import hashlib

    digest = hashlib.sha256(CANARY_KEY.encode()).hexdigest()[:12]
    assert fingerprint_key(CANARY_KEY) == f"sk-…Wq3x sha256:{digest}"
    assert fingerprint_key("AIzaSyD-0123456789abcdefXYZ1").startswith("…XYZ1 sha256:")
    assert fingerprint_key("short-key") == "sha256:" + hashlib.sha256(b"short-key").hexdigest()[:12]
    assert row_of(request_headers={"Authorization": "Basic dXNlcjpwYXNz"})["api_key"] is None


@pytest.mark.parametrize(
    ("fields", "session"),
    [
        ({"request_headers": {"Helicone-Session-Id": "hs-1"}}, "hs-1"),
        ({"request_headers": {"X-Session-Id": "xs-1"}}, "xs-1"),
        ({"session": "agent-1", "request_headers": {"x-session-id": "xs"}}, "agent-1"),
    ],
)
def test_session_sources(fields: dict[str, Any], session: str) -> None:
    assert row_of(**fields)["session"] == session


def test_coding_agent_project_and_session(tmp_path: Path) -> None:
    """Claude Code's project directory and session id become project and session."""
    project = tmp_path / ".claude" / "projects" / "-home-alice-shop"
    project.mkdir(parents=True)
    transcript = Path(__file__).parent / "data" / "transcripts"
    source = next(p for p in sorted(transcript.rglob("*.jsonl")) if b"sessionId" in p.read_bytes())
    shutil.copy(source, project / "s.jsonl")
    store = Store(tmp_path / "store")
    run_ingest([project / "s.jsonl"], store, fmt="claude-code", check_prices=False)
    rows = select_rows(store, Filters())
    assert rows.height and rows["project"].drop_nulls().len() == rows.height
    assert rows["session"].drop_nulls().len() == rows.height


# ---- rules: every from kind, evaluated on a real store -------------------------------------------------
def write_log(path: Path, records: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def write_rules(folder: Path, rules: str, maps: dict[str, str] | None = None) -> Path:
    for name, text in (maps or {}).items():
        (folder / name).write_text(text)
    path = folder / "attribution.toml"
    path.write_text(rules)
    return path


def teams(store: Store, rules: Path | None, dim: str = "team") -> dict[str | None, int]:
    attribution = load_attribution(rules) if rules else None
    report = build_report(store, [dim], Filters(attribution=attribution), use_rollups=False)
    return {row[dim]: row["requests"] for row in report.rows.iter_rows(named=True)}


@pytest.fixture
def mixed(tmp_path: Path) -> tuple[Store, Path]:
    """Five requests: two keys, headers and bodies naming teams, two capture-log folders."""
    key_b = "sk-BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
    records = [
        record(1, request_headers={"Authorization": f"Bearer {CANARY_KEY}", "x-team": "hdr-team"}),
        record(2, request_headers={"x-api-key": key_b}, request={"metadata": {"team": "body-team"}}),
        record(3, request_headers={"x-api-key": key_b}, team_name="cap-team"),
        record(4, request_headers={"Helicone-Property-Env": "prod"}),
    ]
    folder = tmp_path / "logs"
    write_log(folder / "projects" / "alpha" / "a.jsonl", records[:2])
    write_log(folder / "projects" / "beta" / "b.jsonl", [*records[2:], record(5, team="gateway-team")])
    rules = write_rules(
        tmp_path,
        """
[[rule]]
dimension = "team"
from = "header:X-Team"

[[rule]]
dimension = "team"
from = "body:metadata.team"

[[rule]]
dimension = "team"
from = "capture:team_name"

[[rule]]
dimension = "project"
from = "source:/projects/([^/]+)/"

[[rule]]
dimension = "user"
from = "api_key"
map = "keys.csv"
""",
        {"keys.csv": f"api_key,user\n{fingerprint_key(key_b)},bob\n"},
    )
    store = Store(tmp_path / "store")
    keep = load_attribution(rules).keep()
    run_ingest([folder], store, check_prices=False, read_options=ReadOptions(keep=keep))
    return store, rules


def test_every_from_kind(mixed: tuple[Store, Path]) -> None:
    store, rules = mixed
    assert teams(store, rules) == {
        "hdr-team": 1,
        "body-team": 1,
        "cap-team": 1,
        "gateway-team": 1,  # the capture's own team, where no rule gives one
        None: 1,  # nobody owns it: shown, never dropped
    }
    assert teams(store, rules, "project") == {"alpha": 2, "beta": 3}
    assert teams(store, rules, "user") == {"bob": 2, None: 3}
    assert teams(store, None) == {"gateway-team": 1, None: 4}  # without the rules: the captures' own
    key = fingerprint_key(CANARY_KEY)
    for given in (key, key.split(" ")[1]):  # a whole fingerprint, or its sha256: part
        assert select_rows(store, Filters(api_keys=[given]))["request_id"].to_list() == ["req_attr_0001"]
    by_key = Filters(api_keys=[CANARY_KEY])  # the key itself: fingerprinted, never shown
    assert select_rows(store, by_key)["request_id"].to_list() == ["req_attr_0001"]
    assert CANARY_KEY not in by_key.describe() and key in by_key.describe()
    assert Filters(api_keys=["sha256:abc", "sk-…Wq3x"]).api_keys == (
        "sha256:abc",
        "sk-…Wq3x",
    )  # parts: as given
    chosen = build_report(store, ["team"], Filters(attribution=load_attribution(rules), teams=["cap-team"]))
    assert chosen.totals["requests"].item() == 1


def test_totals_equal_the_sum_of_groups(mixed: tuple[Store, Path]) -> None:
    store, rules = mixed
    attribution = load_attribution(rules)
    for dims in (["team"], ["project"], ["tag:env"], ["team", "model"]):
        report = build_report(store, dims, Filters(attribution=attribution), use_rollups=False)
        for column in ("requests", "input_tokens", "output_tokens", "cost_usd"):
            assert report.rows[column].sum() == report.totals[column].item(), (dims, column)
    tagged = build_report(store, ["tag:env"], Filters(tags=[("env", "prod")]), use_rollups=False)
    assert tagged.rows.to_dicts()[0]["tag:env"] == "prod" and tagged.totals["requests"].item() == 1


def test_focus_export_tags_attribution_dimensions(mixed: tuple[Store, Path]) -> None:
    """report --format focus --by tag:NAME / team (it used to fail: the tag column was never made)."""
    store, rules = mixed
    filters = Filters(attribution=load_attribution(rules))
    frame = build_focus(store, ["tag:env", "team"], filters)
    report = build_report(store, ["tag:env", "team"], filters, use_rollups=False)
    assert frame["BilledCost"].sum() == report.totals["cost_usd"].item()
    groups = {tuple(json.loads(t).values()) for t in frame["Tags"]}
    assert groups == {(row["tag:env"], row["team"]) for row in report.rows.iter_rows(named=True)}


def test_rules_file_errors_name_file_and_line(tmp_path: Path) -> None:
    cases = {
        'dimension = "division"\nfrom = "api_key"': "unknown dimension",
        'dimension = "team"\nfrom = "query:x"': "unknown kind of source",
        'dimension = "team"\nfrom = "source:(unclosed"': "not a valid regular expression",
        'dimension = "team"\nfrom = "source:no-group"': "expected exactly one",
        'dimension = "team"\nfrom = "api_key"\nmap = "missing.csv"': "cannot read it",
        'dimension = "team"\nfrom = "header:Authorization"': "a credential is never kept",
        'dimension = "tag:p"\nfrom = "body:prompt"': "prompt and completion text are never kept",
        'dimension = "tag:s"\nfrom = "body:system"': "prompt and completion text are never kept",
        'dimension = "tag:i"\nfrom = "body:Input"': "prompt and completion text are never kept",
        'dimension = "tag:b"\nfrom = "capture:body"': "prompt and completion text are never kept",
    }
    for body, reason in cases.items():
        path = write_rules(tmp_path, f"# rules\n\n[[rule]]\n{body}\n")
        with pytest.raises(ConfigError) as caught:
            load_attribution(path)
        assert f"{path}:3" in caught.value.message and reason in caught.value.message, caught.value.message
        assert caught.value.hint
    one_column = write_rules(
        tmp_path,
        '[[rule]]\ndimension = "team"\nfrom = "api_key"\nmap = "one.csv"\n',
        {"one.csv": "key,team\nsha256:aaaaaaaaaaaa\n"},
    )
    with pytest.raises(ConfigError, match=r"one\.csv:2: expected two columns"):
        load_attribution(one_column)


def test_prompt_text_is_never_kept_by_a_rule(tmp_path: Path) -> None:
    """body:prompt / body:system / body:input rules used to store the prompt in the row's tags; the rules
    file refuses them, and a Keep built by hand keeps nothing from such a path."""
    canary = "CANARY-PROMPT-TEXT"
    request = {"model": "gpt-4o-mini", "prompt": canary, "system": canary, "input": canary, "user": "u1"}
    keep = Keep(body_paths=("prompt", "system", "input", "user"), capture_fields=("body",))
    row = row_of(request=request, keep=keep)
    assert canary not in json.dumps(row, default=str)
    assert tags_of(row) == {"rule:body:user": "u1"}


def test_attribution_is_a_pure_lazy_transform(mixed: tuple[Store, Path]) -> None:
    store, rules = mixed
    lf = store.scan()
    out = attributed(lf, load_attribution(rules), ["env"])
    assert isinstance(out, pl.LazyFrame) and "tag:env" in out.collect_schema().names()
    assert attributed(lf, None) is lf  # nothing asked: the same frame


# ---- maps at query time, through the CLI ------------------------------------------------------------
def test_edited_map_changes_reports_and_rollups_without_ingest(tmp_path: Path, isolated_store: Path) -> None:
    key_a, key_b = (
        "sk-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "sk-BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
    )
    log = write_log(
        tmp_path / "logs" / "gw.jsonl",
        [
            record(1, request_headers={"x-api-key": key_a}),
            record(2, request_headers={"x-api-key": key_b}),
            record(3),
        ],
    )
    rules = write_rules(
        tmp_path,
        '[[rule]]\ndimension = "team"\nfrom = "api_key"\nmap = "keys.csv"\ndefault = "unassigned"\n',
        {"keys.csv": f"api_key,team\n{fingerprint_key(key_a)},search\n{fingerprint_key(key_b)},search\n"},
    )
    run_ingest([log], Store(isolated_store), check_prices=False)
    rollup = run_cli(
        "rollup", "--by", "team", "--by", "model", "--by", "provider", "--attribution", str(rules)
    )
    assert rollup.returncode == 0, rollup.stderr

    def by_team() -> dict[str, int]:
        result = run_cli("report", "--by", "team", "--format", "json", "--attribution", str(rules))
        assert result.returncode == 0, result.stderr
        return {r["team"]: r["requests"] for r in json.loads(result.stdout)["rows"]}

    assert by_team() == {"search": 2, "unassigned": 1}
    chart = run_cli("report", "--by", "team", "--chart", "--metric", "requests", "--attribution", str(rules))
    assert chart.returncode == 0 and "search" in chart.stdout and "unassigned" in chart.stdout, chart.stderr
    ledger = (isolated_store / "ledger.jsonl").read_bytes()
    (tmp_path / "keys.csv").write_text(
        f"api_key,team\n{fingerprint_key(key_a)},search\nsha256:{fingerprint_key(key_b).split('sha256:')[1]},billing\n"
    )
    assert by_team() == {"search": 1, "billing": 1, "unassigned": 1}
    assert (isolated_store / "ledger.jsonl").read_bytes() == ledger  # no ingest ran
    table = RollupTable(
        Store(isolated_store), RollupSpec("day", ("team", "model", "provider")), None, load_attribution(rules)
    )
    assert not table.is_fresh(None) and table.update().full  # the digest changed: every period again
    assert table.is_fresh(None)
    frame = pl.read_parquet(next(table.dir.glob("period=*/*.parquet")))
    assert dict(zip(frame["team"], frame["requests"], strict=True)) == {
        "search": 1,
        "billing": 1,
        "unassigned": 1,
    }


def test_old_store_without_the_columns_reports_by_owner(tmp_path: Path) -> None:
    shutil.copytree(OLD_STORE, tmp_path / "old")
    store = Store(tmp_path / "old")
    for dim in ("team", "project", "api_key", "session", "tag:env"):
        report = build_report(store, [dim], Filters(), use_rollups=False)
        assert report.rows[dim].to_list() == [None], dim
        assert report.rows["requests"].sum() == report.totals["requests"].item() > 0
    assert select_rows(store, Filters(teams=["x"])).height == 0


# ---- canaries: a key reaches nothing tokmeter writes ----------------------------------------------------
def test_canary_keys_reach_no_file_and_no_output(tmp_path: Path, isolated_store: Path) -> None:
    headers = [
        {"Authorization": f"Bearer {CANARY_KEYS[0]}"},
        {"x-api-key": CANARY_KEYS[1]},
        {"api-key": CANARY_KEYS[2]},
        {"x-goog-api-key": CANARY_KEYS[3]},
    ]
    good = [record(i, request_headers=h, user="u") for i, h in enumerate(headers)]
    bad = [
        {**record(10, request_headers=headers[0]), "status": "not-a-status"},
        {**record(11, request_headers=headers[1]), "body": "<html>CANARY</html>"},
    ]
    log = write_log(tmp_path / "in" / "gw.jsonl", good + bad)
    with log.open("a") as handle:
        handle.write('{"request_headers": {"Authorization": "Bearer ' + CANARY_KEYS[0] + '"}, "body": \n')
    har = tmp_path / "in" / "capture.har"
    har.write_text(json.dumps({"log": {"entries": [har_entry(CANARY_KEYS[0])]}}))
    rules = write_rules(tmp_path, '[[rule]]\ndimension = "team"\nfrom = "header:x-team"\n')
    outputs = [run_cli("ingest", str(tmp_path / "in"), "--attribution", str(rules))]
    assert outputs[0].returncode == 0, outputs[0].stderr
    assert "bad" in outputs[0].stdout + outputs[0].stderr
    outputs += [
        run_cli("rows", "--format", "jsonl", "--attribution", str(rules)),
        run_cli("quarantine", "--format", "jsonl"),
        run_cli("rollup", "--by", "user", "--by", "model", "--by", "api_key", "--prometheus", "-"),
    ]
    bad_rules = write_rules(tmp_path, '[[rule]]\ndimension = "team"\nfrom = "header:x-api-key"\n')
    outputs.append(run_cli("report", "--by", "team", "--attribution", str(bad_rules)))
    assert outputs[-1].returncode == 2 and "credential" in outputs[-1].stderr
    assert (
        'tokmeter_requests_total{user="u",model="gpt-4o-mini-2024-07-18",api_key="sk-…' in outputs[3].stdout
    )
    rows = [json.loads(line) for line in outputs[1].stdout.splitlines()]
    assert sorted(r["api_key"] for r in rows) == sorted(
        fingerprint_key(k) for k in (*CANARY_KEYS, CANARY_KEYS[0])
    )
    for result in outputs:
        for key in CANARY_KEYS:
            assert key not in result.stdout + result.stderr
    for path in [p for p in isolated_store.rglob("*") if p.is_file()] + [
        p for p in (tmp_path / "cache").rglob("*") if p.is_file()
    ]:
        data = path.read_bytes()
        for key in CANARY_KEYS:
            assert key.encode() not in data, f"{key} leaked into {path}"


def har_entry(key: str) -> dict[str, Any]:
    return {
        "startedDateTime": "2026-11-03T10:00:00Z",
        "request": {
            "method": "POST",
            "url": "https://api.openai.com/v1/chat/completions",
            "headers": [
                {"name": "Authorization", "value": f"Bearer {key}"},
                {"name": "x-team", "value": "har-team"},
            ],
            "postData": {"text": json.dumps({"model": "gpt-4o-mini", "messages": []})},
        },
        "response": {"status": 200, "headers": [], "content": {"text": TEMPLATE["body"]}},
    }


def test_fingerprint_command_reads_stdin() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "tokmeter", "fingerprint"],
        input=f"Bearer {CANARY_KEY}\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.strip() == fingerprint_key(CANARY_KEY)


def test_fingerprint_input_must_be_one_key() -> None:
    """Several keys, binary bytes or text with spaces used to give a fingerprint of the first line or of
    garbage; they are refused, and the message never shows the input."""
    from tokmeter.errors import UsageError
    from tokmeter.extract.attribution import key_from_input

    assert key_from_input(f"\n  Bearer {CANARY_KEY}\r\n\n".encode()) == CANARY_KEY
    for data in (b"", b" \n", f"{CANARY_KEY}\nsk-second-key-0000000000000\n".encode(), b"\xf6\x00\x9a",
                 f"my key is {CANARY_KEY}".encode(), f"{CANARY_KEY}\x07".encode()):  # fmt: skip
        with pytest.raises(UsageError) as caught:
            key_from_input(data)
        assert CANARY_KEY not in str(caught.value) and CANARY_KEY not in (caught.value.hint or "")


def test_spark_refuses_the_new_dimensions(tmp_path: Path) -> None:
    from tokmeter.errors import UsageError

    table = RollupTable(Store(tmp_path / "store"), RollupSpec("day", ("team", "model", "provider")))
    with pytest.raises(UsageError, match="Spark engine"):
        table.update(engine="spark")


def test_rollup_tables_answer_owner_reports_as_the_rows_do(mixed: tuple[Store, Path]) -> None:
    store, rules = mixed
    attribution = load_attribution(rules)
    dims = ("team", "project", "model", "provider", "tag:env")
    RollupTable(store, RollupSpec("day", dims), None, attribution).update()
    for by, filters in (
        (["team"], Filters(attribution=attribution)),
        (["tag:env", "project"], Filters(attribution=attribution, tags=[("env", "prod")])),
        (["project"], Filters(attribution=attribution, teams=["hdr-team", "cap-team"])),
    ):
        from_table = build_report(store, by, filters)
        from_rows = build_report(store, by, filters, use_rollups=False)
        assert from_table.source == "rollups" and from_rows.source == "rows"
        assert from_table.rows.sort(by).to_dicts() == from_rows.rows.sort(by).to_dicts()
    assert (
        build_report(store, ["team"], Filters()).source == "rows"
    )  # built with rules: not for a reader without


def test_attribution_file_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tokmeter.config import ATTRIBUTION_ENV, attribution_path

    config = tmp_path / "conf" / "config.toml"
    config.parent.mkdir()
    config.write_text('attribution = "teams.toml"\n')
    monkeypatch.setenv("TOKMETER_CONFIG", str(config))
    monkeypatch.delenv(ATTRIBUTION_ENV, raising=False)
    assert attribution_path(None) == tmp_path / "conf" / "teams.toml"  # relative to the config file
    monkeypatch.setenv(ATTRIBUTION_ENV, str(tmp_path / "env.toml"))
    assert attribution_path(None) == tmp_path / "env.toml"
    assert attribution_path(tmp_path / "flag.toml") == tmp_path / "flag.toml"


def test_worker_processes_keep_what_the_rules_read(
    mixed: tuple[Store, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rules' Keep travels with each worker task (ReadOptions), as the Claude Code user does."""
    store, rules = mixed
    monkeypatch.setenv("TOKMETER_WORKERS", "2")
    monkeypatch.setenv("TOKMETER_PARALLEL_MIN_BYTES", "0")
    parallel = Store(tmp_path / "parallel")
    keep = load_attribution(rules).keep()
    run_ingest([tmp_path / "logs"], parallel, check_prices=False, read_options=ReadOptions(keep=keep))
    assert teams(parallel, rules) == teams(store, rules)
    assert (
        select_rows(parallel, Filters())["tags"].to_list() == select_rows(store, Filters())["tags"].to_list()
    )
