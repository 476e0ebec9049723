"""tokmeter export otlp: a local OTLP/HTTP receiver decodes what the SDK's exporter sent
(ExportMetricsServiceRequest, from opentelemetry-proto); its series, attributes and values equal the
report's, and a second run sends the same cumulative totals with the same start time."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.sdk")
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from conftest import SAMPLE_LOGS, run_cli
from tokmeter.errors import TokmeterError, UsageError
from tokmeter.export.follow import OtlpSending
from tokmeter.export.otlp import export_otlp, metrics_url
from tokmeter.ingest.follow import QuietView
from tokmeter.export.series import BOUNDS
from tokmeter.ingest.pipeline import run_ingest
from tokmeter.report.queries import Filters, build_report
from tokmeter.store.local import Store


class Receiver:
    """An OTLP/HTTP metrics endpoint on 127.0.0.1 that keeps every request, decoded."""

    def __init__(self) -> None:
        self.requests: list[ExportMetricsServiceRequest] = []
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportMetricsServiceRequest()
                request.ParseFromString(body)
                receiver.requests.append(request)
                receiver.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def points(self, index: int = -1) -> dict[str, list]:
        """Metric name -> its data points, in the request ``index``."""
        found: dict[str, list] = defaultdict(list)
        for resource in self.requests[index].resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    kind = metric.WhichOneof("data")
                    found[metric.name] += list(getattr(metric, kind).data_points)
        return found


def attrs(point: object) -> dict[str, str]:
    return {kv.key: kv.value.string_value for kv in point.attributes}  # type: ignore[attr-defined]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.server.shutdown()
    found.server.server_close()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    found = Store(tmp_path_factory.mktemp("otlp") / "store")
    run_ingest([SAMPLE_LOGS], found)
    return found


def test_the_collector_gets_the_reports_figures_and_a_second_run_the_same(
    store: Store, receiver: Receiver
) -> None:
    result = export_otlp(store, receiver.url)
    assert receiver.paths == ["/v1/metrics"] and result.endpoint == receiver.url + "/v1/metrics"
    points = receiver.points()
    report = build_report(store, ["user", "model", "provider"], Filters(), use_rollups=False)
    tokens: dict[tuple, int] = defaultdict(int)
    counts: dict[tuple, int] = defaultdict(int)
    for point in points["gen_ai.client.token.usage"]:
        a = attrs(point)
        assert {"gen_ai.provider.name", "gen_ai.request.model", "gen_ai.token.type"} <= set(a)
        assert list(point.explicit_bounds) == [float(b) for b in BOUNDS]
        assert sum(point.bucket_counts) == point.count and point.min <= point.max
        key = (a["tokmeter.user"], a["gen_ai.request.model"], a["gen_ai.provider.name"])
        tokens[(*key, a["gen_ai.token.type"])] += int(point.sum)
        counts[(*key, a["gen_ai.token.type"])] += point.count
    costs: dict[tuple, float] = defaultdict(float)
    for point in points["tokmeter.cost"]:
        a = attrs(point)
        costs[(a["tokmeter.user"], a["gen_ai.request.model"], a["gen_ai.provider.name"])] += point.as_double
    assert len(report.rows) == len(costs)
    for row in report.rows.iter_rows(named=True):
        key = (row["user"], row["model"], row["provider"])
        assert (
            tokens[(*key, "input")] == row["input_tokens"]
            and tokens[(*key, "output")] == row["output_tokens"]
        )
        assert counts[(*key, "input")] == row["requests"] == counts[(*key, "output")]
        assert costs[key] == pytest.approx(float(row["cost_usd"]), abs=1e-12)
    export_otlp(store, receiver.url)  # again: the same cumulative totals, the same start time
    again = receiver.points()

    def stable(found: dict[str, list]) -> list:
        return sorted(
            (
                name,
                sorted(attrs(p).items()),
                p.start_time_unix_nano,
                getattr(p, "as_double", 0),
                getattr(p, "sum", 0),
            )
            for name, listed in found.items()
            for p in listed
        )

    assert stable(again) == stable(points)
    assert {p.start_time_unix_nano for listed in points.values() for p in listed} == {
        points["tokmeter.cost"][0].start_time_unix_nano
    }
    request = receiver.requests[0]
    assert attrs(request.resource_metrics[0].resource)["service.name"] == "tokmeter"
    temporality = {
        m.name: getattr(m, m.WhichOneof("data")).aggregation_temporality
        for m in request.resource_metrics[0].scope_metrics[0].metrics
    }
    assert set(temporality.values()) == {2}  # AGGREGATION_TEMPORALITY_CUMULATIVE


def test_new_usage_raises_the_totals_of_its_series_only(
    store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    copy = Store(tmp_path / "store")
    run_ingest([SAMPLE_LOGS], copy)
    export_otlp(copy, receiver.url)
    line = (
        '{"ts": "2026-11-05T10:00:00Z", "request_id": "late-1", "user": "erin", "provider": "openai", '
        '"path": "/v1/chat/completions", "status": 200, "body": "{\\"id\\": \\"c-1\\", \\"object\\": '
        '\\"chat.completion\\", \\"model\\": \\"gpt-4o-mini\\", \\"usage\\": {\\"prompt_tokens\\": 100, '
        '\\"completion_tokens\\": 7}}"}\n'
    )
    (tmp_path / "new.jsonl").write_text(line)
    run_ingest([tmp_path / "new.jsonl"], copy)
    export_otlp(copy, receiver.url)
    before = {
        (tuple(sorted(attrs(p).items()))): p.sum for p in receiver.points(0)["gen_ai.client.token.usage"]
    }
    after = {
        (tuple(sorted(attrs(p).items()))): p.sum for p in receiver.points(1)["gen_ai.client.token.usage"]
    }
    changed = {key: after[key] - before.get(key, 0) for key in after if after[key] != before.get(key)}
    assert sorted(changed.values()) == [7, 100] and all(("tokmeter.user", "erin") in key for key in changed)


def test_the_command_sends_and_a_down_collector_fails_cleanly(
    isolated_store: Path, receiver: Receiver
) -> None:
    (isolated_store.parent / "empty.jsonl").write_text("")
    run_ingest([isolated_store.parent / "empty.jsonl"], Store(isolated_store))  # a store without rows
    nothing = run_cli("export", "otlp", "--endpoint", "http://127.0.0.1:9")  # no rows: nothing to send
    assert nothing.returncode == 0 and "nothing sent" in nothing.stderr and "sent 0" not in nothing.stderr
    run_ingest([SAMPLE_LOGS], Store(isolated_store))
    sent = run_cli("export", "otlp", "--endpoint", receiver.url + "/v1/metrics")
    assert sent.returncode == 0, sent.stderr
    assert "data point(s) to" in sent.stderr and len(receiver.requests) == 1
    down = run_cli("export", "otlp", "--endpoint", "http://127.0.0.1:9", "--timeout", "1")
    assert (
        down.returncode == 1 and "did not take the metrics" in down.stderr and "Traceback" not in down.stderr
    )
    typo = run_cli(
        "export", "otlp", "--endpoint", receiver.url, "--store", str(isolated_store.parent / "stroe")
    )
    assert typo.returncode == 2 and "no tokmeter store there" in typo.stderr and len(receiver.requests) == 1


def test_metrics_url() -> None:
    assert metrics_url("http://c:4318") == "http://c:4318/v1/metrics"
    assert metrics_url("https://c/otlp/v1/metrics") == "https://c/otlp/v1/metrics"
    with pytest.raises(UsageError, match="not an http"):
        metrics_url("localhost:4318")


def test_a_password_in_the_endpoint_is_never_shown_and_odd_timeouts_are_refused(
    store: Store, receiver: Receiver
) -> None:
    """A user:password@ in --endpoint used to be printed in the error and the summary; a --timeout of 0,
    NaN or 1e308 reached the exporter and failed as if the collector were down (exit 1)."""
    secret = "CANARYPASS0123"
    with pytest.raises(TokmeterError) as down:
        export_otlp(store, f"http://alice:{secret}@127.0.0.1:9", timeout=0.5)
    assert secret not in str(down.value) and "http://***@127.0.0.1:9/v1/metrics" in str(down.value)
    with pytest.raises(UsageError) as typo:
        metrics_url(f"ftp://alice:{secret}@c")
    assert secret not in str(typo.value)
    sent = export_otlp(store, receiver.url.replace("http://", f"http://alice:{secret}@"))
    assert sent.data_points and secret not in sent.endpoint and len(receiver.requests) == 1
    for timeout in (0.0, -1.0, float("nan"), 1e308):
        with pytest.raises(UsageError, match="--timeout"):
            export_otlp(store, receiver.url, timeout=timeout)
    assert len(receiver.requests) == 1
    for every in (float("nan"), float("inf")):  # a follower that would never send
        with pytest.raises(UsageError, match="--otlp-interval"):
            OtlpSending(QuietView(), store, receiver.url, every=every)


def capture_line(request_id: str, prompt: int) -> str:
    body = {"id": f"c-{request_id}", "object": "chat.completion", "model": "gpt-4o-mini"}
    body["usage"] = {"prompt_tokens": prompt, "completion_tokens": 7}  # type: ignore[assignment]
    doc = {"ts": "2026-11-05T10:00:00Z", "request_id": request_id, "user": "erin", "provider": "openai"}
    doc |= {"path": "/v1/chat/completions", "status": 200, "body": json.dumps(body)}
    return json.dumps(doc) + "\n"


def input_total(receiver: Receiver, index: int = -1) -> int:
    points = receiver.points(index)["gen_ai.client.token.usage"]
    return sum(int(p.sum) for p in points if attrs(p)["gen_ai.token.type"] == "input")


def test_the_follower_sends_after_commits_and_when_it_stops(
    isolated_store: Path, tmp_path: Path, receiver: Receiver
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "proxy.jsonl").write_text(capture_line("f-1", 100))
    command = [sys.executable, "-m", "tokmeter", "ingest", str(logs), "--follow", "--flush-interval", "0.2"]
    command += ["--otlp", receiver.url, "--otlp-interval", "0.2"]
    err = tmp_path / "follow.err"
    with err.open("w") as stderr:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 30
        while not (receiver.requests and input_total(receiver) == 100) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert receiver.requests and input_total(receiver) == 100, err.read_text()
        with (logs / "proxy.jsonl").open("a") as log:
            log.write(capture_line("f-2", 50))
        while input_total(receiver) != 150 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert input_total(receiver) == 150, err.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, err.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert "Traceback" not in err.read_text()
    with (logs / "proxy.jsonl").open("a") as log:
        log.write(capture_line("f-3", 25))
    sent = len(receiver.requests)
    resumed = run_cli("ingest", "--resume", str(logs / "proxy.jsonl"), "--otlp", receiver.url, "--quiet")
    assert resumed.returncode == 0, resumed.stderr  # --resume sends once, when it is done
    assert len(receiver.requests) == sent + 1 and input_total(receiver) == 175
