"""Drop-in for the original service's clients: its request in, answers its clients understand out.

The original takes a multipart ``image_file`` plus ``dryRun`` and answers five fields with fixed
wire values (``tests/support/original_contract.py``, written from its documented examples). These
tests send that request to ``plate-ocr serve`` over HTTP and run the API handler on the very events
``sam local invoke`` uses, and check every answer against the original's contract.
"""

from __future__ import annotations

import copy
import json
import urllib.request
from typing import Any

import jsonschema
import pytest
from functional_support import BUCKET, json_body, load_event

from plate_ocr.engines import FallbackAnswer
from plate_ocr.results import Stage2Status
from tests.support import original_contract
from tests.support.original_contract import FAILURE_EXAMPLE, STAGES, SUCCESS_EXAMPLE

BOUNDARY = "----OriginalClientBoundary7MA4YWxkTrZu0gW"


def original_request(photo: bytes, dry_run: str = "false") -> tuple[bytes, str]:
    """The request the original's clients send: multipart ``image_file`` and ``dryRun``.

    Built by hand, as a browser's FormData or ``requests`` would, not with our own helpers.
    """
    body = (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="image_file"; filename="car.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode() + photo
    body += (
        f"\r\n--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="dryRun"\r\n\r\n'
        f"{dry_run}\r\n--{BOUNDARY}--\r\n"
    ).encode()
    return body, f"multipart/form-data; boundary={BOUNDARY}"


def post_original(server: str, photo: bytes) -> dict[str, Any]:
    body, content_type = original_request(photo)
    request = urllib.request.Request(
        f"{server}/ocr/license-plate", data=body, headers={"Content-Type": content_type}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        answer: dict[str, Any] = json.loads(response.read())
    return answer


@pytest.mark.parametrize("example", [SUCCESS_EXAMPLE, FAILURE_EXAMPLE], ids=["success", "failure"])
def test_the_originals_documented_answers_fit_the_contract(example):
    original_contract.check(example)


@pytest.mark.parametrize(
    "change",
    [
        {"stage": "stage1"},
        {"confidence": 0.0, "success": False, "plate_number": None, "stage": "모두 실패"},
        {"plate_number": None},
        {"stage": "모두 실패"},
        {"elapsed_sec": "2.34"},
    ],
    ids=[
        "machine-stage",
        "zero-confidence-failure",
        "success-without-plate",
        "success-failed",
        "str-time",
    ],
)
def test_answers_the_originals_clients_would_misread_break_the_contract(change):
    with pytest.raises(jsonschema.ValidationError):
        original_contract.check({**SUCCESS_EXAMPLE, **change})


def test_a_confident_read_answers_like_the_originals_success(server, photo):
    # GIVEN the original's request for a photo stage 1 reads confidently
    # WHEN it is sent to plate-ocr serve
    answer = post_original(server, photo)

    # THEN the answer is the original's success, with stage 1's label
    original_contract.check(answer)
    assert (answer["success"], answer["stage"]) == (True, STAGES[0])
    assert answer["stage_id"] == "stage1"


def test_a_stage_two_read_answers_with_the_originals_stage_two_label(
    server, photo, pipeline, recognizer
):
    # GIVEN stage 1 reads nothing and stage 2 reads the plate
    recognizer.text = ""
    pipeline.fallback.answer = FallbackAnswer(
        status=Stage2Status.OK, plate_number="123가4567", confidence=0.8
    )

    answer = post_original(server, photo)

    original_contract.check(answer)
    assert (answer["success"], answer["stage"], answer["plate_number"]) == (
        True,
        STAGES[1],
        "123가4567",
    )


@pytest.mark.parametrize("confidence", [0.0, 0.26], ids=["nothing-read", "unsure-read"])
def test_a_failure_answers_like_the_originals_failure(server, photo, recognizer, confidence):
    # GIVEN stage 1 reads nothing (or an unsure plate) and stage 2 has no key
    if confidence:
        recognizer.confidence = confidence
    else:
        recognizer.text = ""

    answer = post_original(server, photo)

    # THEN the answer is the original's failure: null plate and confidence, 모두 실패
    original_contract.check(answer)
    assert (answer["success"], answer["plate_number"], answer["confidence"]) == (False, None, None)
    assert answer["stage"] == STAGES[2] and answer["stage_id"] == "failed"


@pytest.mark.parametrize(
    "event_name", ["api-post-ocr-multipart", "api-post-ocr-jpeg"], ids=["multipart", "raw-jpeg"]
)
@pytest.mark.parametrize("reads", [True, False], ids=["read", "not-read"])
def test_the_sam_local_events_answer_in_the_originals_contract(
    api, pipeline, invoke, recognizer, event_name, reads
):
    # GIVEN the event `sam local invoke -e events/<name>.json` sends
    if not reads:
        recognizer.text = ""

    # WHEN the API handler answers it
    response = invoke(api, load_event(event_name))

    # THEN the body is one the original's clients understand
    assert response["statusCode"] == 200
    original_contract.check(json_body(response))


def test_a_batch_result_keeps_the_originals_contract(
    batch_app, aws, pipeline, invoke, photo, settings
):
    from plate_ocr.storage import result_key

    aws.put_object(Bucket=BUCKET, Key="incoming/car.jpg", Body=photo, ContentType="image/jpeg")
    event = copy.deepcopy(load_event("batch-sqs-s3"))
    record = event["Records"][0]
    body = json.loads(record["body"])
    body["Records"][0]["s3"]["bucket"]["name"] = BUCKET
    body["Records"][0]["s3"]["object"]["key"] = "incoming/car.jpg"
    body["Records"][0]["s3"]["object"].pop("eTag", None)
    record["body"] = json.dumps(body)
    event["Records"] = [record]

    assert invoke(batch_app, event) == {"batchItemFailures": []}

    stored = aws.get_object(Bucket=BUCKET, Key=result_key("incoming/car.jpg", settings))
    original_contract.check(json.loads(stored["Body"].read()))
