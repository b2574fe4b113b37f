"""Helpers of the handler tests: events from events/, constants (engine fakes: tests/support).

A module with a unique name: ``from conftest import`` is ambiguous once several test folders, each
with its own conftest.py, are collected in one run.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from plate_ocr.pipeline import Pipeline

EVENTS = Path(__file__).resolve().parents[2] / "events"
FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
REGION = "ap-northeast-2"
BUCKET = "plate-ocr-test-bucket"
#: Where the fake locator puts the plate of events/plate.jpg.
BOX = ((170.0, 220.0), (470.0, 220.0), (470.0, 286.0), (170.0, 286.0))


class BrokenPipelineFactory:
    """get_pipeline() of a process whose models cannot be loaded."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> Pipeline:
        from plate_ocr.errors import ModelUnavailableError

        self.calls += 1
        raise ModelUnavailableError("The recogniser weights are missing (korplate.pth).")


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of events/<name>.json (tests may change it)."""
    return copy.deepcopy(json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8")))


def event_body(event: dict[str, Any]) -> bytes:
    body = event["body"] or ""
    return base64.b64decode(body) if event["isBase64Encoded"] else body.encode()


def with_body(event: dict[str, Any], body: bytes, content_type: str | None) -> dict[str, Any]:
    event = copy.deepcopy(event)
    headers = {k: v for k, v in (event["headers"] or {}).items() if k.lower() != "content-type"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    event["headers"] = headers
    event["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
    event["body"] = base64.b64encode(body).decode() if body else None
    event["isBase64Encoded"] = bool(body)
    return event


def json_body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def batch_event(keys: list[str], etag: str | None = None) -> dict[str, Any]:
    """The shared batch event, re-pointed at the test bucket (and at ``keys``)."""
    template = load_event("batch-sqs-s3")
    record = template["Records"][0]
    records = []
    for index, key in enumerate(keys):
        body = json.loads(record["body"])
        obj = body["Records"][0]["s3"]["object"]
        body["Records"][0]["s3"]["bucket"]["name"] = BUCKET
        obj["key"] = quote_plus(key, safe="/")
        if etag is not None:
            obj["eTag"] = etag
        else:
            obj.pop("eTag")
        new = copy.deepcopy(record)
        new["messageId"] = f"00000000-0000-0000-0000-{index:012d}"
        new["body"] = json.dumps(body, ensure_ascii=False)
        records.append(new)
    return {"Records": records}
