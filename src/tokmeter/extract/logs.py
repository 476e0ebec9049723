"""Usage records that other systems logged: batch result files, cloud invocation logs, gateway logs and
OpenTelemetry exports (their sources are ``sources/batch.py`` and its siblings). A source hands over the
record as it was written, with the capture fields it could tell (time, request id, provider, status,
attribution); its usage is read here.

Where a record carries the provider's own response body, that body is read by the provider's reader, so
the token conventions are exactly the provider's (``anthropic.py``, ``openai.py``, ``bedrock.py``):

* **openai-batch**: ``response.body``: a chat completion, a Responses API response or an embeddings list
  (input = ``usage.prompt_tokens``, no output). A line of the error file, or a non-2xx body, is a row
  without usage (an error response).
* **anthropic-batch**: ``result.message`` for ``succeeded`` results; ``errored`` results are error
  responses, ``canceled`` and ``expired`` ones batch requests never run: rows without usage.

Every batch row is ``service_tier = batch``.

* **bedrock-invocation-log**: the usage inside ``output.outputBodyJson`` when the body carries one (a
  Converse body: ``bedrock.py``; an InvokeModel body of an Anthropic model: ``anthropic.py``), which wins
  over the record's own counts because it is the response itself (it also splits cache writes by TTL);
  else the counts Bedrock adds to every record (streams, whose bodies are lists of events, and models
  whose bodies carry none): ``input.inputTokenCount`` (without the cache, as Converse counts it) +
  ``input.cacheReadInputTokenCount`` + ``input.cacheWriteInputTokenCount``, and
  ``output.outputTokenCount``. A record with an ``errorCode`` and no counts is an error response. The
  model is ``modelId``; an ARN names the model by its last part (``…:inference-profile/us.anthropic.…``
  is ``us.anthropic.…``, ``…:foundation-model/anthropic.…`` is ``anthropic.…``); an application
  inference profile's or a provisioned model's ARN names no model and stays as it is (unpriced).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..capture import Capture
from ..errors import BadCaptureError
from . import anthropic, bedrock, rule
from .base import Extracted, as_mapping, as_str, token_count
from .detect import api_from_body
from .registry import family


@dataclass(slots=True)
class LogRead:
    """What a logged record says: its API (None when it names none), usage, whether the call was
    streamed, the provider when the record implies one, and why its usage is missing (``rule.py``)."""

    api: str | None
    extracted: Extracted
    stream: bool = False
    provider: str | None = None
    missing: str | None = None


Reader = Callable[[Mapping[str, Any]], LogRead]


def read(capture: Capture, readers: Mapping[str, Reader]) -> LogRead:
    """The reading of one logged record (``capture.body`` is the record as its source read it), by the
    reader of its format in ``readers``."""
    record = as_mapping(capture.body)
    if record is None:
        raise BadCaptureError(f"a {capture.format} record must be a JSON object")
    found = readers[capture.format](record)
    if found.missing is None and found.extracted.usage_source == "missing":
        found.missing = rule.NO_USAGE
    return found


def from_openai_batch(record: Mapping[str, Any]) -> LogRead:
    response = as_mapping(record.get("response")) or {}
    body = as_mapping(response.get("body")) or {}
    status = response.get("status_code")
    failed = not response or (isinstance(status, int) and not 200 <= status < 300) or rule.is_error_body(body)
    if failed:
        return _batch(LogRead(None, Extracted(), missing=rule.ERROR_RESPONSE))
    if body.get("object") == "list":
        return _batch(LogRead(None, embeddings_usage(body)))
    return _batch(_provider_body(body, "response.body"))


def from_anthropic_batch(record: Mapping[str, Any]) -> LogRead:
    result = as_mapping(record.get("result")) or {}
    kind = result.get("type")
    if kind == "succeeded":
        return _batch(_provider_body(as_mapping(result.get("message")) or {}, "result.message"))
    missing = rule.ERROR_RESPONSE if kind == "errored" else rule.NOT_RUN
    return _batch(LogRead(anthropic.API, Extracted(), missing=missing))


def _provider_body(body: Mapping[str, Any], where: str) -> LogRead:
    """A provider's JSON response body, read by that provider's reader."""
    api = api_from_body(body, None)
    api_family = family(api)
    if api_family is None:
        raise BadCaptureError(f"{where} is no response of a known API")
    rule.check_usage_object(body)
    return LogRead(api, api_family.from_json(body))


def embeddings_usage(body: Mapping[str, Any]) -> Extracted:
    """An OpenAI embeddings list: input is ``usage.prompt_tokens``, there is no output."""
    usage = as_mapping(body.get("usage"))
    ex = Extracted(model=as_str(body.get("model")))
    if usage is not None:
        ex.input_tokens = token_count(usage, "prompt_tokens")
        ex.usage_source = "reported"
    return ex


def _batch(found: LogRead) -> LogRead:
    found.extracted.service_tier = "batch"
    return found


def from_bedrock_log(record: Mapping[str, Any]) -> LogRead:
    operation = as_str(record.get("operation")) or ""
    api = bedrock.INVOKE if operation.startswith("InvokeModel") else bedrock.CONVERSE
    given = as_mapping(record.get("input")) or {}
    output = as_mapping(record.get("output")) or {}
    body = as_mapping(output.get("outputBodyJson"))
    missing = None
    if body is not None:
        rule.check_usage_object(body)
    if body is not None and as_mapping(body.get("usage")) is not None:
        ex = bedrock.invoke_from_json(body) if api == bedrock.INVOKE else bedrock.from_json(body)
    elif "inputTokenCount" in given or "outputTokenCount" in output:
        ex = _bedrock_counts(given, output)
    else:
        ex = Extracted()
        missing = rule.ERROR_RESPONSE if record.get("errorCode") else None
    ex.model = bedrock_model(as_str(record.get("modelId")))
    return LogRead(api, ex, operation.endswith("Stream"), "bedrock", missing)


def _bedrock_counts(given: Mapping[str, Any], output: Mapping[str, Any]) -> Extracted:
    ex = Extracted()
    read = token_count(given, "cacheReadInputTokenCount", "input")
    write = token_count(given, "cacheWriteInputTokenCount", "input")
    ex.cache_read_tokens, ex.cache_write_tokens = read, write
    ex.cache_write_1h_tokens = None if write else 0  # the counts do not split writes by TTL
    ex.input_tokens = token_count(given, "inputTokenCount", "input") + read + write
    ex.output_tokens = token_count(output, "outputTokenCount", "output")
    ex.reasoning_tokens = None if ex.output_tokens else 0  # nor say how much of the output was reasoning
    ex.usage_source = "reported"
    return ex


_MODEL_ARN = ("inference-profile/", "foundation-model/")


def bedrock_model(model_id: str | None) -> str | None:
    """The model a ``modelId`` names: itself, or the model id at the end of an inference profile's or a
    foundation model's ARN (other ARNs name no model: kept as they are)."""
    if model_id is None or not model_id.startswith("arn:"):
        return model_id
    resource = model_id.split(":", 5)[-1]
    for kind in _MODEL_ARN:
        if resource.startswith(kind) and resource[len(kind) :]:
            return resource[len(kind) :]
    return model_id


READERS: dict[str, Reader] = {
    "openai-batch": from_openai_batch,
    "anthropic-batch": from_anthropic_batch,
    "bedrock-invocation-log": from_bedrock_log,
}
