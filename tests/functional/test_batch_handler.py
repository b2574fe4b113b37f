"""The batch handler on SQS events carrying S3 notifications, against moto S3."""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import quote_plus

import pytest
from functional_support import BUCKET, BrokenPipelineFactory, load_event

from plate_ocr import factory
from plate_ocr.batch import parse_notification, result_key
from plate_ocr.schema import BatchResult

KEYS = ["incoming/cars/plate.jpg", "incoming/주차장/차량 1.jpg"]


def _event_for(keys: list[str], etag: str | None = None) -> dict[str, Any]:
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


def _result(s3: Any, source_key: str, settings: Any) -> dict[str, Any]:
    obj = s3.get_object(Bucket=BUCKET, Key=result_key(source_key, settings))
    data: dict[str, Any] = json.loads(obj["Body"].read())
    BatchResult.model_validate(data)
    return data


def _results(s3: Any) -> list[str]:
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix="results/")
    return sorted(o["Key"] for o in listing.get("Contents", []))


def test_the_shared_event_names_korean_and_url_encoded_keys():
    # GIVEN the event used by `sam local invoke` too
    event = load_event("batch-sqs-s3")

    # WHEN its bodies are parsed
    refs = [ref for r in event["Records"] for ref in parse_notification(r["body"])]

    # THEN the keys come out decoded
    assert [r.key for r in refs] == KEYS
    assert "%" in event["Records"][1]["body"] and "+" in event["Records"][1]["body"]


def test_every_incoming_photo_gets_a_result_under_results(
    batch_app, aws, pipeline, invoke, photo, settings
):
    # GIVEN two photos under incoming/, one with a Korean name with a space
    for key in KEYS:
        aws.put_object(Bucket=BUCKET, Key=key, Body=photo, ContentType="image/jpeg")

    # WHEN the notifications arrive
    response = invoke(batch_app, _event_for(KEYS))

    # THEN nothing failed and each photo has its result, with source, ETag and time
    assert response == {"batchItemFailures": []}
    assert _results(aws) == ["results/cars/plate.jpg.json", "results/주차장/차량 1.jpg.json"]
    for key in KEYS:
        result = _result(aws, key, settings)
        assert result["plate_number"] == "12가3456"
        assert result["success"] is True
        assert result["source"]["key"] == key
        assert result["source"]["bucket"] == BUCKET
        assert result["source"]["etag"] == aws.head_object(Bucket=BUCKET, Key=key)["ETag"].strip(
            '"'
        )
        assert result["processed_at"].startswith("20")
        assert result["error"] is None


def test_redelivery_of_the_same_object_is_idempotent(
    batch_app, aws, pipeline, invoke, photo, settings, recognizer
):
    # GIVEN a photo already read once
    key = KEYS[0]
    etag = aws.put_object(Bucket=BUCKET, Key=key, Body=photo)["ETag"].strip('"')
    invoke(batch_app, _event_for([key], etag=etag))
    first = _result(aws, key, settings)
    calls = recognizer.calls

    # WHEN SQS delivers the same notification again
    response = invoke(batch_app, _event_for([key], etag=etag))

    # THEN the record succeeds, the photo is not read again and the result is unchanged
    assert response == {"batchItemFailures": []}
    assert recognizer.calls == calls
    assert _result(aws, key, settings) == first


def test_a_new_version_of_the_object_is_read_again(
    batch_app, aws, pipeline, invoke, photo, settings, recognizer
):
    key = KEYS[0]
    old = aws.put_object(Bucket=BUCKET, Key=key, Body=photo)["ETag"].strip('"')
    invoke(batch_app, _event_for([key], etag=old))
    calls = recognizer.calls

    new = aws.put_object(Bucket=BUCKET, Key=key, Body=photo + b"\x00")["ETag"].strip('"')
    invoke(batch_app, _event_for([key], etag=new))

    assert recognizer.calls > calls
    assert _result(aws, key, settings)["source"]["etag"] == new


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"just some text, not a photo", "invalid_image"),
        (b"GIF89a" + b"\x00" * 64, "unsupported_media_type"),
        (b"", "invalid_image"),
    ],
    ids=["text", "gif", "empty"],
)
def test_a_photo_that_cannot_be_read_gets_an_error_result_not_a_retry(
    batch_app, aws, pipeline, invoke, settings, body, code
):
    # GIVEN an object under incoming/ that is no photo we read
    key = "incoming/notes.txt"
    aws.put_object(Bucket=BUCKET, Key=key, Body=body)

    # WHEN it is processed
    response = invoke(batch_app, _event_for([key]))

    # THEN the record succeeds (no retry loop) and the result says why
    assert response == {"batchItemFailures": []}
    result = _result(aws, key, settings)
    assert result["success"] is False
    assert result["stage"] == "failed"
    assert result["error"]["error"] == code


