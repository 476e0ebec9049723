"""How far tokmeter's usage estimate is from the usage providers report, per provider.

Takes every stream in ../shared/real-captures (captures.jsonl.gz and the Bedrock event streams in
eventstream.har) whose provider did report usage, throws that usage away, estimates it the way
tokmeter does for a stream that ended without usage (``tokmeter.extract.estimate.fill``), and compares
the estimated output tokens with the reported ones. Relative error = (estimated - reported) / reported.

The captured requests keep only model and stream, so input estimation cannot be measured on this data;
output is what a cut or usage-less stream loses, so that is what is measured.

Two comparisons per provider: against ``output_tokens`` (what is billed), and against the visible
output (``output_tokens`` less reported reasoning: hidden reasoning never reaches the stream, so that
part of the error is not the tokenizer's).

    python bench/estimator_error.py            # table on stdout
    python bench/estimator_error.py --markdown # the BENCHMARKS.md section
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tokmeter.errors import BadCaptureError
from tokmeter.extract import estimate, extract_row
from tokmeter.extract.base import Extracted, as_mapping
from tokmeter.extract.detect import api_from_path, detect_api
from tokmeter.extract.sse import looks_like_sse, parse_sse
from tokmeter.sources import Capture, read_captures

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real-captures"


@dataclass(slots=True)
class Sample:
    provider: str
    model: str | None
    reported: int
    reasoning: int
    estimated: int

    @property
    def error(self) -> float:
        return (self.estimated - self.reported) / self.reported

    @property
    def visible_error(self) -> float | None:
        visible = self.reported - self.reasoning
        return (self.estimated - visible) / visible if visible > 0 else None


def captures() -> Iterator[Capture]:
    for name in ("captures.jsonl.gz", "eventstream.har"):
        for item in read_captures(REAL / name):
            if isinstance(item, Capture):
                yield item


def sample(capture: Capture) -> Sample | None:
    """The estimate for one stream that reported usage, or None for anything else."""
    try:
        row = extract_row(capture)
    except BadCaptureError:
        return None
    if not row["stream"] or row["usage_source"] != "reported" or row["output_tokens"] <= 0:
        return None
    api = _api(capture, row["endpoint"])
    if api is None:
        return None
    ex = Extracted(model=row["model"], usage_source="missing")
    headers = as_mapping(capture.meta.get("response_headers")) or {}
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    estimate.fill(ex, api, capture.body, content_type, {}, row["provider"])
    if ex.usage_source != "estimated":
        return None
    return Sample(
        row["provider"], row["model"], row["output_tokens"], row["reasoning_tokens"], ex.output_tokens
    )


def _api(capture: Capture, path: str | None) -> str | None:
    body = capture.body
    if isinstance(body, str) and looks_like_sse(body):
        return detect_api(capture.meta, path, None, list(parse_sse(body)))
    return api_from_path(path)


def summarize(samples: list[Sample]) -> list[tuple[str, int, float, float, float, str]]:
    """Per provider: n, median |error|, worst |error|, median signed error, and the visible-output
    median |error| (n/a when no sample has visible output)."""
    by_provider: dict[str, list[Sample]] = defaultdict(list)
    for item in samples:
        by_provider[item.provider].append(item)
    by_provider["all"] = samples
    table = []
    for provider, items in sorted(by_provider.items(), key=lambda kv: (kv[0] == "all", -len(kv[1]), kv[0])):
        errors = [item.error for item in items]
        visible = [abs(v) for item in items if (v := item.visible_error) is not None]
        table.append(
            (
                provider,
                len(items),
                statistics.median(map(abs, errors)),
                max(map(abs, errors)),
                statistics.median(errors),
                f"{statistics.median(visible):.0%}" if visible else "n/a",
            )
        )
    return table


def markdown(table: list[tuple[str, int, float, float, float, str]]) -> str:
    header = (
        "| provider | streams | median abs. error | worst abs. error | median signed error | "
        "median abs. error, visible output |"
    )
    lines = [header, "|---|---:|---:|---:|---:|---:|"]
    for provider, n, median, worst, signed, visible in table:
        lines.append(f"| {provider} | {n} | {median:.0%} | {worst:.0%} | {signed:+.0%} | {visible} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markdown", action="store_true", help="print the BENCHMARKS.md table")
    parser.add_argument("--samples", action="store_true", help="also list every stream")
    args = parser.parse_args()
    if not REAL.is_dir():
        print(f"{REAL} is missing: nothing to measure", file=sys.stderr)
        return 1
    samples = [s for c in captures() if (s := sample(c)) is not None]
    table = summarize(samples)
    print(
        markdown(table)
        if args.markdown
        else "\n".join(
            f"{p:14} n={n:3}  median {m:6.1%}  worst {w:7.1%}  signed {s:+6.1%}  visible {v}"
            for p, n, m, w, s, v in table
        )
    )
    if args.samples:
        for item in sorted(samples, key=lambda s: (s.provider, s.error)):
            print(
                f"  {item.provider:12} {item.model or '?':40} reported {item.reported:5} (reasoning "
                f"{item.reasoning:5})  estimated {item.estimated:5}  {item.error:+.0%}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
