"""The usage row: one schema, defined once, used by extraction, the store, reports and the docs.

Token convention (OpenTelemetry GenAI and genai-prices alike):

* ``input_tokens`` is the whole prompt, cache reads and cache writes included;
  ``cache_read_tokens``, ``cache_write_tokens`` are subsets of it and
  ``cache_write_1h_tokens`` is the part of ``cache_write_tokens`` written with a 1-hour TTL.
* ``output_tokens`` includes reasoning; ``reasoning_tokens`` is a subset of it.

How a response was served, as it says (``price_modifiers`` prices it):

* ``service_tier`` is one of ``SERVICE_TIERS``: ``standard`` (OpenAI ``default``, Anthropic and Gemini
  ``standard``, a request's ``auto``, Groq ``on_demand``, Bedrock ``default``), ``priority``, ``flex``,
  ``batch``, ``scale`` (OpenAI Scale Tier), ``reserved`` (Bedrock reserved, provisioned throughput),
  or ``other`` (a value tokmeter does not know; never the text itself). Null: the response does not say.
* ``speed`` is ``fast`` (Anthropic fast mode), ``standard``, or ``other``; null when not said.

Unknown is not zero: input and output are always known, but a subset column is null when the source
cannot say it (``SUBSET_TOKENS``). Sums count a null as 0, pricing prices it as 0 (all output at the
output rate, all input as uncached), and reports say how many rows lacked each column.

Who spent it (attribution): ``user``, ``team``, ``project``, ``api_key`` (a fingerprint, never a key),
``session`` and ``tags``; each null when nothing says it.

Columns added after a store was created read as null from its older parts (no migration).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, TypedDict

if TYPE_CHECKING:
    import polars as pl

USAGE_SOURCES: Final = ("reported", "estimated", "missing")

SERVICE_TIERS: Final = ("standard", "priority", "flex", "batch", "scale", "reserved", "other")
SPEEDS: Final = ("standard", "fast", "other")

TOKEN_COLUMNS: Final = (
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
)
# The token columns that may be null (unknown); input_tokens and output_tokens never are.
SUBSET_TOKENS: Final = (
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "reasoning_tokens",
)

# name -> (polars dtype name, meaning). The order here is the column order everywhere.
COLUMNS: Final[dict[str, tuple[str, str]]] = {
    "request_id": (
        "String",
        "The capture's request_id, else the request-id / x-request-id response header, "
        "else the response id, else a fallback id, sha256:<digest of the whole capture> (see What is "
        "a row). The deduplication key.",
    ),
    "response_id": ("String", "The provider's own id for the response (chatcmpl-..., msg_..., resp_...)."),
    "timestamp": ("Datetime[us, UTC]", "When the request was made (the capture's ts), in UTC."),
    "user": (
        "String",
        "The capture's user, else the Helicone-User-Id / x-litellm-end-user-id / x-user-id request "
        "header, else the request body's user / metadata.user_id / safety_identifier, else the _user of "
        "x-portkey-metadata; null when unknown (reports apply attribution rules on top).",
    ),
    "team": (
        "String",
        "The team the capture names (a gateway's log); null when none says (reports apply attribution "
        "rules on top).",
    ),
    "project": (
        "String",
        "The project: a coding agent's project directory, or attribution rules; null when unknown.",
    ),
    "api_key": (
        "String",
        "The API key's fingerprint, never the key: `sk-…Wq3x sha256:1f2e3d4c5b6a` (its last 4 "
        "characters and the first 12 hex digits of its SHA-256); null when the capture has no key.",
    ),
    "session": ("String", "A session id: a coding agent's session, Helicone-Session-Id, x-session-id."),
    "tags": (
        "List[Struct[key: String, value: String]]",
        "Tags, name -> value (names lowercased, sorted by name): Helicone-Property-*, Portkey and "
        "Cloudflare metadata, LiteLLM tags, the capture's tags; rule:KIND:NAME entries keep the raw values "
        "attribution rules read (rule:header:x-team); null when none.",
    ),
    "provider": (
        "String",
        "openai, anthropic, ... (the capture's provider, else inferred from host, path, body).",
    ),
    "model": ("String", "The model as the response reports it, else as requested."),
    "endpoint": ("String", "The request path without query string, e.g. /v1/chat/completions."),
    "stream": ("Boolean", "True when the response was a stream (SSE)."),
    "status": ("Int32", "HTTP status of the response; null when the capture does not say."),
    "input_tokens": ("Int64", "Whole prompt, cache reads and writes included. Never null."),
    "cache_read_tokens": (
        "Int64",
        (
            "Prompt tokens read from the provider's cache (subset of input); "
            "null when unknown (an estimate cannot see the cache)."
        ),
    ),
    "cache_write_tokens": (
        "Int64",
        ("Prompt tokens written to the cache, any TTL (subset of input); null when unknown (as cache_read)."),
    ),
    "cache_write_1h_tokens": (
        "Int64",
        (
            "Cache writes with a 1-hour TTL (subset of cache_write); null when "
            "unknown (a token log has no TTL split)."
        ),
    ),
    "output_tokens": ("Int64", "Generated tokens, reasoning included. Never null."),
    "reasoning_tokens": (
        "Int64",
        (
            "Reasoning / thinking tokens (subset of output); null when unknown "
            "(a token log has no reasoning count). A provider's usage that omits it: 0."
        ),
    ),
    "usage_source": (
        "String",
        "reported (the provider said so), estimated (tokmeter counted), "
        "missing (no usage arrived: tokens are 0, none null).",
    ),
    "complete": (
        "Boolean",
        "The response reached its proper end (a stream's final event, a whole JSON body).",
    ),
    "service_tier": (
        "String",
        (
            "The tier that served the response as it says: standard, priority, flex, batch, "
            "scale, reserved or other; null when it does not say (priced as standard)."
        ),
    ),
    "speed": (
        "String",
        "fast (Anthropic fast mode), standard or other; null when the response does not say.",
    ),
    "source": ("String", "The file the capture came from."),
    "source_offset": ("Int64", "Byte offset of the capture in that file (0 for single-response files)."),
    "host": (
        "String",
        "The ingester that stored the row (--ingester-id, else the host name); null in older parts.",
    ),
}


class TokenCounts(TypedDict):
    """The token columns of a row (``TOKEN_COLUMNS``), as an extraction reads them."""

    input_tokens: int
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    cache_write_1h_tokens: int | None
    output_tokens: int
    reasoning_tokens: int | None


class Tag(TypedDict):
    """One entry of a row's ``tags`` (a Parquet map's form: entries sorted by key, keys unique)."""

    key: str
    value: str


def tag_list(tags: dict[str, str] | None) -> list[Tag] | None:
    """A row's ``tags`` value from a mapping: entries sorted by name; None for no tags."""
    if not tags:
        return None
    return [{"key": key, "value": tags[key]} for key in sorted(tags)]


