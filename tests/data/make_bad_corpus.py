"""Writes the malformed-input corpus in tests/data/bad/ and its manifest (run by hand; files are committed).

Every capture-log case holds one good capture before and one after the bad one, so the test can check that
the run finishes, counts the bad capture, and keeps every good capture beside it. ``manifest.json`` maps
each file to the rows and bad captures it must give. The huge cases (a 50 MB line, a million-event stream, a
gzip bomb) are made by the test itself in a temporary directory rather than committed.

    python tests/data/make_bad_corpus.py
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

OUT = Path(__file__).parent / "bad"
CANARY = "CANARY-PROMPT-7f3a"  # prompt text that must never reach anything tokmeter writes


def good(n: int) -> bytes:
    body = {
        "id": f"chatcmpl-g{n}",
        "object": "chat.completion",
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": f"{CANARY} answer"}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5},
    }
    record = {
        "ts": "2026-11-03T10:00:00Z",
        "request_id": f"good-{n}",
        "provider": "openai",
        "path": "/v1/chat/completions",
        "status": 200,
        "request": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": CANARY}]},
        "request_headers": {"Authorization": f"Bearer sk-{CANARY}"},
        "body": json.dumps(body),
    }
    return json.dumps(record).encode()


def usage_record(n: int, usage: str) -> bytes:
    """A capture whose body's usage object is given verbatim (as JSON text)."""
    body = '{"id":"c%d","object":"chat.completion","model":"gpt-4o-mini","usage":%s}' % (n, usage)
    record = {
        "ts": "2026-11-03T10:00:00Z",
        "request_id": f"case-{n}",
        "provider": "openai",
        "path": "/v1/chat/completions",
        "status": 200,
        "body": body,
    }
    return json.dumps(record).encode()


MANIFEST: dict[str, dict[str, int]] = {}


def log_case(name: str, middle: list[bytes], rows: int, bad: int, newline: bytes = b"\n") -> None:
    """Good line, the case's lines, good line. ``rows``/``bad`` count the middle only."""
    lines = [good(1), *middle, good(2)]
    (OUT / f"{name}.jsonl").write_bytes(newline.join(lines) + newline)
    MANIFEST[f"{name}.jsonl"] = {"rows": rows + 2, "bad": bad}


def file_case(name: str, data: bytes, rows: int, bad: int, meta: bytes | None = None) -> None:
    (OUT / name).write_bytes(data)
    if meta is not None:
        stem = name.rsplit(".", 1)[0]
        (OUT / f"{stem}.meta.json").write_bytes(meta)
    MANIFEST[name] = {"rows": rows, "bad": bad}


def invalid_json_cases() -> None:
    samples = {
        "truncated-object": b'{"ts": "2026-11-03T10:00:00Z", "request_id": "x", "bod',
        "trailing-comma": b'{"request_id": "x", "provider": "openai",}',
        "single-quotes": b"{'request_id': 'x'}",
        "unquoted-keys": b'{request_id: "x"}',
        "nan-literal": b'{"request_id": "x", "status": NaN}',
        "infinity-literal": b'{"request_id": "x", "status": Infinity}',
        "number-1e309": b'{"request_id": "x", "status": 1e309}',
        "lone-surrogate": b'{"request_id": "\\ud800", "provider": "openai"}',
        "bare-string": b'"just a string"',
        "bare-number": b"12345",
        "bare-array": b'[{"request_id": "x"}]',
        "bare-null": b"null",
        "no-capture-fields": b'{"hello": "world"}',
        "two-objects-one-line": b'{"provider": "openai"}{"provider": "openai"}',
        "nul-byte": b'{"provider": "openai", \x00 "status": 200}',
        "nul-after-object": b'{"provider": "openai"}\x00',
        "invalid-utf8": b'{"provider": "op\xff\xfeenai", "status": 200}',
        "overlong-utf8": b'{"provider": "\xc0\xafopenai"}',
        "binary-garbage": bytes(range(256)).replace(b"\n", b""),
        "control-char-in-string": b'{"provider": "open\x01ai", "body": "x\x02"}',
        "unterminated-string": b'{"provider": "openai", "body": "data: {',
        "deeply-nested": b'{"provider": "openai", "request": ' + b"[" * 2000 + b"]" * 2000 + b"}",
        "html-error-page": b"<html><body>502 Bad Gateway</body></html>",
        "mid-line-crash": b'{"ts": "2026-11-03T10:00:00Z", "request_id": "x", "provider": "openai", "status": 20',
    }
    for name, line in samples.items():
        log_case(f"json-{name}", [line], rows=0, bad=1)


