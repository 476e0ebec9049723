"""How long ``tokmeter budgets`` takes on a year of data, from a fresh day rollup table and from the rows.

    python bench/generate.py store OUT_STORE --rows 10_000_000 --days 365
    tokmeter rollup --period day --store OUT_STORE
    python bench/budgets_speed.py OUT_STORE [--budgets 20] [--repeat 5]

Defines ``--budgets`` budgets over the generated store's dimensions (everything, per provider, per user,
per provider and user; month, week and day periods), then times, best of ``--repeat``:

* ``evaluate`` in this process at noon of the store's last day (so the current periods and the 14-day
  forecast window hold data), from the rollup table, and again with the rollups set aside (the rows);
* the real command in a subprocess, ``tokmeter budgets --budgets FILE --format json`` (wall time,
  start-up included; it evaluates at the current time, so its periods may hold no data: the rollup
  table is read all the same).

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from tokmeter.budgets.definitions import Budget
from tokmeter.budgets.status import evaluate
from tokmeter.rollup.tables import find_tables
from tokmeter.store.local import Store

LAST_DAY = datetime(2026, 11, 19, 12, tzinfo=UTC)  # gen_store.LAST_DAY, at noon
PROVIDERS = ("openai", "anthropic", "google", "groq")


def budgets(n: int) -> list[Budget]:
    made = [Budget("everything", 100_000.0, "month", {}, (0.5, 0.8))]
    for i in range(1, n):
        period = ("month", "week", "day")[i % 3]
        where: dict[str, tuple[str, ...]] = {"user": (f"user-{i:03d}",)} if i % 2 else {}
        if i % 4 in (0, 1):
            where["provider"] = (PROVIDERS[i % len(PROVIDERS)],)
        made.append(Budget(f"budget {i}", 1_000.0, period, where, (0.5, 0.8)))
    return made


def toml(defined: list[Budget]) -> str:
    out = []
    for b in defined:
        where = ", ".join(f"{k} = {json.dumps(list(v))}" for k, v in b.where.items())
        out.append(
            f'[[budget]]\nname = "{b.name}"\nperiod = "{b.period}"\nlimit_usd = {b.limit_usd}\n'
            f"warn_at = {list(b.warn_at)}\nwhere = {{ {where} }}\n"
        )
    return "\n".join(out)


def best(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("store", type=Path)
    parser.add_argument("--budgets", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    store = Store(args.store)
    defined = budgets(args.budgets)
    assert find_tables(store), "run tokmeter rollup --period day on the store first"
    result = evaluate(store, defined, now=LAST_DAY)
    assert result.sources == {"rollups"}, result.sources
    doc: dict = {"budgets": len(defined), "spent_everything_usd": round(result.statuses[0].spent_usd, 2)}
    doc["evaluate_rollups_s"] = round(best(lambda: evaluate(store, defined, now=LAST_DAY), args.repeat), 3)
    file = args.store.parent / "budgets-bench.toml"
    file.write_text(toml(defined))
    command = [sys.executable, "-m", "tokmeter", "budgets", "--budgets", str(file), "--format", "json"]
    command += ["--store", str(args.store)]

    def cli() -> None:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        assert done.returncode in (0, 6, 7), done.stderr

    doc["command_rollups_s"] = round(best(cli, args.repeat), 3)
    rollups = args.store / "rollups"
    aside = args.store / "rollups.aside"
    rollups.rename(aside)
    try:
        rows = evaluate(store, defined, now=LAST_DAY)
        assert rows.sources == {"rows"}
        assert [round(s.spent_usd, 6) for s in rows.statuses] == [
            round(s.spent_usd, 6) for s in result.statuses
        ]
        doc["evaluate_rows_s"] = round(
            best(lambda: evaluate(store, defined, now=LAST_DAY), max(1, args.repeat // 2)), 3
        )
    finally:
        aside.rename(rollups)
    print(json.dumps(doc))


if __name__ == "__main__":
    main()
