"""Usage that never arrived: estimated by counting tokens offline.

A 2xx stream that ended without usage (OpenAI Chat without ``stream_options.include_usage``, a
cancelled or cut stream) gets its usage estimated, and its row ``usage_source = "estimated"``:

* output: the streamed text (``stream_text.py``) and the end-of-turn token; reasoning: the streamed
  thinking text (a subset of output);
* input: the captured request body's prompt (``messages`` / ``input`` / ``prompt`` / ``contents``, with
  ``system`` / ``instructions`` and the tool definitions), plus 4 tokens per message (framing and
  role) and 3 for the reply, as OpenAI counts for its chat models. Images and files are not counted. Without a prompt in
  the capture (many proxies keep only ``model`` and ``stream``) input stays 0, and the ingest summary
  says how many rows that concerns;
* cache reads and writes cannot be told from the outside: unknown (null), priced as uncached input.

An Anthropic stream cut after ``message_start`` (so without the final ``message_delta``) keeps the
usage it reported (input and cache are exact there) and gets its output estimated: the larger of the
reported and the counted output. A stream with nothing to count (no text, no prompt) stays ``missing``.

Tokenizer (all offline, vocabularies embedded in ``bpe-openai``): ``cl100k_base`` for GPT-4 and
GPT-3.5, ``o200k_base`` for everything else. Only streams that lack usage are decoded here, so the
normal path never pays for it. See BENCHMARKS.md for the measured error per provider.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import orjson

from . import bedrock, gemini
from .base import Extracted, as_str
from .eventstream import EventStream
from .registry import family
from .sse import looks_like_sse
from .stream_text import StreamText, anthropic_messages, bedrock_converse, from_sse, gemini_chunks
from .wire import array_prefix, eventstream_bytes

PROMPT_KEYS = ("messages", "input", "prompt", "contents")
CONTEXT_KEYS = ("system", "instructions", "systemInstruction", "system_instruction", "preamble")
TOOL_KEYS = ("tools", "functions", "toolConfig")
TOKENS_PER_MESSAGE = 4  # OpenAI's count for chat models: 3 tokens of framing, and the role
TOKENS_PER_REPLY = 3
END_OF_MESSAGE = 1  # the end-of-turn token every response ends with, billed as output
# Keys whose values are not prompt text (ids, roles, media, cache hints, opaque blobs).
_NOT_TEXT = frozenset(
    {
        "type",
        "role",
        "id",
        "tool_call_id",
        "tool_use_id",
        "call_id",
        "image_url",
        "url",
        "data",
        "source",
        "media_type",
        "mime_type",
        "mimeType",
        "inline_data",
        "inlineData",
        "file_data",
        "fileData",
        "bytes",
        "cache_control",
        "signature",
        "encrypted_content",
        "detail",
        "status",
    }
)
_JSON_VALUED = frozenset({"input", "args", "arguments", "parameters"})


def needed(api: str | None, ex: Extracted, status: int | None) -> bool:
    """Whether a stream's reading lacks usage that estimation can supply (cheap: no body is read)."""
    api_family = family(api)
    if api_family is None or (status is not None and not 200 <= status < 300):
        return False
    if ex.usage_source == "missing":
        return True
    return api_family.estimate_when_cut and ex.usage_source == "reported" and not ex.complete


def fill(
    ex: Extracted,
    api: str,
    body: Any,
    content_type: str | None,
    request: Mapping[str, Any],
    provider: str | None,
) -> str | None:
    """Estimate what ``ex`` lacks from the stream's text and the request (see the module doc). Returns
    what was estimated, for the ingest summary's counts: ``full``, ``no-prompt`` (input 0: no prompt
    captured), ``partial`` (output only), or None (nothing)."""
    found = _stream_text(api, body, content_type)
    if found is None:
        return None
    model = ex.model or as_str(request.get("model"))
    if ex.usage_source == "reported":
        if found.final_usage_seen:
            return None
        _fill_partial(ex, found, provider, model)
        return "partial"
    return _fill_missing(ex, found, request, provider, model)


def _fill_missing(
    ex: Extracted, found: StreamText, request: Mapping[str, Any], provider: str | None, model: str | None
) -> str | None:
    prompt = request_tokens(request, provider, model)
    if found.empty and prompt is None:
        return None
    reasoning, output = _output_tokens(found, provider, model)
    ex.output_tokens, ex.reasoning_tokens = output, reasoning
    ex.input_tokens = prompt or 0
    ex.cache_read_tokens = ex.cache_write_tokens = ex.cache_write_1h_tokens = None  # unknown
    ex.usage_source = "estimated"
    ex.notes.append("usage estimated" + ("" if prompt is not None else "; no prompt captured: input 0"))
    return "full" if prompt is not None else "no-prompt"