def wrong_type_cases() -> None:
    bad_values = {
        "string": '"12"',
        "negative": "-1",
        "fractional": "1.5",
        "huge-exponent": "1e300",
        "bool": "true",
        "object": '{"n": 1}',
        "array": "[1]",
        "int-overflow": str(2**70),
        "negative-zero-float": "-0.5",
        "nan-as-string": '"NaN"',
        "empty-string": '""',
        "hex-string": '"0x10"',
    }
    for index, (name, value) in enumerate(bad_values.items()):
        usage = '{"prompt_tokens": %s, "completion_tokens": 3}' % value
        log_case(f"type-prompt-tokens-{name}", [usage_record(100 + index, usage)], rows=0, bad=1)
        usage = (
            '{"prompt_tokens": 3, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": %s}}'
            % value
        )
        log_case(f"type-cached-tokens-{name}", [usage_record(200 + index, usage)], rows=0, bad=1)
    # Accepted as they are: null means "not reported" (0); an integral float is a whole number.
    log_case(
        "type-null-is-zero", [usage_record(300, '{"prompt_tokens": null, "completion_tokens": 2}')], 1, 0
    )
    log_case(
        "type-integral-float", [usage_record(301, '{"prompt_tokens": 12.0, "completion_tokens": 2}')], 1, 0
    )
    # usage itself of the wrong type: garbled, not "no usage" (which would make it a free request)
    log_case("type-usage-is-string", [usage_record(302, '"lots"')], rows=0, bad=1)
    log_case("type-usage-is-array", [usage_record(303, "[1, 2]")], rows=0, bad=1)


def record(**fields: object) -> bytes:
    base = {
        "ts": "2026-11-03T10:00:00Z",
        "request_id": "m",
        "provider": "openai",
        "path": "/v1/chat/completions",
        "status": 200,
    }
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not None}).encode()


def field_cases() -> None:
    chat = '{"id":"c","object":"chat.completion","model":"gpt-4o-mini","usage":{"prompt_tokens":4,"completion_tokens":2}}'
    cases = {
        "status-string-word": (record(status="OK", body=chat), 0, 1),
        "status-out-of-range": (record(status=99999, body=chat), 0, 1),
        "status-float": (record(status=200.5, body=chat), 0, 1),
        "status-bool": (record(status=True, body=chat), 0, 1),
        "ts-garbage": (record(ts="yesterday", body=chat), 0, 1),
        "ts-bool": (record(ts=True, body=chat), 0, 1),
        "ts-huge-epoch": (record(ts=1e30, body=chat), 0, 1),
        "ts-array": (record(ts=[2026], body=chat), 0, 1),
        "body-number": (record(body=12), 0, 1),
        "body-bool": (record(body=True), 0, 1),
        "body-unknown-shape-2xx": (record(body='{"hello": "world"}', path=None), 0, 1),
        "body-unknown-shape-known-path": (
            record(body='{"hello": "world"}'),
            0,
            1,
        ),  # chat's path, no response
        "body-json-array-of-numbers": (record(body="[1, 2, 3]"), 0, 1),
        "request-not-object": (record(request="gpt-4o", body=chat), 1, 0),
        "headers-not-object": (record(response_headers=["x"], body=chat), 1, 0),
        "missing-ts-uses-date-header": (
            record(ts=None, response_headers={"date": "Tue, 03 Nov 2026 10:00:00 GMT"}, body=chat),
            1,
            0,
        ),
        "missing-body-2xx": (record(body=None), 0, 1),  # no body: nothing says a response of an API came back
        "empty-body-2xx": (record(body=""), 1, 0),
        "missing-request-id": (record(request_id=None, body=chat), 1, 0),
        "request-id-number": (record(request_id=12345, body=chat), 1, 0),
        "unknown-provider": (record(provider="acme-llm", path="/v1/chat/completions", body=chat), 1, 0),
        "unknown-path-known-shape": (record(path="/weird", body=chat), 1, 0),
        "error-500-html": (record(status=500, body="<html>oops</html>"), 1, 0),
        "error-429-json": (record(status=429, body='{"error": {"message": "slow down"}}'), 1, 0),
        "truncated-json-body-2xx": (record(body=chat[:40]), 1, 0),  # cut in transit: kept, incomplete
        "bom-inside-line": (b"\xef\xbb\xbf" + record(body=chat), 0, 1),  # a BOM is only allowed at file start
    }
    for name, (line, rows, bad) in cases.items():
        log_case(f"field-{name}", [line], rows, bad)


