"""Every file in events/ is a valid event of its kind (the same files feed `sam local invoke`)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from functional_support import EVENTS

from plate_ocr.batch import parse_notification
from plate_ocr.imaging import inspect_image

EVENT_FILES = sorted(EVENTS.glob("*.json"))
API_KEYS = {
    "resource",
    "path",
    "httpMethod",
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "pathParameters",
    "requestContext",
    "body",
    "isBase64Encoded",
}


def test_there_is_an_event_for_every_route_and_the_batch():
    names = {p.stem for p in EVENT_FILES}

    assert {
        "api-get-index",
        "api-get-docs",
        "api-get-openapi",
        "api-get-healthz",
        "api-get-status",
        "api-post-warmup",
        "api-post-ocr-multipart",
        "api-post-ocr-jpeg",
        "api-post-ocr-dryrun",
        "api-post-ocr-burst",
        "api-post-anonymize",
        "api-post-uploads",
        "api-get-result",
        "batch-sqs-s3",
    } <= names


@pytest.mark.parametrize("path", EVENT_FILES, ids=lambda p: p.stem)
def test_event_file_is_small_json(path: Path):
    assert path.stat().st_size < 200_000
    assert isinstance(json.loads(path.read_text(encoding="utf-8")), dict)


@pytest.mark.parametrize(
    "path", [p for p in EVENT_FILES if p.stem.startswith("api-")], ids=lambda p: p.stem
)
def test_api_event_has_the_rest_proxy_shape(path: Path):
    event = json.loads(path.read_text(encoding="utf-8"))

    assert set(event) >= API_KEYS
    assert event["httpMethod"] in ("GET", "POST")
    assert event["path"].startswith("/")
    assert event["requestContext"]["requestId"]
    assert event["requestContext"]["stage"]
    headers = event["headers"]
    assert {k: [v] for k, v in headers.items()} == event["multiValueHeaders"]
    if event["body"] is not None:
        assert event["isBase64Encoded"] is True
        body = base64.b64decode(event["body"], validate=True)
        content_type = headers["Content-Type"]
        if content_type.startswith("image/"):
            # a real photo wherever a body is needed
            assert inspect_image(body, max_bytes=10**7, max_pixels=10**8).format == "jpeg"
        elif content_type.startswith("multipart/form-data"):
            assert b'name="image_file"' in body
            assert (EVENTS / "plate.jpg").read_bytes() in body


def test_batch_event_is_sqs_carrying_s3_notifications():
    event = json.loads((EVENTS / "batch-sqs-s3.json").read_text(encoding="utf-8"))

    for record in event["Records"]:
        assert record["eventSource"] == "aws:sqs"
        assert record["messageId"]
        refs = parse_notification(record["body"])
        assert len(refs) == 1
        assert refs[0].key.startswith("incoming/")
