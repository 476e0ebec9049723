"""Kept results (README "Kept results", report/kept.py, report/replay.py): a repeated report is answered
from what the same report printed, byte for byte, and never across a change to anything it depends on.

Real stores of sample_logs/, real subprocess runs of ``python -m tokmeter``. Whether a run was replayed is
told by the note ``$TOKMETER_DEBUG`` makes the replay path leave on standard error (and, once, by a kept
file whose content only a replay could print). A result is kept only when no file of the store changed in
the 2 s before the report started, so the stores are made once for the module and aged together.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, SAMPLE_LOGS
from tokmeter.report import kept, replay

KEPT = "kept the result as"
REPLAYED = "replayed the kept result"
NOTE = "tokmeter: "  # the debug notes' prefix
GATEWAY = SAMPLE_LOGS / "gateway-2026-11.jsonl"
RESPONSES = SAMPLE_LOGS / "responses"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """``python -m tokmeter ARGS`` with its output as bytes (``conftest.run_cli`` decodes it)."""
    full = {**os.environ, "TOKMETER_DEBUG": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "tokmeter", *args], capture_output=True, env=full, timeout=120, check=False
    )


def report(store: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    done = run("report", "--store", str(store), *args, env=env)
    assert done.returncode == 0, done.stderr.decode()
    return done


def said(done: subprocess.CompletedProcess[bytes]) -> str:
    return done.stderr.decode()


def printed(done: subprocess.CompletedProcess[bytes]) -> bytes:
    """Standard error without the debug notes: what the report itself printed there."""
    return b"".join(
        line for line in done.stderr.splitlines(keepends=True) if not line.startswith(b"tokmeter: ")
    )


def kept_and_replayed(store: Path, *args: str, env: dict[str, str] | None = None) -> bytes:
    """Run a report twice: the first keeps its result, the second is answered from it; its output."""
    first = report(store, *args, env=env)
    assert KEPT in said(first), said(first)
    again = report(store, *args, env=env)
    assert REPLAYED in said(again) and again.stdout == first.stdout, said(again)
    return first.stdout


def kept_path(done: subprocess.CompletedProcess[bytes]) -> Path:
    """The kept result a run's debug note names."""
    return Path(said(done).split(KEPT, 1)[1].split()[0])


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Stores of sample_logs (base: the gateway log and one response; more: and one response more, on a
    day that then has two parts) and a copy of the tokmeter package, all older than kept.RACY_NS."""
    root = tmp_path_factory.mktemp("kept")
    env = {"TOKMETER_CACHE": str(root / "cache")}
    base, more = root / "base", root / "more"
    for store, files in ((base, [GATEWAY, RESPONSES / "oa-chat.json"]), (more, [RESPONSES / "an-cut.sse"])):
        if store == more:
            shutil.copytree(base, more)
        done = run("ingest", *map(str, files), "--store", str(store), "-q", env=env)
        assert done.returncode == 0, said(done)
    made = {name: root / name for name in ("shared", "ingest", "rollup", "inprocess")}
    for copy in made.values():
        shutil.copytree(base, copy)
    made["compact"] = root / "compact"
    shutil.copytree(more, made["compact"])
    shutil.copytree(
        REPO / "src" / "tokmeter", root / "code" / "tokmeter", ignore=shutil.ignore_patterns("__pycache__")
    )
    made["code"] = root / "code"
    time.sleep(kept.RACY_NS / 1e9 + 0.2)
    return made


def test_a_repeated_report_is_replayed_byte_for_byte_from_the_kept_file_alone(
    stores: dict[str, Path],
) -> None:
    store = stores["shared"]
    asked = ["--by", "model", "--format", "json"]
    first = report(store, *asked)
    assert KEPT in said(first)
    again = report(store, *asked)
    assert REPLAYED in said(again)
    assert again.stdout == first.stdout and printed(again) == printed(first)
    fresh = report(store, *asked, "--no-cache")
    assert fresh.stdout == first.stdout and NOTE not in said(fresh)  # computed afresh, not kept
    path = kept_path(first)
    assert path.stat().st_mode & 0o777 == 0o600
    code, chunks = replay.decode(path.read_bytes()) or (None, [])
    assert code == 0  # and nothing but what the report printed:
    assert b"".join(data for stream, data in chunks if stream == 1) == first.stdout
    assert b"".join(data for stream, data in chunks if stream == 2) == printed(first)
    # the replay path: no polars, Typer, Rich or genai-prices (python -X importtime lists every import)
    timed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "tokmeter", "report", "--store", str(store), *asked],
        capture_output=True,
        env={**os.environ, "TOKMETER_DEBUG": "1"},
        check=True,
    )
    imported = {
        line.split("|")[-1].strip() for line in said(timed).splitlines() if line.startswith("import time:")
    }
    assert REPLAYED in said(timed) and "tokmeter.report.kept" in imported
    assert not {
        name for name in imported if name.split(".")[0] in {"polars", "typer", "rich", "genai_prices"}
    }
    # what is replayed is the kept file, and only a whole one
    path.write_bytes(replay.encode(0, [(1, b"from the kept file\n"), (2, b"and its errors\n")]))
    forged = report(store, *asked)
    assert forged.stdout == b"from the kept file\n" and printed(forged) == b"and its errors\n"
    path.write_bytes(path.read_bytes()[:-1])
    torn = report(store, *asked)
    assert "was not whole" in said(torn) and KEPT in said(torn) and torn.stdout == first.stdout


def test_a_kept_file_others_may_write_or_too_large_is_not_replayed(stores: dict[str, Path]) -> None:
    """Only a file of this user that no one else may write, and no larger than a kept result can be, is
    replayed (a shared store's .cache could hold another's forged result)."""
    store, asked = stores["shared"], ["--by", "day", "--format", "csv"]
    first = report(store, *asked)
    path = kept_path(first)
    forged = replay.encode(0, [(1, b"forged\n")])
    for change in ("writable", "owner", "size"):
        if change == "owner" and os.getuid() != 0:
            continue  # only root can give a file away
        large = replay.encode(0, [(1, b"x" * (2 * kept.MAX_BYTES + 1))])  # whole, larger than any kept
        path.write_bytes(large if change == "size" else forged)
        path.chmod(0o666 if change == "writable" else 0o600)
        if change == "owner":
            os.chown(path, 65534, 65534)
        again = report(store, *asked)
        assert REPLAYED not in said(again) and "is ignored" in said(again), (change, said(again))
        assert again.stdout == first.stdout
        path.unlink()
        report(store, *asked)  # kept again, as this user's


def test_an_edit_to_a_file_it_reads_is_never_replayed(stores: dict[str, Path], tmp_path: Path) -> None:
    """The config file, the price file it names, the attribution file and its map: each edit is a new key
    (and the result computed afresh is kept under it, for the next edit to be tested against)."""
    (tmp_path / "p.toml").write_text("[discounts]\nproviders = { openai = 10 }\n")
    (tmp_path / "q.toml").write_text("[discounts]\nproviders = { openai = 50 }\n")
    (tmp_path / "config.toml").write_text('prices = "p.toml"\n')
    (tmp_path / "teams.csv").write_text("value,owner\ngateway,alpha\nresponses,beta\n")
    rules = '[[rule]]\ndimension = "team"\nfrom = "source:(gateway|responses)"\nmap = "teams.csv"\n'
    (tmp_path / "rules.toml").write_text(rules)
    asked = ["--by", "team", "--attribution", str(tmp_path / "rules.toml")]
    env = {"TOKMETER_CONFIG": str(tmp_path / "config.toml")}
    before = kept_and_replayed(stores["shared"], *asked, env=env)
    for name, content in [
        ("p.toml", "[discounts]\nproviders = { openai = 30 }\n"),  # the price file the config file names
        ("config.toml", 'prices = "q.toml"\n'),
        ("teams.csv", "value,owner\ngateway,gamma\nresponses,beta\n"),
        ("rules.toml", rules.replace("(gateway|responses)", "(gateway)")),
    ]:
        (tmp_path / name).write_text(content)
        after = report(stores["shared"], *asked, env=env)
        assert REPLAYED not in said(after) and KEPT in said(after), name
        assert after.stdout != before, name
        before = after.stdout


def test_a_map_of_an_attribution_file_named_without_toml_is_keyed(
    stores: dict[str, Path], tmp_path: Path
) -> None:
    """The attribution file is TOML whatever its name: its map is keyed too (an edit of the map of
    ``--attribution rules.conf`` replayed the report of the old map)."""
    (tmp_path / "teams.csv").write_text("value,owner\ngateway,alpha\nresponses,beta\n")
    rules = '[[rule]]\ndimension = "team"\nfrom = "source:(gateway|responses)"\nmap = "teams.csv"\n'
    (tmp_path / "rules.conf").write_text(rules)
    asked = ["--by", "team", "--attribution", str(tmp_path / "rules.conf")]
    before = kept_and_replayed(stores["shared"], *asked)
    (tmp_path / "teams.csv").write_text("value,owner\ngateway,gamma\nresponses,beta\n")
    after = report(stores["shared"], *asked)
    assert REPLAYED not in said(after) and b"gamma" in after.stdout and after.stdout != before


def _not_replayed(store: Path, variants: list[tuple[list[str], dict[str, str], bool]]) -> None:
    """Each variant (arguments, environment, whether the figures change) of a kept report is computed."""
    asked = ["--by", "day", "--format", "json"]
    before = kept_and_replayed(store, *asked)
    for args, env, changes in variants:
        other = report(store, *args, env=env)
        assert REPLAYED not in said(other), (args, env)
        assert (other.stdout != before) is changes, (args, env)


def test_another_tokmeter_variable_or_zone_is_not_replayed(stores: dict[str, Path]) -> None:
    asked = ["--by", "day", "--format", "json"]
    _not_replayed(
        stores["shared"],
        [
            (asked, {"TOKMETER_PRICE_MEMO": "0"}, False),
            ([*asked, "--tz", "Pacific/Kiritimati"], {}, True),  # UTC+14: the day boundaries move
        ],
    )


@pytest.mark.slow
def test_another_tz_variable_or_spelling_of_the_arguments_is_not_replayed(stores: dict[str, Path]) -> None:
    _not_replayed(
        stores["shared"],
        [
            (
                ["--by", "day", "--format", "json"],
                {"TZ": "Pacific/Kiritimati"},
                False,
            ),  # the report's is --tz
            (["--by=day", "--format", "json"], {}, False),  # the same report spelled otherwise
        ],
    )


@pytest.mark.parametrize(
    ("name", "write"),
    [
        ("ingest", ["ingest", str(RESPONSES / "an-cut.sse"), "-q"]),
        pytest.param("compact", ["compact", "-q"], marks=pytest.mark.slow),  # the same store walk as ingest
        pytest.param("rollup", ["rollup", "--period", "day", "-q"], marks=pytest.mark.slow),
    ],
)
def test_a_write_to_the_store_is_never_replayed_across(
    stores: dict[str, Path], name: str, write: list[str]
) -> None:
    store = stores[name]
    before = kept_and_replayed(store, "--by", "day", "--format", "json")
    done = run(*write, "--store", str(store))
    assert done.returncode == 0, said(done)
    after = report(store, "--by", "day", "--format", "json")
    assert REPLAYED not in said(after)
    assert (after.stdout != before) is (name == "ingest")  # a compaction or a rollup keeps the figures


def test_an_edit_to_tokmeter_itself_is_not_replayed(stores: dict[str, Path]) -> None:
    code = stores["code"]
    env = {"PYTHONPATH": str(code)}
    before = kept_and_replayed(stores["shared"], "--by", "user", env=env)
    init = code / "tokmeter" / "__init__.py"
    init.write_text(init.read_text().replace('__version__ = "', '__version__ = "9'))
    after = report(stores["shared"], "--by", "user", env=env)
    assert REPLAYED not in said(after) and after.stdout == before


def test_a_file_given_as_a_pipe_is_left_for_the_report(stores: dict[str, Path], tmp_path: Path) -> None:
    """``--prices <(...)`` (a pipe: it can be read once): the report reads the price file, not the key (the
    key read it first and the report priced without its discounts), and nothing is kept."""
    prices = tmp_path / "p.toml"
    prices.write_text("[discounts]\nproviders = { openai = 50, anthropic = 12 }\n")
    asked = ["--by", "provider", "--format", "json"]
    plain = report(stores["shared"], *asked, "--prices", str(prices), "--no-cache")
    script = '"$0" -m tokmeter report --store "$1" --by provider --format json --prices <(cat "$2")'
    piped = subprocess.run(
        ["bash", "-c", script, sys.executable, str(stores["shared"]), str(prices)],
        capture_output=True,
        env={**os.environ, "TOKMETER_DEBUG": "1"},
        timeout=120,
        check=False,
    )
    assert piped.returncode == 0, said(piped)
    assert json.loads(piped.stdout)["rows"] == json.loads(plain.stdout)["rows"]  # the prices name the file
    assert KEPT not in said(piped)
    # /dev/null reads empty every time: a config file named so is keyed as any other
    kept_and_replayed(stores["shared"], "--by", "provider", env={"TOKMETER_CONFIG": os.devnull})


def test_a_failed_report_is_not_kept(stores: dict[str, Path]) -> None:
    store = stores["shared"]
    done = run("report", "--store", str(store), "--by", "no-such-dimension")
    assert done.returncode == 2 and "result not kept: exit code 2" in said(done)


# ---- in process: which reports, the key, the checks around a run ------------------------------------------
def test_the_options_it_knows_are_the_report_commands_options() -> None:
    """A new option of report must be added to kept.VALUE_OPTIONS or FLAGS (and its effect to the key)."""
    from typer.main import get_command

    from tokmeter.cli import app

    command = get_command(app).commands["report"]  # type: ignore[attr-defined]
    names = {name for param in command.params for name in (*param.opts, *param.secondary_opts)}
    assert names - {"--help"} == kept.VALUE_OPTIONS | kept.FLAGS


@pytest.mark.parametrize(
    ("args", "keepable"),
    [
        (["--by", "model", "--format", "json", "--output", "-"], True),
        (["--by=model", "--chart", "--cost-breakdown", "-o", "-"], True),
        (["--format", "html"], False),  # it carries the time it was made
        (["--output", "report.json"], False),
        (["-o=-"], False),  # a file named "=-" to the command line
        (["--bill", "bill.csv", "--format", "html"], False),
        (["--no-cache"], False),
        (["--help"], False),
        (["--by"], False),
        (["--by", "model", "extra"], False),
    ],
)
def test_which_reports_are_kept(args: list[str], keepable: bool) -> None:
    given = kept.options(args)
    assert (given is not None and kept.keepable(given)) is keepable


def test_no_plan_for_a_remote_store_another_command_or_the_cache_off(stores: dict[str, Path]) -> None:
    store = str(stores["inprocess"])
    assert kept.prepare(["report", "--store", store], {}) is not None
    assert kept.prepare(["report", "--store", "s3://bucket/prefix"], {}) is None
    assert kept.prepare(["rows", "--store", store], {}) is None
    assert kept.prepare(["report", "--store", store], {"TOKMETER_RESULT_CACHE": "0"}) is None


def test_the_date_and_the_store_are_in_the_key(tmp_path: Path) -> None:
    store = tmp_path / "store"
    (store / "usage").mkdir(parents=True)
    inputs = kept.read_inputs(["report"], {})
    noon = 1_793_707_200_500_000_000  # 2026-11-03 12:00:00.5 UTC

    def key(now_ns: int) -> str:
        return str(kept.compute(inputs, store, [], ["UTC"], now_ns).hash.hexdigest())

    assert key(noon) == key(noon + 100_000_000)
    assert key(noon) != key(noon + 86_400 * 10**9)
    before = key(noon)
    (store / "checkpoints").mkdir()
    assert key(noon) != before


def test_a_change_while_it_ran_is_not_kept(
    stores: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    store = stores["inprocess"]
    plan = kept.prepare(["report", "--store", str(store), "--by", "team"], {"TOKMETER_DEBUG": "1"})
    assert plan is not None and not plan.fresh()

    def writes_to_the_store() -> None:
        print("a report")
        (store / "usage" / "stray.txt").write_text("x")

    replay.answer(plan, writes_to_the_store)
    assert "what it depends on changed while it ran" in capsys.readouterr().err
    assert not plan.path.exists()


def test_a_store_written_in_the_last_2_s_is_answered_but_not_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    (store / "usage").mkdir(parents=True)
    (store / "ledger.jsonl").write_text("{}\n")  # just written: a second write now could leave its stat
    plan = kept.prepare(["report", "--store", str(store)], {"TOKMETER_DEBUG": "1"})
    assert plan is not None and plan.fresh()
    replay.answer(plan, lambda: print("a report"))
    assert "changed less than 2 s before it started" in capsys.readouterr().err
    assert not plan.path.exists()


def test_the_most_recently_used_are_kept(tmp_path: Path) -> None:
    folder = tmp_path / "results"
    names = [f"{index:064x}" for index in range(kept.KEEP + 4)]
    for second, name in enumerate(names):
        replay.write_result(folder / name, b"x")
        os.utime(folder / name, ns=(second * 10**9, second * 10**9))
    assert sorted(path.name for path in folder.iterdir()) == names[-kept.KEEP :]