def stream_cases() -> None:
    def sse_record(body: str, **extra: object) -> bytes:
        return record(body=body, **extra)

    chunk = '{"id":"c","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}],"usage":null}'
    cases = {
        "sse-truncated-mid-event": ("data: " + chunk + '\n\ndata: {"id":"c","obj', 1, 0),
        "sse-garbage-events": ("data: not json\n\ndata: {also not}\n\ndata: [DONE]\n\n", 1, 0),
        "sse-only-comments": (": ping\n\n: ping\n\n", 1, 0),
        "sse-no-known-events": ('event: weird\ndata: {"a":1}\n\n', 1, 0),  # the path says chat: usage missing
        "sse-crlf": ("data: " + chunk + "\r\n\r\ndata: [DONE]\r\n\r\n", 1, 0),
        "sse-cr-only": ("data: " + chunk + "\r\rdata: [DONE]\r\r", 1, 0),
        "sse-bad-usage-type": (
            "data: " + chunk.replace('"usage":null', '"usage":{"prompt_tokens":"9"}') + "\n\n",
            0,
            1,
        ),
        "sse-anthropic-cut-after-start": (
            'event: message_start\ndata: {"type":"message_start","message":{"id":"m","model":"claude-haiku-4-5","usage":{"input_tokens":9,"output_tokens":1}}}\n\nevent: content_block_delta\ndata: {"type":"content_blo',
            1,
            0,
        ),
        "sse-anthropic-negative-delta": (
            'event: message_start\ndata: {"type":"message_start","message":{"id":"m","model":"claude-haiku-4-5","usage":{"input_tokens":9,"output_tokens":1}}}\n\nevent: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":-4}}\n\n',
            0,
            1,
        ),
        "sse-huge-data-line-of-nothing": ("data: " + "x" * 200_000 + "\n\n", 1, 0),
    }
    for name, (body, rows, bad) in cases.items():
        path = "/v1/messages" if "anthropic" in name else "/v1/chat/completions"
        provider = "anthropic" if "anthropic" in name else "openai"
        log_case(f"stream-{name}", [sse_record(body, path=path, provider=provider)], rows, bad)


def row_rule_cases() -> None:
    """Garbled captures are bad, never rows of 0 tokens; responses cut short on a known path stay rows."""
    chat = '{"id":"c","object":"chat.completion","model":"gpt-4o-mini","usage":{"prompt_tokens":%s,"completion_tokens":2}}'
    cases = {
        "no-status-many-a": (record(status=None, path=None, body="a" * 100_000), 0, 1),
        "no-status-many-brackets": (record(status=None, path=None, body="[" * 100_000), 0, 1),
        "brackets-on-chat-path": (record(status=None, body="[" * 100_000), 0, 1),
        "text-2xx-on-chat-path": (record(body="OK, done"), 0, 1),
        "empty-body-2xx-no-path": (record(body="", path=None), 0, 1),
        "cut-json-2xx-no-path": (record(body=(chat % 4)[:40], path=None), 0, 1),
        "prompt-tokens-minus-5": (record(body=chat % "-5"), 0, 1),
        "prompt-tokens-1e309": (record(body=chat % "1e309"), 0, 1),
        "prompt-tokens-over-a-billion": (record(body=chat % "1000000001"), 0, 1),
        "prompt-tokens-a-billion": (record(body=chat % "1000000000"), 1, 0),  # the largest count accepted
        "response-instead-of-body": (record(status=None, body=None, response=json.loads(chat % 4)), 0, 1),
        "error-body-no-status": (
            record(status=None, path=None, body='{"error": {"message": "slow down", "type": "rate_limit"}}'),
            1,
            0,
        ),
        "error-status-no-body": (record(status=503, body=None), 1, 0),
    }
    for name, (line, rows, bad) in cases.items():
        log_case(f"rule-{name}", [line], rows, bad)
    # A recorder that keeps no bodies and no request ids (mitmproxy's stream_large_bodies): twelve
    # requests, twelve rows under fallback ids (they once all became sha256 of the empty string).
    entries = [
        {
            "startedDateTime": f"2026-11-03T10:00:{n:02d}.000Z",
            "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions", "headers": []},
            "response": {
                "status": 200,
                "headers": [],
                "content": {"size": 0, "mimeType": "text/event-stream"},
            },
        }
        for n in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9)
    ]  # the last three started in the same second
    har = {"log": {"version": "1.2", "creator": {"name": "mitmproxy"}, "entries": entries}}
    file_case("rule-har-no-bodies-no-ids.har", json.dumps(har).encode(), rows=12, bad=0)


