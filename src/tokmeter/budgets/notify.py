"""Notifications: one JSON document POSTed per budget whose state changed since the last run.

What was sent is kept in the store (``STORE/budgets/notified.json``, replaced atomically), per budget:
the period it was sent in, the alerts sent in that period and the state last sent. A budget is notified
when it reaches an alert not yet sent in its period (each ``warn_at`` fraction, ``forecast``,
``exceeded``: so once per threshold per period, not at every run), and once when it is back to ``ok``
after a notified warning (a new period, or a forecast back under the limit). A POST that fails (server
down, timeout, a non-2xx answer) leaves that budget's record as it was: the next run sends it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

import orjson

from ..store.atomic import replace_file
from ..store.locking import file_lock
from .status import FORECAST_METHOD, BudgetStatus

STATE_FILE = Path("budgets") / "notified.json"
TIMEOUT_SECONDS = 10.0


@dataclass(slots=True)
class NotifyResult:
    sent: list[str] = field(default_factory=list)  # budget names
    failed: list[tuple[str, str]] = field(default_factory=list)  # (budget name, reason)


def payload(status: BudgetStatus, new_alerts: Sequence[str], previous: str, now: datetime) -> dict:
    """The JSON document POSTed for one budget (the README documents each key)."""
    budget = status.budget
    return {
        "budget": budget.name,
        "state": status.state,
        "previous_state": previous,
        "new_alerts": list(new_alerts),
        "alerts": list(status.alerts),
        "where": budget.where_doc(),
        "period": budget.period,
        "period_start": status.period_start.isoformat(),
        "period_end": status.period_end.isoformat(),
        "tz": status.tz,
        "limit_usd": budget.limit_usd,
        "spent_usd": round(status.spent_usd, 9),
        "share": round(status.share, 6),
        "forecast_usd": round(status.forecast_usd, 9),
        "forecast_method": FORECAST_METHOD,
        "unpriced_requests": status.unpriced_requests,
        "at": now.isoformat(),
    }


def due(status: BudgetStatus, record: dict) -> tuple[list[str], str] | None:
    """(new alerts, previous state) when ``status`` must be notified given its saved ``record``, else None."""
    period = status.period_start.isoformat()
    sent = record.get("alerts", []) if record.get("period") == period else []
    previous = record.get("state", "ok")
    new = [alert for alert in status.alerts if alert not in sent]
    if new or (status.state == "ok" and previous != "ok"):
        return new, previous
    return None


def post(url: str, document: dict, timeout: float = TIMEOUT_SECONDS) -> str | None:
    """POST ``document`` as JSON; None when the server took it (2xx), else why not."""
    request = Request(
        url,
        data=orjson.dumps(document),
        headers={"Content-Type": "application/json", "User-Agent": "tokmeter"},
        method="POST",
    )
    try:
        with urlopen(request, timeout=timeout) as answer:
            answer.read()
    except HTTPError as exc:
        return f"the server answered HTTP {exc.code}"
    except (URLError, OSError, ValueError) as exc:
        return str(getattr(exc, "reason", exc))
    return None


def notify(root: Path, statuses: Sequence[BudgetStatus], url: str, now: datetime) -> NotifyResult:
    """POST what is due to ``url`` and record what was sent, under ``root`` (the store's directory)."""
    path = root / STATE_FILE
    result = NotifyResult()
    with file_lock(path.with_name(".notify.lock"), exclusive=True):  # two runs never send the same twice
        records = _records(path)
        for status in statuses:
            record = records.get(status.budget.name, {})
            found = due(status, record)
            if found is None:
                continue
            error = post(url, payload(status, found[0], found[1], now))
            if error is not None:
                result.failed.append((status.budget.name, error))
                continue
            result.sent.append(status.budget.name)
            records[status.budget.name] = _record(status, record)
        if result.sent:
            replace_file(
                path, lambda temp: temp.write_bytes(orjson.dumps(records, option=orjson.OPT_INDENT_2))
            )
    return result


def _records(path: Path) -> dict[str, dict]:
    """What was sent, per budget; a file damaged or edited by hand is read for what it still says (a lost
    record means that alert is sent again: better twice than never)."""
    try:
        doc = orjson.loads(path.read_bytes()) if path.exists() else {}
    except orjson.JSONDecodeError:
        return {}
    return {k: v for k, v in doc.items() if isinstance(v, dict)} if isinstance(doc, dict) else {}


def _record(status: BudgetStatus, record: dict) -> dict:
    period = status.period_start.isoformat()
    sent = record.get("alerts", []) if record.get("period") == period else []
    return {
        "period": period,
        "alerts": [*sent, *(a for a in status.alerts if a not in sent)],
        "state": status.state,
    }
