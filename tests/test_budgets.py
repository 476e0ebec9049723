"""Budgets: definitions checked at load, spend equal to the report's (from the rows and from a rollup
table), the forecast, every state transition and its notification, a notification server that fails,
the exit codes and the Prometheus gauges of the real command."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import polars as pl
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import SAMPLE_LOGS, run_cli
from tokmeter.attribution import load_attribution
from tokmeter.budgets.definitions import Budget, load_budgets, parse_budgets
from tokmeter.budgets.notify import STATE_FILE, notify
from tokmeter.budgets.status import BudgetStatus, daily_rates, evaluate, remaining_spend
from tokmeter.errors import ConfigError, UsageError
from tokmeter.extract.attribution import fingerprint_key, key_digest
from tokmeter.ingest.pipeline import run_ingest
from tokmeter.report.queries import Filters, build_report
from tokmeter.rollup.spec import RollupSpec
from tokmeter.rollup.tables import RollupTable
from tokmeter.store.local import Store

NOV_4 = datetime(2026, 11, 4, 12, tzinfo=UTC)  # the sample's last day (a Wednesday), at noon


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(tmp_path_factory.mktemp("budgets") / "store")
    run_ingest([SAMPLE_LOGS], store)
    return store


def report_cost(store: Store, **filters: object) -> float:
    found = build_report(store, [], Filters(**filters), use_rollups=False)  # type: ignore[arg-type]
    return float(found.totals["cost_usd"].item() or 0)


# ---- definitions ---------------------------------------------------------------------------------
def test_budgets_parse_with_defaults_lists_and_tag_keys() -> None:
    budgets = parse_budgets(
        [
            {"name": "all", "limit_usd": 500},
            {
                "name": "search",
                "where": {"user": ["a", "b"], "tag:team": "search"},
                "period": "week",
                "limit_usd": 10.5,
                "warn_at": [0.8, 0.5],
            },
        ],
        "budgets.toml",
    )
    assert budgets[0] == Budget("all", 500.0, "month", {}, (0.8,))
    assert budgets[1].where == {"user": ("a", "b"), "tag:team": ("search",)}
    assert budgets[1].warn_at == (0.5, 0.8) and budgets[1].period == "week"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "x", "limit_usd": 5, "colour": "red"}, "budget[0] (x).colour: unknown key"),
        ({"limit_usd": 5}, "budget[0].name: expected a name"),
        ({"name": "x", "limit_usd": 0}, "limit_usd: expected a positive number"),
        ({"name": "x", "limit_usd": float("nan")}, "limit_usd: expected a positive number"),
        ({"name": "x", "limit_usd": float("inf")}, "limit_usd: expected a positive number"),
        ({"name": "x", "limit_usd": 5, "period": "year"}, "period: 'year'"),
        ({"name": "x", "limit_usd": 5, "where": {"team_name": "a"}}, "where.team_name: not a dimension"),
        ({"name": "x", "limit_usd": 5, "where": {"day": "a"}}, "where.day: not a dimension"),
        ({"name": "x", "limit_usd": 5, "where": {"user": 3}}, "where.user: expected a string or a list"),
        ({"name": "x", "limit_usd": 5, "warn_at": [80]}, "warn_at: expected a list of fractions"),
    ],
)
def test_a_bad_budget_names_its_file_entry_and_key(entry: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_budgets([entry], "budgets.toml")
    assert str(caught.value).startswith("budgets.toml: ") and message in caught.value.message


def test_two_budgets_with_one_name_are_refused() -> None:
    with pytest.raises(ConfigError, match="two budgets are named 'a'"):
        parse_budgets([{"name": "a", "limit_usd": 1}, {"name": "a", "limit_usd": 2}], "f")


# ---- spend and forecast ------------------------------------------------------------------------------
def test_spend_equals_the_report_from_rows_and_from_a_fresh_rollup(
    sample_store: Store, tmp_path: Path
) -> None:
    budgets = [
        Budget("all", 1.0),
        Budget("alice", 1.0, "week", {"user": ("alice",)}),
        Budget("anthropic", 1.0, "day", {"provider": ("anthropic",), "user": ("bob", "carol")}),
    ]
    from_rows = evaluate(sample_store, budgets, now=NOV_4)
    month = report_cost(sample_store, since=date(2026, 11, 1), until=date(2026, 11, 4))
    week = report_cost(sample_store, since=date(2026, 11, 2), until=date(2026, 11, 4), users=("alice",))
    day = report_cost(
        sample_store,
        since=date(2026, 11, 4),
        until=date(2026, 11, 4),
        providers=("anthropic",),
        users=("bob", "carol"),
    )
    assert [s.spent_usd for s in from_rows.statuses] == pytest.approx([month, week, day], abs=1e-12)
    assert {s.source for s in from_rows.statuses} == {"rows"} and month > week > 0
    RollupTable(sample_store, RollupSpec()).update()
    from_table = evaluate(sample_store, budgets, now=NOV_4)
    assert {s.source for s in from_table.statuses} == {"rollups"}
    assert [s.spent_usd for s in from_table.statuses] == pytest.approx([month, week, day], abs=1e-12)
    assert [s.forecast_usd for s in from_table.statuses] == pytest.approx(
        [s.forecast_usd for s in from_rows.statuses], abs=1e-12
    )
    speed = evaluate(sample_store, [Budget("fast", 1.0, where={"speed": ("fast",)})], now=NOV_4)
    assert speed.statuses[0].source == "rows"  # the table lacks the dimension: the rows answer


def test_a_tag_key_selects_the_rows_with_that_tag(sample_store: Store, tmp_path: Path) -> None:
    """``where = { "tag:team" = "search" }`` spends only what the rows tagged team=search cost."""
    with sample_store.reading():
        rows = sample_store.scan().collect()
    tagged = rows.with_columns(
        tags=pl.when(pl.col("user") == "alice")
        .then(pl.lit([{"key": "team", "value": "search"}], dtype=rows.schema["tags"]))
        .otherwise(None)
    ).drop("date", strict=False)
    store = Store(tmp_path / "tagged")
    with store.writing():
        store.commit(tagged)
    found = evaluate(store, [Budget("t", 1.0, "month", where={"tag:team": ("search",)})], now=NOV_4)
    assert found.statuses[0].spent_usd == pytest.approx(report_cost(store, users=("alice",)), abs=1e-12)
    assert 0 < found.statuses[0].spent_usd < report_cost(store)
    RollupTable(
        store, RollupSpec("day", ("tag:team",))
    ).update()  # it used to stop the budget: no tags column
    from_table = evaluate(store, [Budget("t", 1.0, "month", where={"tag:team": ("search",)})], now=NOV_4)
    assert from_table.statuses[0].source == "rollups"
    assert from_table.statuses[0].spent_usd == pytest.approx(found.statuses[0].spent_usd, abs=1e-12)


def test_an_api_key_budget_matches_by_fingerprint_digest_or_key(sample_store: Store, tmp_path: Path) -> None:
    """A digest-only value used to match nothing (spend $0, state ok); a key itself is fingerprinted and
    never shown."""
    key = "sk-proj-BUDGETCANARY00000000000000000000000Zz9q"
    with sample_store.reading():
        rows = sample_store.scan().collect()
    keyed = rows.with_columns(
        api_key=pl.when(pl.col("user") == "alice").then(pl.lit(fingerprint_key(key))).otherwise(None)
    ).drop("date", strict=False)
    store = Store(tmp_path / "keyed")
    with store.writing():
        store.commit(keyed)
    alice = report_cost(store, users=("alice",))
    for value in (fingerprint_key(key), key_digest(fingerprint_key(key)), key):
        (budget,) = parse_budgets([{"name": "k", "limit_usd": 1, "where": {"api_key": value}}], "f")
        assert key not in json.dumps(budget.where_doc())
        found = evaluate(store, [budget], now=NOV_4)
        assert found.statuses[0].spent_usd == pytest.approx(alice, abs=1e-12) and alice > 0


def test_owners_from_attribution_rules_are_budgeted(sample_store: Store, tmp_path: Path) -> None:
    """A team only the attribution rules name used to spend $0 (state ok) in every budget."""
    rules = tmp_path / "teams.toml"
    rules.write_text('[[rule]]\ndimension = "team"\nfrom = "source:/(responses)/"\n')
    attribution = load_attribution(rules)
    budget = Budget("t", 1.0, "month", where={"team": ("responses",)})
    team_cost = report_cost(sample_store, attribution=attribution, teams=("responses",))
    assert 0 < team_cost < report_cost(sample_store)
    found = evaluate(sample_store, [budget], now=NOV_4, attribution=attribution)
    assert found.statuses[0].spent_usd == pytest.approx(team_cost, abs=1e-12)
    assert evaluate(sample_store, [budget], now=NOV_4).statuses[0].spent_usd == 0  # the rows alone: no team
    RollupTable(sample_store, RollupSpec("day", ("team",)), attribution=attribution).update()
    from_table = evaluate(sample_store, [budget], now=NOV_4, attribution=attribution)
    assert from_table.statuses[0].source == "rollups"
    assert from_table.statuses[0].spent_usd == pytest.approx(team_cost, abs=1e-12)


def history(spend: dict[date, float]) -> pl.DataFrame:
    return pl.DataFrame(
        {"day": list(spend), "cost_usd": list(spend.values())},
        schema={"day": pl.Date, "cost_usd": pl.Float64},
    )


def test_forecast_takes_weekdays_and_weekends_apart() -> None:
    today = date(2026, 12, 9)  # a Wednesday
    days = [today - timedelta(days=i) for i in range(1, 15)]
    past = history({d: (2.0 if d.weekday() >= 5 else 10.0) for d in days})
    assert daily_rates(past, today) == pytest.approx((10.0, 2.0))
    noon = datetime(2026, 12, 9, 12, tzinfo=UTC)
    # half of today (a weekday), Thursday and Friday, then Saturday and Sunday: 5 + 20 + 4
    assert remaining_spend(past, noon, date(2026, 12, 13)) == pytest.approx(29.0)


def test_forecast_starts_at_the_first_day_with_spend_and_borrows_a_missing_kind() -> None:
    today = date(2026, 12, 9)
    past = history({date(2026, 12, 7): 6.0, date(2026, 12, 8): 0.0})  # Monday, Tuesday: no weekend yet
    assert daily_rates(past, today) == pytest.approx((3.0, 3.0))
    assert daily_rates(history({}), today) == (0.0, 0.0)


# ---- states and notifications ------------------------------------------------------------------------
class Receiver:
    """A local HTTP server that records the JSON documents POSTed to it (or answers 503 when failing)."""

    def __init__(self) -> None:
        self.documents: list[dict] = []
        self.failing = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.failing:
                    self.send_response(503)
                else:
                    receiver.documents.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.server.shutdown()
    found.server.server_close()


def status(
    spent: float, forecast: float, start: date = date(2026, 12, 1), limit: float = 100.0
) -> BudgetStatus:
    from tokmeter.budgets.status import alerts

    budget = Budget("search", limit, "month", {"user": ("alice",)}, (0.5, 0.8))
    end = date(start.year + start.month // 12, start.month % 12 + 1, 1) - timedelta(days=1)
    return BudgetStatus(budget, "UTC", start, end, spent, forecast, alerts(budget, spent, forecast))


def test_each_state_transition_notifies_once(tmp_path: Path, receiver: Receiver) -> None:
    now = datetime(2026, 12, 9, tzinfo=UTC)
    steps = [
        (status(10, 40), None),  # ok: nothing to say
        (status(20, 120), ("warning", ["forecast"])),  # the forecast crosses the limit
        (status(25, 130), None),  # no new alert: the next minute says nothing
        (status(55, 130), ("warning", ["warn_at:0.5"])),
        (status(56, 130), None),
        (status(85, 130), ("warning", ["warn_at:0.8"])),
        (status(100, 130), ("exceeded", ["exceeded"])),
        (status(140, 140), None),
        (status(0, 50, date(2027, 1, 1)), ("ok", [])),  # a new period: back to ok, said once
        (status(5, 50, date(2027, 1, 1)), None),
        (status(60, 90, date(2027, 1, 1)), ("warning", ["warn_at:0.5"])),  # warns again in the new period
    ]
    for step, (current, expected) in enumerate(steps):
        before = len(receiver.documents)
        result = notify(tmp_path, [current], receiver.url, now)
        assert not result.failed
        if expected is None:
            assert len(receiver.documents) == before and result.sent == [], step
            continue
        assert len(receiver.documents) == before + 1 and result.sent == ["search"], step
        doc = receiver.documents[-1]
        assert (doc["state"], doc["new_alerts"]) == expected, step
        assert doc["state"] == current.state and doc["spent_usd"] == current.spent_usd
    first, last = receiver.documents[0], receiver.documents[-1]
    assert first["previous_state"] == "ok" and first["limit_usd"] == 100.0
    assert first["where"] == {"user": ["alice"]} and first["period_start"] == "2026-12-01"
    assert receiver.documents[-2]["previous_state"] == "exceeded" and last["period_start"] == "2027-01-01"


def test_a_server_that_fails_leaves_the_state_and_the_next_run_retries(
    tmp_path: Path, receiver: Receiver
) -> None:
    now = datetime(2026, 12, 9, tzinfo=UTC)
    down = "http://127.0.0.1:9/hook"  # nothing listens on the discard port
    result = notify(tmp_path, [status(60, 90)], down, now)
    assert result.sent == [] and result.failed[0][0] == "search"
    assert not (tmp_path / STATE_FILE).exists()
    receiver.failing = True
    result = notify(tmp_path, [status(60, 90)], receiver.url, now)
    assert (
        result.failed == [("search", "the server answered HTTP 503")] and not (tmp_path / STATE_FILE).exists()
    )
    receiver.failing = False
    assert notify(tmp_path, [status(60, 90)], receiver.url, now).sent == ["search"]
    assert receiver.documents[0]["new_alerts"] == ["warn_at:0.5"]
    assert notify(tmp_path, [status(61, 90)], receiver.url, now).sent == []
    for damaged in (b'{"search":', b"[1, 2]", b'{"search": 5}'):  # used to end in a traceback
        (tmp_path / STATE_FILE).write_bytes(damaged)
        assert notify(tmp_path, [status(61, 90)], receiver.url, now).sent == ["search"]  # sent again
        assert notify(tmp_path, [status(61, 90)], receiver.url, now).sent == []  # and recorded


# ---- the command ---------------------------------------------------------------------------------
def ingest_today(store: Path, tmp_path: Path) -> float:
    """Two requests made a minute ago; returns their cost, as the report computes it."""
    ts = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = []
    for n, user in enumerate(("alice", "bob")):
        body = {
            "id": f"c-{n}",
            "object": "chat.completion",
            "model": "gpt-4o-mini",
            "usage": {"prompt_tokens": 1_000_000, "completion_tokens": 100_000},
        }
        lines.append(
            json.dumps(
                {
                    "ts": ts,
                    "request_id": f"r-{n}",
                    "user": user,
                    "provider": "openai",
                    "path": "/v1/chat/completions",
                    "status": 200,
                    "body": json.dumps(body),
                }
            )
        )
    (tmp_path / "today.jsonl").write_text("\n".join(lines) + "\n")
    run_ingest([tmp_path / "today.jsonl"], Store(store))
    return report_cost(Store(store))


def test_the_command_exits_by_state_notifies_and_writes_gauges(
    isolated_store: Path, tmp_path: Path, receiver: Receiver
) -> None:
    total = ingest_today(isolated_store, tmp_path)
    file = tmp_path / "budgets.toml"
    file.write_text(
        f'[[budget]]\nname = "all"\nlimit_usd = {total * 10}\nwarn_at = [0.5]\n\n'
        f'[[budget]]\nname = "alice"\nwhere = {{ user = "alice" }}\nperiod = "day"\nlimit_usd = {total}\n'
    )
    ok = run_cli("budgets", "--budgets", str(file))
    assert ok.returncode == 0, ok.stderr
    assert "all" in ok.stdout and "Forecast: spend so far" in ok.stdout
    file.write_text(file.read_text().replace(f"limit_usd = {total}\n", f"limit_usd = {total * 0.6}\n"))
    warned = run_cli("budgets", "--budgets", str(file), "--format", "json", "--notify", receiver.url)
    assert warned.returncode == 6, warned.stderr
    doc = json.loads(warned.stdout)
    assert [b["state"] for b in doc["budgets"]] == ["ok", "warning"] and doc["state"] == "warning"
    assert doc["budgets"][1]["spent_usd"] == pytest.approx(total / 2, rel=1e-9)
    assert [d["budget"] for d in receiver.documents] == ["alice"]
    file.write_text(file.read_text().replace(f"limit_usd = {total * 0.6}\n", f"limit_usd = {total * 0.4}\n"))
    prom = tmp_path / "budgets.prom"
    exceeded = run_cli(
        "budgets",
        "--budgets",
        str(file),
        "--quiet",
        "--notify",
        "http://127.0.0.1:9/services/T0/B0/CANARYHOOKSECRET",  # a webhook's path is often its secret
        "--prometheus",
        str(prom),
    )
    assert exceeded.returncode == 7 and exceeded.stdout == ""
    assert (
        "could not notify http://127.0.0.1:9/…" in exceeded.stderr and "the next run sends" in exceeded.stderr
    )
    assert "CANARYHOOKSECRET" not in exceeded.stderr
    typo = run_cli("budgets", "--budgets", str(file), "--notify", "hooks.example.com/x")  # checked up front
    assert typo.returncode == 2 and "--notify hooks.example.com/x: not an http(s) URL" in typo.stderr
    gauges = {
        (m.name, s.labels["budget"]): s.value
        for m in text_string_to_metric_families(prom.read_text())
        for s in m.samples
    }
    assert gauges[("tokmeter_budget_limit_usd", "alice")] == pytest.approx(total * 0.4)
    assert gauges[("tokmeter_budget_spent_usd", "all")] == pytest.approx(total, rel=1e-9)
    assert gauges[("tokmeter_budget_forecast_usd", "all")] >= gauges[("tokmeter_budget_spent_usd", "all")]
    assert gauges[("tokmeter_budget_state", "alice")] == 2


def test_budgets_come_from_the_config_file_unless_a_file_is_named(
    isolated_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    monkeypatch.setenv("TOKMETER_CONFIG", str(config))
    config.write_text('prices = "prices.toml"\n')
    with pytest.raises(UsageError, match="no budgets are defined"):
        load_budgets(None)
    config.write_text('[[budget]]\nname = "x"\nlimit_usd = 5\nwhere = { colour = "red" }\n')
    with pytest.raises(ConfigError, match=r"config file .*budget\[0\] \(x\)\.where\.colour: not a dimension"):
        load_budgets(None)
    config.write_text('[[budget]]\nname = "x"\nlimit_usd = 1000\n')
    assert [b.name for b in load_budgets(None)[0]] == ["x"]
    other = tmp_path / "budgets.toml"
    other.write_text('[[budget]]\nname = "y"\nlimit_usd = 1\n')
    assert [b.name for b in load_budgets(other)[0]] == ["y"]
    other.write_text('[budget]\nname = "y"\n')
    with pytest.raises(ConfigError, match="expected \\[\\[budget\\]\\] tables"):
        load_budgets(other)
    typo = run_cli("budgets", "--store", str(tmp_path / "stroe"))  # a mistyped store: exit 2, as every reader
    assert typo.returncode == 2 and "no tokmeter store there" in typo.stderr