def test_a_photo_over_the_limit_gets_an_error_result(
    batch_app, aws, pipeline, invoke, monkeypatch, settings, photo
):
    small = settings.model_copy(update={"max_image_bytes": 1000})
    monkeypatch.setattr(batch_app, "settings", small)
    aws.put_object(Bucket=BUCKET, Key=KEYS[0], Body=photo)

    assert invoke(batch_app, _event_for([KEYS[0]])) == {"batchItemFailures": []}

    assert _result(aws, KEYS[0], small)["error"]["error"] == "image_too_large"


def test_an_object_deleted_before_the_read_gets_a_not_found_result(
    batch_app, aws, pipeline, invoke, settings
):
    # GIVEN a notification for an object that no longer exists
    response = invoke(batch_app, _event_for([KEYS[1]]))

    assert response == {"batchItemFailures": []}
    assert _result(aws, KEYS[1], settings)["error"]["error"] == "not_found"


def test_a_failing_record_is_reported_and_the_others_succeed(
    batch_app, aws, invoke, monkeypatch, photo, settings
):
    # GIVEN models that cannot load (a transient fault for the batch)
    monkeypatch.setattr(factory, "get_pipeline", BrokenPipelineFactory())
    aws.put_object(Bucket=BUCKET, Key=KEYS[0], Body=photo)
    event = _event_for([KEYS[0]])
    # AND a second record that is only a test notification
    test_record = copy.deepcopy(event["Records"][0])
    test_record["messageId"] = "test-event"
    test_record["body"] = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"})
    event["Records"].append(test_record)

    # WHEN the batch runs
    response = invoke(batch_app, event)

    # THEN only the photo's record is handed back to SQS (retry, then the dead-letter queue)
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert _results(aws) == []


def test_a_body_that_is_no_s3_notification_fails_its_record(batch_app, aws, pipeline, invoke):
    event = _event_for([KEYS[0]])
    event["Records"][0]["body"] = "{not json"

    response = invoke(batch_app, event)

    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}


def test_objects_outside_incoming_are_ignored(batch_app, aws, pipeline, invoke, photo):
    # GIVEN a notification for a result object (a misconfigured trigger would send these)
    aws.put_object(Bucket=BUCKET, Key="results/x.jpg.json", Body=b"{}")

    response = invoke(batch_app, _event_for(["results/x.jpg.json"]))

    # THEN nothing is read and nothing new is written: no recursion
    assert response == {"batchItemFailures": []}
    assert _results(aws) == ["results/x.jpg.json"]


def test_a_presigned_upload_result_is_found_by_its_id(api, batch_app, aws, pipeline, invoke, photo):
    # GIVEN an upload form from the API and the photo stored under its key
    upload = json.loads(invoke(api, load_event("api-post-uploads"))["body"])
    aws.put_object(Bucket=BUCKET, Key=upload["key"], Body=photo, ContentType="image/jpeg")
    result_event = load_event("api-get-result")
    result_event["path"] = result_event["requestContext"]["path"] = upload["result_path"]
    assert invoke(api, result_event)["statusCode"] == 404

    # WHEN the batch reads it
    assert invoke(batch_app, _event_for([upload["key"]])) == {"batchItemFailures": []}

    # THEN GET /results/{id} answers the result
    response = invoke(api, result_event)
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["plate_number"] == "12가3456"