class UsageRow(TypedDict):
    """One usage row as Python values: what extraction returns and ingest commits. The same columns, in
    the same order, as ``COLUMNS`` (String: str, Datetime: datetime, Boolean: bool, Int: int; ``| None``
    where a column may be null); ``tests/test_schema_row.py`` checks that they agree."""

    request_id: str
    response_id: str | None
    timestamp: datetime
    user: str | None
    team: str | None
    project: str | None
    api_key: str | None
    session: str | None
    tags: list[Tag] | None
    provider: str | None
    model: str | None
    endpoint: str | None
    stream: bool
    status: int | None
    input_tokens: int
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    cache_write_1h_tokens: int | None
    output_tokens: int
    reasoning_tokens: int | None
    usage_source: str
    complete: bool
    service_tier: str | None
    speed: str | None
    source: str
    source_offset: int
    host: str | None


def polars_schema() -> pl.Schema:
    """The usage row as a polars schema (the store's Parquet files use exactly this, plus the hive `date`)."""
    import polars as pl

    dtypes: dict[str, Any] = {
        "String": pl.String,
        "Datetime[us, UTC]": pl.Datetime("us", "UTC"),
        "Boolean": pl.Boolean,
        "Int32": pl.Int32,
        "Int64": pl.Int64,
        "List[Struct[key: String, value: String]]": pl.List(
            pl.Struct({"key": pl.String, "value": pl.String})
        ),
    }
    return pl.Schema({name: dtypes[dtype] for name, (dtype, _) in COLUMNS.items()})


def markdown_table() -> str:
    """The schema as a Markdown table (README's copy is checked against this by the tests)."""
    lines = ["| column | type | meaning |", "|---|---|---|"]
    lines += [f"| `{name}` | {dtype} | {meaning} |" for name, (dtype, meaning) in COLUMNS.items()]
    return "\n".join(lines)