def line_ending_cases() -> None:
    log_case(
        "crlf-lines",
        [record(body='{"object":"chat.completion","usage":{"prompt_tokens":1,"completion_tokens":1}}')],
        rows=1,
        bad=0,
        newline=b"\r\n",
    )
    data = b"\xef\xbb\xbf" + good(1) + b"\n" + good(2) + b"\n"
    file_case("bom-at-file-start.jsonl", data, rows=2, bad=0)
    file_case("blank-lines-only.jsonl", b"\n\n   \n\t\n", rows=0, bad=0)
    file_case("empty-file.jsonl", b"", rows=0, bad=0)
    file_case("no-final-newline.jsonl", good(1) + b"\n" + good(2), rows=2, bad=0)


def single_file_cases() -> None:
    meta = json.dumps(
        {
            "ts": "2026-11-03T10:00:00Z",
            "request_id": "single",
            "provider": "openai",
            "path": "/v1/chat/completions",
            "status": 200,
        }
    ).encode()
    file_case(
        "single-truncated.json", b'{"id": "c", "object": "chat.completion", "usa', rows=1, bad=0, meta=meta
    )
    file_case("single-invalid-utf8.sse", b"data: \xff\xfe\n\n", rows=0, bad=1, meta=meta)
    file_case(
        "single-bad-sidecar.json",
        b'{"object":"chat.completion","usage":{"prompt_tokens":1,"completion_tokens":1}}',
        rows=0,
        bad=1,
        meta=b"{not json",
    )
    file_case(
        "single-sidecar-array.json",
        b'{"object":"chat.completion","usage":{"prompt_tokens":1,"completion_tokens":1}}',
        rows=0,
        bad=1,
        meta=b"[1]",
    )
    file_case("single-empty.sse", b"", rows=1, bad=0, meta=meta)
    file_case("single-binary.json", bytes(range(256)), rows=0, bad=1, meta=meta)


def compressed_cases() -> None:
    whole = gzip.compress(good(1) + b"\n" + good(2) + b"\n")
    file_case("corrupt-middle.jsonl.gz", whole[:20] + b"\x00" * 16 + whole[36:], rows=0, bad=1)
    file_case("truncated.jsonl.gz", whole[: len(whole) // 2], rows=0, bad=1)
    file_case("not-gzip-at-all.jsonl.gz", b"this is not gzip data", rows=0, bad=1)


def logged_case(fmt: str, good_lines: list[dict], bad_lines: list[bytes], rows: int) -> None:
    """A logged-record file (issue #20): a good record, the bad lines (truncated, wrong-typed), a good
    record; every bad line is one bad capture."""
    first, *rest = [json.dumps(line).encode() for line in good_lines]
    (OUT / f"{fmt}-bad-records.jsonl").write_bytes(b"\n".join([first, *bad_lines, *rest]) + b"\n")
    MANIFEST[f"{fmt}-bad-records.jsonl"] = {"rows": rows, "bad": len(bad_lines)}


def openai_batch_line(n: int, usage: object) -> dict:
    body = {
        "id": f"chatcmpl-b{n}",
        "object": "chat.completion",
        "created": 1762164000,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": CANARY}}],
        "usage": usage,
    }
    response = {"status_code": 200, "request_id": f"req_b{n}", "body": body}
    return {"id": f"batch_req_{n}", "custom_id": f"r-{n}", "response": response, "error": None}


def anthropic_batch_line(n: int, usage: object) -> dict:
    message = {
        "id": f"msg_b{n}",
        "type": "message",
        "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": CANARY}],
    }
    return {"custom_id": f"r-{n}", "result": {"type": "succeeded", "message": {**message, "usage": usage}}}


