"""The built Lambda image answers every event in events/ under `sam local invoke` (samlocal.py)."""

from __future__ import annotations

import base64
import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest
from samlocal import (
    BUCKET,
    EVENTS,
    ColdStart,
    Invocation,
    SamLocal,
    cold_start_of,
    free_port,
    wait_for_http,
)

from plate_ocr.config import Settings
from plate_ocr.storage import result_key
from tests.support import original_contract

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
        original_contract.check(body)
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


def _check_status(inv: Invocation, expect_model: bool) -> None:
    # A fresh container has loaded the models at init, or not yet; without a model it cannot have.
    allowed = ("ready", "loading") if expect_model else ("loading", "error")
    assert inv.response["statusCode"] == 200
    assert inv.body_json()["status"] in allowed


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


def _check_burst(inv: Invocation, expect_model: bool) -> None:
    body = inv.body_json()
    if expect_model:
        assert inv.response["statusCode"] == 200, body
        original_contract.check(body)
        assert body["plate_number"] == EXPECTED_PLATE, body
        assert len(body["frames"]) >= 2 and body["vote"], body
    else:
        assert inv.response["statusCode"] == 503, body


def _check_anonymize(inv: Invocation, expect_model: bool) -> None:
    if expect_model:
        assert inv.response["statusCode"] == 200, inv.response["body"][:300]
        assert inv.response["isBase64Encoded"] is True
        photo = base64.b64decode(inv.response["body"])
        assert photo[:3] == b"\xff\xd8\xff"  # a JPEG back
    else:
        assert inv.response["statusCode"] == 503, inv.response["body"]


_SEEDED_RESULT = {"result_id": RESULT_ID, "note": "seeded by the container test"}

CHECKS: dict[str, Callable[[Invocation, bool], None]] = {
    "api-get-docs": _check_html("swagger"),
    "api-get-healthz": _check_healthz,
    "api-get-index": _check_html("<!doctype html"),
    "api-get-openapi": _check_openapi,
    "api-get-result": _check_result,
    "api-get-status": _check_status,
    "api-post-anonymize": _check_anonymize,
    "api-post-ocr-burst": _check_burst,
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
        original_contract.check(result)


def _http(url: str, data: bytes | None = None, content_type: str = "") -> tuple[int, str, str]:
    """(status, Content-Type, body) of a GET, or of a POST when there is data."""
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            body = response.read().decode()
            return response.status, response.headers.get("Content-Type", ""), body
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()


def test_image_reads_a_photo_with_a_read_only_root_as_another_user(
    image: str, function_env: dict[str, str], expect_model: bool
) -> None:
    # GIVEN the image run as Lambda runs it: all read-only but /tmp, a user that owns no file, and
    # the emulator the base image ships answering on its invoke URL
    port = free_port()
    env = {
        **function_env,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "ap-northeast-2",
    }
    cmd = ["docker", "run", "-d", "--read-only", "--tmpfs", "/tmp:rw,mode=1777"]
    cmd += ["--user", "993:990", "-p", f"127.0.0.1:{port}:8080"]
    cmd += [arg for name, value in env.items() for arg in ("-e", f"{name}={value}")]
    cmd += [image, "api.app.lambda_handler"]
    container = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    try:
        url = f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"
        wait_for_http(url, 60)

        # WHEN it is sent the JPEG event
        event = (EVENTS / f"{API_COLD_START_EVENT}.json").read_bytes()
        status, _type, body = _http(url, event, "application/json")

        # THEN it reads the photo: nothing it needs writes outside /tmp or needs to own a file
        assert status == 200, body
        logs = subprocess.run(["docker", "logs", container], capture_output=True, text=True).stderr
        _check_reading(Invocation(json.loads(body), logs, 0.0, None), expect_model)
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)


def test_sam_local_start_api_serves_the_page_and_reads_a_photo(
    start_api: str, expect_model: bool
) -> None:
    # GIVEN `sam local start-api` over the image (the start_api fixture)
    # WHEN a browser loads the page and posts the photo as the page does
    page_status, page_type, page = _http(f"{start_api}/")
    photo = (EVENTS / "plate.jpg").read_bytes()
    status, content_type, body = _http(f"{start_api}/ocr/license-plate", photo, "image/jpeg")

    # THEN the page comes back as HTML and the photo is read (or 503 while no model exists)
    assert page_status == 200 and page_type.startswith("text/html")
    assert '<meta name="api-base"' in page
    assert content_type.startswith("application/json")
    response = {"statusCode": status, "body": body}
    _check_reading(Invocation(response, "", 0.0, None), expect_model)
