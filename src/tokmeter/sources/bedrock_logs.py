"""Amazon Bedrock model invocation logs (``"schemaType": "ModelInvocationLog"``): JSON Lines, as Bedrock
delivers them to S3 (``AWSLogs/<account>/BedrockModelInvocationLogs/<region>/YYYY/MM/DD/HH/*.json.gz``)
and as a CloudWatch Logs export task writes its log group to S3 (``<task>/<stream>/000000.gz``, each
line the event's ISO time, a space, then the record).

A record becomes a capture whose body is the record (its usage is read by ``extract/logs.py``) and whose
metadata says:

* ``request_id``: ``requestId``, the ``x-amzn-RequestId`` a proxy in front of Bedrock sees, so a request
  both logged and captured is one row;
* ``ts``: ``timestamp``; ``provider``: bedrock; ``path``: ``/model/<modelId>/<operation>``, as the
  runtime API's (``converse``, ``converse-stream``, ``invoke``, ``invoke-with-response-stream``);
* ``user``: the caller from ``identity.arn``: the role session name of an assumed role
  (``arn:aws:sts::<account>:assumed-role/<role>/<session>``), else the ARN's last part (an IAM user's
  name); ``tags``: ``account_id`` (``accountId``) and ``region``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from .records import logged_reader
from .sniff import EXPORT_TIME

FORMAT = "bedrock-invocation-log"
SCHEMA = "ModelInvocationLog"
_OPERATIONS = {
    "Converse": "converse",
    "ConverseStream": "converse-stream",
    "InvokeModel": "invoke",
    "InvokeModelWithResponseStream": "invoke-with-response-stream",
}


read_bedrock_logs = logged_reader(
    FORMAT, lambda record, _path, _options: [(bedrock_meta(record), record)], strip=EXPORT_TIME
)


def bedrock_meta(record: dict[str, Any]) -> dict[str, Any]:
    """The capture fields of one invocation log record (ValueError: it is not one)."""
    if record.get("schemaType") != SCHEMA:
        raise ValueError(f"not a Bedrock invocation log record: schemaType is not {SCHEMA}")
    model = record.get("modelId")
    operation = record.get("operation")
    if not isinstance(model, str) or not model:
        raise ValueError("modelId is missing or not a string")
    identity = record.get("identity")
    arn = identity.get("arn") if isinstance(identity, dict) else None
    tags = {
        key: value
        for key, value in (("account_id", record.get("accountId")), ("region", record.get("region")))
        if isinstance(value, str) and value
    }
    verb = _OPERATIONS.get(operation) if isinstance(operation, str) else None
    return {
        "ts": record.get("timestamp"),
        "request_id": record.get("requestId"),
        "provider": "bedrock",
        "path": f"/model/{quote(model, safe='')}/{verb}" if verb else None,
        "user": caller(arn) if isinstance(arn, str) else None,
        "tags": tags,
        "request": {"stream": isinstance(operation, str) and operation.endswith("Stream")},
    }


def caller(arn: str) -> str | None:
    """Who called, from an IAM identity ARN: an assumed role's session name, else the last path part."""
    resource = arn.split(":", 5)[-1] if arn.startswith("arn:") else arn
    parts = resource.split("/")
    if parts[0] == "assumed-role" and len(parts) >= 3:
        return parts[-1] or None
    return parts[-1] or None