def batch_cases() -> None:
    good = {"prompt_tokens": 10, "completion_tokens": 5}
    cut = json.dumps(openai_batch_line(9, good)).encode()
    logged_case(
        "openai-batch",
        [openai_batch_line(1, good), openai_batch_line(2, good)],
        [
            cut[: len(cut) // 2],  # truncated
            json.dumps(openai_batch_line(3, {"prompt_tokens": "ten", "completion_tokens": 5})).encode(),
            json.dumps({"id": "batch_req_4", "custom_id": "r-4", "response": "200 OK"}).encode(),
            json.dumps(
                {"id": "batch_req_5", "custom_id": "r-5", "response": {"status_code": 200, "body": [1]}}
            ).encode(),
        ],
        rows=2,
    )
    good = {"input_tokens": 10, "output_tokens": 5}
    cut = json.dumps(anthropic_batch_line(9, good)).encode()
    logged_case(
        "anthropic-batch",
        [anthropic_batch_line(1, good), anthropic_batch_line(2, good)],
        [
            cut[: len(cut) // 2],
            json.dumps(anthropic_batch_line(3, {"input_tokens": -1, "output_tokens": 5})).encode(),
            json.dumps({"custom_id": "r-4", "result": {"type": "exploded"}}).encode(),
            json.dumps({"custom_id": "r-5", "result": {"type": "succeeded", "message": "hi"}}).encode(),
            json.dumps({"custom_id": "r-6", "result": []}).encode(),
        ],
        rows=2,
    )


def bedrock_record(n: int, **fields: object) -> dict:
    return {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": "2026-11-03T10:00:00Z",
        "accountId": "123456789012",
        "identity": {"arn": "arn:aws:sts::123456789012:assumed-role/App/s"},
        "region": "us-east-1",
        "requestId": f"bedrock-{n}",
        "operation": "Converse",
        "modelId": "anthropic.claude-3-haiku-20240307-v1:0",
        "input": {
            "inputBodyJson": {"messages": [{"role": "user", "content": [{"text": CANARY}]}]},
            "inputTokenCount": 10,
        },
        "output": {
            "outputBodyJson": {"usage": {"inputTokens": 10, "outputTokens": 5}},
            "outputTokenCount": 5,
        },
        **fields,
    }


def bedrock_cases() -> None:
    cut = json.dumps(bedrock_record(9)).encode()
    logged_case(
        "bedrock-invocation-log",
        [bedrock_record(1), bedrock_record(2)],
        [
            cut[: len(cut) // 2],
            json.dumps(bedrock_record(3, output={"outputTokenCount": "five"})).encode(),
            json.dumps(bedrock_record(4, output={"outputBodyJson": {"usage": {"inputTokens": -3}}})).encode(),
            json.dumps(bedrock_record(5, modelId=7)).encode(),
            json.dumps(bedrock_record(6, schemaType="SomethingElse")).encode(),
            json.dumps(bedrock_record(7, output={"outputBodyJson": {"usage": "lots"}})).encode(),
        ],
        rows=2,
    )


def litellm_payload(n: int, **fields: object) -> dict:
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    response = {
        "id": f"chatcmpl-l{n}",
        "object": "chat.completion",
        "model": "gpt-4o",
        "choices": [],
        "usage": usage,
    }
    return {
        "id": f"chatcmpl-l{n}",
        "call_type": "acompletion",
        "status": "success",
        "custom_llm_provider": "openai",
        "startTime": 1762164000.0,
        "model": "gpt-4o",
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "metadata": {"user_api_key_hash": "sk-CANARY-hash", "user_api_key_alias": "svc"},
        "messages": [{"role": "user", "content": CANARY}],
        "response": response,
        **fields,
    }


def litellm_cases() -> None:
    cut = json.dumps(litellm_payload(9)).encode()
    logged_case(
        "litellm",
        [litellm_payload(1), litellm_payload(2)],
        [
            cut[: len(cut) // 2],
            json.dumps(litellm_payload(3, response={"object": "chat.completion", "usage": "many"})).encode(),
            json.dumps(litellm_payload(4, response=None, prompt_tokens="ten")).encode(),
            json.dumps(litellm_payload(5, call_type=None)).encode(),
            json.dumps(litellm_payload(6, startTime="yesterday")).encode(),
        ],
        rows=2,
    )


def otel_request(n: int, usage: object = 10, **span_fields: object) -> dict:
    attrs = [
        {"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
        {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
        {"key": "gen_ai.response.id", "value": {"stringValue": f"chatcmpl-o{n}"}},
        {
            "key": "gen_ai.usage.input_tokens",
            "value": {"intValue": str(usage) if isinstance(usage, int) else usage},
        },
        {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "5"}},
        {"key": "gen_ai.input.messages", "value": {"stringValue": CANARY}},
    ]
    span = {
        "traceId": "ab" * 16,
        "spanId": f"{n:016x}",
        "name": "chat gpt-4o",
        "startTimeUnixNano": "1762164000000000000",
    }
    span = {**span, "attributes": attrs, **span_fields}
    return {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": [span]}]}]}


def otel_cases() -> None:
    cut = json.dumps(otel_request(9)).encode()
    logged_case(
        "otel",
        [otel_request(1), otel_request(2)],
        [
            cut[: len(cut) // 2],
            json.dumps(otel_request(3, usage=-4)).encode(),
            json.dumps(otel_request(4, usage={"many": 1})).encode(),
            json.dumps({"resourceSpans": {"not": "a list"}}).encode(),
            json.dumps(otel_request(5, startTimeUnixNano="soon")).encode(),
        ],
        rows=2,
    )


def kong_entry(n: int, usage: object = None, **fields: object) -> dict:
    usage = usage if usage is not None else {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    meta = {"provider_name": "openai", "request_model": "gpt-4o", "response_model": "gpt-4o"}
    return {
        "request": {
            "id": f"kong-{n}",
            "uri": "/chat",
            "method": "POST",
            "headers": {"authorization": "REDACTED", "x-prompt": CANARY},
        },
        "response": {"status": 200, "headers": {}},
        "latencies": {"kong": 1, "proxy": 100, "request": 101},
        "started_at": 1762164000000,
        "client_ip": "127.0.0.1",
        "ai": {"proxy": {"meta": meta, "usage": usage, "payload": {"request": CANARY}}},
        **fields,
    }


def cloudflare_record(n: int, **fields: object) -> dict:
    record = {
        "id": f"cf-{n}",
        "created_at": "2025-11-03T10:20:01Z",
        "provider": "openai",
        "model": "gpt-4o-mini",
    }
    return {
        **record,
        "success": True,
        "status_code": 200,
        "cached": False,
        "tokens_in": 10,
        "tokens_out": 5,
        **fields,
    }


def gateway_cases() -> None:
    cut = json.dumps(kong_entry(9)).encode()
    logged_case(
        "kong",
        [kong_entry(1), kong_entry(2)],
        [
            cut[: len(cut) // 2],
            json.dumps(kong_entry(3, usage={"prompt_tokens": "10", "completion_tokens": 5})).encode(),
            json.dumps(kong_entry(4, usage=[10, 5])).encode(),
            json.dumps(kong_entry(5, ai="proxy")).encode(),
            json.dumps(kong_entry(6, started_at="noon")).encode(),
        ],
        rows=2,
    )
    cut = json.dumps(cloudflare_record(9)).encode()
    logged_case(
        "cloudflare-ai-gateway",
        [cloudflare_record(1), cloudflare_record(2)],
        [
            cut[: len(cut) // 2],
            json.dumps(cloudflare_record(3, tokens_in=-1)).encode(),
            json.dumps(cloudflare_record(4, tokens_out=2.5)).encode(),
            json.dumps(cloudflare_record(5, created_at=[2025])).encode(),
            json.dumps(cloudflare_record(6, status_code="teapot")).encode(),
        ],
        rows=2,
    )


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.iterdir():
        old.unlink()
    invalid_json_cases()
    wrong_type_cases()
    field_cases()
    stream_cases()
    row_rule_cases()
    line_ending_cases()
    single_file_cases()
    compressed_cases()
    batch_cases()
    bedrock_cases()
    litellm_cases()
    otel_cases()
    gateway_cases()
    (OUT.parent / "bad-manifest.json").write_text(json.dumps(MANIFEST, indent=1, sort_keys=True) + "\n")
    print(f"{len(MANIFEST)} cases in {OUT}")


if __name__ == "__main__":
    main()