def _fill_partial(ex: Extracted, found: StreamText, provider: str | None, model: str | None) -> None:
    reasoning, output = _output_tokens(found, provider, model)
    ex.output_tokens = max(ex.output_tokens, output)
    ex.reasoning_tokens = max(ex.reasoning_tokens or 0, reasoning)
    ex.usage_source = "estimated"
    ex.notes.append("output estimated: the stream ended before its final usage")


def _output_tokens(found: StreamText, provider: str | None, model: str | None) -> tuple[int, int]:
    """(reasoning, output) tokens of a stream's text; output includes reasoning and the end token."""
    if found.empty:
        return 0, 0
    reasoning = count_tokens("".join(found.reasoning), provider, model)
    return reasoning, count_tokens("".join(found.output), provider, model) + reasoning + END_OF_MESSAGE


def _stream_text(api: str, body: Any, content_type: str | None) -> StreamText | None:
    binary = eventstream_bytes(body, content_type)
    if binary is not None:
        stream = EventStream(binary)
        if api == bedrock.CONVERSE:
            return bedrock_converse(stream)
        # InvokeModel streams carry Anthropic events inside base64 chunks
        return (
            anthropic_messages(bedrock._anthropic_events(stream, [], [])) if api == bedrock.INVOKE else None
        )
    if isinstance(body, list):
        return gemini_chunks(body) if api == gemini.API else None
    if isinstance(body, bytes | bytearray | memoryview):
        body = bytes(body).decode("utf-8", errors="replace")
    if not isinstance(body, str):
        return None
    if looks_like_sse(body):
        return from_sse(api, body)
    if api == gemini.API and body.lstrip().startswith("["):
        try:
            return gemini_chunks(orjson.loads(body))
        except orjson.JSONDecodeError:
            return gemini_chunks(array_prefix(body))
    return None


def request_tokens(request: Mapping[str, Any], provider: str | None, model: str | None) -> int | None:
    """The prompt's estimated size, or None when the captured request holds no prompt."""
    if not any(request.get(key) for key in PROMPT_KEYS):
        return None
    texts: list[str] = []
    messages = 0
    for key in (*CONTEXT_KEYS, *PROMPT_KEYS):
        value = request.get(key)
        if key in PROMPT_KEYS and value:
            messages += len(value) if isinstance(value, list) else 1
        _collect_text(value, texts)
    tools = [request[key] for key in TOOL_KEYS if request.get(key)]
    if tools:
        texts.append(orjson.dumps(tools).decode())
    overhead = TOKENS_PER_MESSAGE * messages + TOKENS_PER_REPLY
    return sum(count_tokens(text, provider, model) for text in texts) + overhead


def _collect_text(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, list):
        for item in value:
            _collect_text(item, out)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if key in _NOT_TEXT:
                continue
            if key in _JSON_VALUED and isinstance(item, Mapping | list):
                out.append(orjson.dumps(item).decode())
            else:
                _collect_text(item, out)


def encoding_name(provider: str | None, model: str | None) -> str:
    """The BPE vocabulary used to count a model's tokens."""
    name = (model or "").lower().rsplit("/", 1)[-1]
    if name.startswith(("gpt-3.5", "gpt-35")) or (
        name.startswith("gpt-4") and not name.startswith(("gpt-4o", "gpt-4.1", "gpt-4.5"))
    ):
        return "cl100k_base"
    return "o200k_base"


def count_tokens(text: str, provider: str | None, model: str | None) -> int:
    """Tokens in ``text`` for this provider's model (an estimate for all but OpenAI's own models)."""
    if not text:
        return 0
    encoding = _encoding(encoding_name(provider, model))
    if encoding is None:
        return (len(text.encode("utf-8")) + 3) // 4  # no tokenizer installed: ~4 bytes per token
    return len(encoding.encode_ordinary(text))


@lru_cache(maxsize=4)
def _encoding(name: str) -> Any:
    # bpe-openai loads its embedded vocabularies with a deprecated importlib call: keep that quiet
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import bpe_openai
        except ImportError:
            return None
        encoding = bpe_openai.get_encoding(name)
        encoding.encode_ordinary("warm up")  # the vocabulary loads on first use
    return encoding
