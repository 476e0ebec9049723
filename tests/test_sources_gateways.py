"""Kong AI Gateway and Cloudflare AI Gateway logs (``sources/gateway_logs.py``, ``extract/gateways.py``):
the gateways' own usage sums, cache and reasoning unknown, attribution from consumers and metadata."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sources_helpers import SAMPLES, priced, rows_of
from test_pricing import _reference_cost
from tokmeter.store.local import Store

KONG = SAMPLES / "kong" / "file-log.json"
CLOUDFLARE = SAMPLES / "cloudflare-ai-gateway" / "logpush-2025-11-03.jsonl"


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_kong_one_row_per_ai_plugin_call() -> None:
    rows, entries = rows_of(KONG), records(KONG)
    proxied, transformer_proxy, transformer, refused = rows
    usage = entries[0]["ai"]["proxy"]["usage"]
    assert (proxied["input_tokens"], proxied["output_tokens"]) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )
    assert proxied["request_id"] == entries[0]["response"]["headers"]["x-request-id"]  # the upstream's id
    assert proxied["model"] == entries[0]["ai"]["proxy"]["meta"]["response_model"]
    assert proxied["timestamp"] == datetime.fromtimestamp(entries[0]["started_at"] / 1000, UTC)
    assert proxied["user"] == entries[0]["consumer"]["username"]
    assert {t["key"]: t["value"] for t in proxied["tags"]} == {
        "service": "openai-upstream",
        "route": "openai-chat",
        "workspace": "default",
    }
    assert proxied["cache_read_tokens"] is None and proxied["reasoning_tokens"] is None  # Kong logs neither
    # the documentation's entry: two plugins' calls, the older prompt_token / completion_token spelling
    ai = entries[1]["ai"]
    assert (transformer_proxy["provider"], transformer_proxy["input_tokens"]) == (
        "azure",
        ai["ai-proxy"]["usage"]["prompt_token"],
    )
    assert transformer_proxy["request_id"] == entries[1]["request"]["id"]
    assert transformer["request_id"] == entries[1]["request"]["id"] + ":ai-request-transformer"
    assert transformer["output_tokens"] == ai["ai-request-transformer"]["usage"]["completion_token"]
    assert (refused["status"], refused["usage_source"]) == (429, "missing")
    assert len(rows) == 4  # the entry of a route without AI plugins is no row


def test_cloudflare_rows() -> None:
    rows, logged = rows_of(CLOUDFLARE), records(CLOUDFLARE)
    openai, anthropic, cache_hit, refused = rows
    assert (openai["input_tokens"], openai["output_tokens"]) == (
        logged[0]["tokens_in"],
        logged[0]["tokens_out"],
    )
    assert (openai["user"], openai["team"]) == ("frank", "search")  # from metadata given as JSON text
    assert {t["key"]: t["value"] for t in openai["tags"]}["feature"] == "autocomplete"
    assert openai["timestamp"] == datetime.fromisoformat(logged[0]["created_at"])
    assert (anthropic["project"], anthropic["provider"]) == ("docs-bot", "anthropic")
    assert anthropic["cache_read_tokens"] is None
    assert (cache_hit["input_tokens"], cache_hit["output_tokens"]) == (
        0,
        0,
    )  # AI Gateway's cache: no provider call
    assert (refused["status"], refused["usage_source"]) == (429, "missing")
    assert [r["request_id"] for r in rows] == [r["id"] for r in logged]


def test_gateway_rows_are_priced_at_standard_rates() -> None:
    rows = [
        r
        for r in rows_of(KONG) + rows_of(CLOUDFLARE)
        if r["input_tokens"] and r["provider"] in ("openai", "anthropic")
    ]
    assert len(rows) == 3
    for row, got in zip(rows, priced(rows), strict=True):
        want = _reference_cost({**row, "cache_read_tokens": 0, "cache_write_tokens": 0})
        assert want is not None and want > 0 and got["cost_usd"] == want, row["model"]


def test_a_gateway_log_piped_in_with_its_format(isolated_store: Path) -> None:
    """``tail -f kong.log | tokmeter ingest - --format kong``: logged records are read from standard
    input too (their format named, as standard input is a capture log unless told)."""
    result = subprocess.run(
        [sys.executable, "-m", "tokmeter", "ingest", "-", "--format", "kong"],
        input=KONG.read_text(),
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    stored = Store(isolated_store).scan().collect()
    assert sorted(stored["request_id"].to_list()) == sorted(r["request_id"] for r in rows_of(KONG))
