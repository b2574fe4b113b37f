"""The built Lambda image answers every event in events/ under `sam local invoke` (samlocal.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest
from samlocal import BUCKET, EVENTS, ColdStart, Invocation, SamLocal, cold_start_of

from plate_ocr.batch import result_key
from plate_ocr.config import Settings

pytestmark = pytest.mark.container

#: The plate scripts/make_events.py renders into events/plate.jpg and the API events.
EXPECTED_PLATE = "12가3456"
#: The result id events/api-get-result.json asks for.
RESULT_ID = "0123456789abcdef0123456789abcdef"
#: The invocation whose figures make ApiFunction's COLD_START line: a fresh container reads a scene.
API_COLD_START_EVENT = "api-post-ocr-jpeg"

API_EVENTS = sorted(EVENTS.glob("api-*.json"))


def _check_reading(inv: Invocation, expect_model: bool) -> None:
    body = inv.body_json()
    if expect_model:
        assert inv.response["statusCode"] == 200, body
        assert body["plate_number"] == EXPECTED_PLATE, body
    else:
        assert inv.response["statusCode"] == 503, body
        assert body["error"] == "model_unavailable", body


def _check_html(marker: str) -> Callable[[Invocation, bool], None]:
    def check(inv: Invocation, _expect_model: bool) -> None:
        assert inv.response["statusCode"] == 200
        assert marker in inv.response["body"].lower()

    return check


def _check_openapi(inv: Invocation, _expect_model: bool) -> None:
    assert inv.response["statusCode"] == 200
    assert "/ocr/license-plate" in inv.body_json()["paths"]


def _check_healthz(inv: Invocation, _expect_model: bool) -> None:
    assert (inv.response["statusCode"], inv.response["body"]) == (200, "ok")


def _check_status(inv: Invocation, _expect_model: bool) -> None:
    # A fresh container has loaded nothing yet.
    assert inv.response["statusCode"] == 200
    assert inv.body_json()["status"] == "loading"


def _check_result(inv: Invocation, _expect_model: bool) -> None:
    assert inv.response["statusCode"] == 200, inv.response["body"]
    assert inv.body_json() == _SEEDED_RESULT


def _check_dry_run(inv: Invocation, _expect_model: bool) -> None:
    body = inv.body_json()
    assert inv.response["statusCode"] == 200, body
    assert body["dry_run"] is True
    assert body["image"]["format"] == "jpeg"
    assert body["image"]["width"] > 0 and body["image"]["height"] > 0


def _check_upload(inv: Invocation, _expect_model: bool) -> None:
    body = inv.body_json()
    assert inv.response["statusCode"] == 200, body
    assert body["key"].startswith("incoming/")
    assert body["result_path"] == f"/results/{body['result_id']}"
    assert body["fields"]


def _check_warmup(inv: Invocation, expect_model: bool) -> None:
    body = inv.body_json()
    if expect_model:
        assert inv.response["statusCode"] == 200, body
        assert body["status"] == "ready" and body["warmup_sec"] > 0
    else:
        assert inv.response["statusCode"] == 503, body


_SEEDED_RESULT = {"result_id": RESULT_ID, "note": "seeded by the container test"}

CHECKS: dict[str, Callable[[Invocation, bool], None]] = {
    "api-get-docs": _check_html("swagger"),
    "api-get-healthz": _check_healthz,
    "api-get-index": _check_html("<!doctype html"),
    "api-get-openapi": _check_openapi,
    "api-get-result": _check_result,
    "api-get-status": _check_status,
    "api-post-ocr-dryrun": _check_dry_run,
    "api-post-ocr-jpeg": _check_reading,
    "api-post-ocr-multipart": _check_reading,
    "api-post-uploads": _check_upload,
    "api-post-warmup": _check_warmup,
}


@pytest.mark.parametrize("event", API_EVENTS, ids=[p.stem for p in API_EVENTS])
def test_api_function_answers_each_api_event_in_a_fresh_container(
    event: Path,
    sam: SamLocal,
    s3: Any,
    expect_model: bool,
    cold_starts: dict[str, ColdStart],
) -> None:
    # GIVEN the built image, moto behind AWS_ENDPOINT_URL, and a stored result for GET /results/{id}
    s3.put_object(
        Bucket=BUCKET,
        Key=f"results/{RESULT_ID}.json",
        Body=json.dumps(_SEEDED_RESULT).encode(),
        ContentType="application/json",
    )
    assert event.stem in CHECKS, f"{event.name} is new: add what its answer must be to CHECKS"

    # WHEN sam local invoke runs ApiFunction with the event
    inv = sam.invoke("ApiFunction", event)

    if event.stem == API_COLD_START_EVENT:
        cold_starts["ApiFunction"] = cold_start_of("ApiFunction", inv)

    # THEN the answer is the one the event asks for
    CHECKS[event.stem](inv, expect_model)


def test_batch_function_writes_a_result_for_each_photo_in_the_queue_messages(
    sam: SamLocal, s3: Any, expect_model: bool, cold_starts: dict[str, ColdStart]
) -> None:
    # GIVEN the photos the S3 notifications in the SQS event name, stored in the moto bucket
    event = EVENTS / "batch-sqs-s3.json"
    records = json.loads(event.read_text(encoding="utf-8"))["Records"]
    photo = (EVENTS / "plate.jpg").read_bytes()
    keys = []
    for record in records:
        for note in json.loads(record["body"])["Records"]:
            key = unquote_plus(note["s3"]["object"]["key"])
            keys.append(key)
            s3.put_object(Bucket=BUCKET, Key=key, Body=photo, ContentType="image/jpeg")
            s3.delete_object(Bucket=BUCKET, Key=result_key(key, Settings()))

    # WHEN sam local invoke runs BatchFunction with the event
    inv = sam.invoke("BatchFunction", event)
    cold_starts["BatchFunction"] = cold_start_of("BatchFunction", inv)

    # THEN every photo has its result, or every record is handed back to SQS while no model exists
    failures = {f["itemIdentifier"] for f in inv.response["batchItemFailures"]}
    if not expect_model:
        assert failures == {r["messageId"] for r in records}
        return
    assert failures == set()
    for key in keys:
        stored = s3.get_object(Bucket=BUCKET, Key=result_key(key, Settings()))
        result = json.loads(stored["Body"].read())
        assert result["source"]["key"] == key
        assert result["plate_number"] == EXPECTED_PLATE, result
