"""The batch handler on SQS events carrying S3 notifications, against moto S3."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from functional_support import BUCKET, BrokenPipelineFactory, batch_event, load_event

from plate_ocr import lifecycle
from plate_ocr.batch import parse_notification
from plate_ocr.schema import BatchResult
from plate_ocr.storage import result_key
from tests.support.frames import distinct_copies

KEYS = ["incoming/cars/plate.jpg", "incoming/주차장/차량 1.jpg"]


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
    response = invoke(batch_app, batch_event(KEYS))

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
    invoke(batch_app, batch_event([key], etag=etag))
    first = _result(aws, key, settings)
    calls = recognizer.calls

    # WHEN SQS delivers the same notification again
    response = invoke(batch_app, batch_event([key], etag=etag))

    # THEN the record succeeds, the photo is not read again and the result is unchanged
    assert response == {"batchItemFailures": []}
    assert recognizer.calls == calls
    assert _result(aws, key, settings) == first


def test_a_new_version_of_the_object_is_read_again(
    batch_app, aws, pipeline, invoke, photo, settings, recognizer
):
    key = KEYS[0]
    old = aws.put_object(Bucket=BUCKET, Key=key, Body=photo)["ETag"].strip('"')
    invoke(batch_app, batch_event([key], etag=old))
    calls = recognizer.calls

    new = aws.put_object(Bucket=BUCKET, Key=key, Body=photo + b"\x00")["ETag"].strip('"')
    invoke(batch_app, batch_event([key], etag=new))

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
    response = invoke(batch_app, batch_event([key]))

    # THEN the record succeeds (no retry loop) and the result says why
    assert response == {"batchItemFailures": []}
    result = _result(aws, key, settings)
    assert result["success"] is False
    assert (result["stage"], result["stage_id"]) == ("모두 실패", "failed")
    assert (result["plate_number"], result["confidence"]) == (None, None)
    assert result["error"]["error"] == code


def test_a_photo_over_the_limit_gets_an_error_result(
    batch_app, aws, pipeline, invoke, monkeypatch, settings, photo
):
    small = settings.model_copy(update={"max_image_bytes": 1000})
    monkeypatch.setattr(batch_app, "settings", small)
    aws.put_object(Bucket=BUCKET, Key=KEYS[0], Body=photo)

    assert invoke(batch_app, batch_event([KEYS[0]])) == {"batchItemFailures": []}

    assert _result(aws, KEYS[0], small)["error"]["error"] == "image_too_large"


def test_an_object_deleted_before_the_read_gets_a_not_found_result(
    batch_app, aws, pipeline, invoke, settings
):
    # GIVEN a notification for an object that no longer exists
    response = invoke(batch_app, batch_event([KEYS[1]]))

    assert response == {"batchItemFailures": []}
    assert _result(aws, KEYS[1], settings)["error"]["error"] == "not_found"


def test_a_failing_record_is_reported_and_the_others_succeed(
    batch_app, aws, invoke, monkeypatch, photo, settings
):
    # GIVEN models that cannot load (a transient fault for the batch)
    monkeypatch.setattr(lifecycle, "get_pipeline", BrokenPipelineFactory())
    aws.put_object(Bucket=BUCKET, Key=KEYS[0], Body=photo)
    event = batch_event([KEYS[0]])
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
    event = batch_event([KEYS[0]])
    event["Records"][0]["body"] = "{not json"

    response = invoke(batch_app, event)

    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}


def test_objects_outside_incoming_are_ignored(batch_app, aws, pipeline, invoke, photo):
    # GIVEN a notification for a result object (a misconfigured trigger would send these)
    aws.put_object(Bucket=BUCKET, Key="results/x.jpg.json", Body=b"{}")

    response = invoke(batch_app, batch_event(["results/x.jpg.json"]))

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
    assert invoke(batch_app, batch_event([upload["key"]])) == {"batchItemFailures": []}

    # THEN GET /results/{id} answers the result
    response = invoke(api, result_event)
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["plate_number"] == "12가3456"


# --- poison objects and foreign buckets (issue 12) ----------------------------------------------


@pytest.mark.parametrize(
    ("name", "code"),
    [("jpeg-of-2000-scans", "too_complex"), ("jpeg-slower-than-the-deadline", "timeout")],
    ids=["too-complex", "timeout"],
)
def test_a_poison_photo_gets_an_error_result_and_is_not_retried(
    batch_app, aws, pipeline, invoke, settings, monkeypatch, name, code
):
    from tests.support.bombs import progressive_jpeg, progressive_jpeg_within_limits

    # GIVEN a record deadline of 0.2 s, and a photo that is refused or that outruns it
    monkeypatch.setattr(batch_app, "settings", settings.model_copy(update={"timeout_seconds": 0.2}))
    body = progressive_jpeg() if code == "too_complex" else progressive_jpeg_within_limits()
    aws.put_object(Bucket=BUCKET, Key=KEYS[0], Body=body)

    # WHEN the batch reads it
    response = invoke(batch_app, batch_event([KEYS[0]]))

    # THEN the record succeeds (no retry, no dead letter) with an error result naming why
    assert response == {"batchItemFailures": []}
    result = _result(aws, KEYS[0], settings)
    assert (result["success"], result["error"]["error"]) == (False, code)


def test_a_notification_for_another_bucket_writes_nothing_anywhere(
    batch_app, aws, pipeline, invoke, photo, settings
):
    # GIVEN a message naming a bucket that is not the stack's (which the role could not read)
    aws.put_object(Bucket=BUCKET, Key=KEYS[0], Body=photo)
    event = batch_event([KEYS[0]])
    body = json.loads(event["Records"][0]["body"])
    body["Records"][0]["s3"]["bucket"]["name"] = "someone-elses-bucket"
    event["Records"][0]["body"] = json.dumps(body)

    # WHEN the batch gets it
    response = invoke(batch_app, event)

    # THEN it is dropped: no retry, and no result written (in our bucket or any other)
    assert response == {"batchItemFailures": []}
    assert _results(aws) == []


def test_a_record_gets_the_read_timeout_or_what_the_invocation_has_left(settings):
    from plate_ocr.batch import RECORD_MARGIN_SECONDS, record_deadline
    from plate_ocr.errors import OutOfTimeError

    assert record_deadline(120.0, settings) == settings.timeout_seconds
    assert record_deadline(RECORD_MARGIN_SECONDS + 6.0, settings) == pytest.approx(6.0)
    with pytest.raises(OutOfTimeError) as raised:
        record_deadline(RECORD_MARGIN_SECONDS + 1.0, settings)
    assert raised.value.retryable


# --- issue 13: one vehicle's photos in a .burst/ folder ----------------------------------------

BURST = "incoming/gate-3/0815.burst/"


def test_a_burst_folder_is_read_whole_when_its_manifest_arrives(
    batch_app, aws, pipeline, invoke, photo, settings
):
    # GIVEN three frames of one car in a .burst/ folder
    frames = [f"{BURST}{i}.jpg" for i in range(3)]
    for key, body in zip(frames, distinct_copies(photo, 3), strict=True):
        aws.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType="image/jpeg")

    # WHEN their notifications arrive, nothing is read yet
    assert invoke(batch_app, batch_event(frames)) == {"batchItemFailures": []}
    assert _results(aws) == []

    # AND WHEN the manifest naming them arrives
    manifest = f"{BURST}manifest.json"
    aws.put_object(Bucket=BUCKET, Key=manifest, Body=json.dumps({"frames": ["2.jpg", "0.jpg"]}))
    assert invoke(batch_app, batch_event([manifest])) == {"batchItemFailures": []}

    # THEN one result holds the voted plate and each named frame's reading, in the manifest's order
    assert _results(aws) == ["results/gate-3/0815.burst/manifest.json.json"]
    result = _result(aws, manifest, settings)
    assert (result["success"], result["plate_number"]) == (True, "12가3456")
    assert [f["filename"] for f in result["frames"]] == ["2.jpg", "0.jpg"]
    assert result["vote"]["agreeing"] == 2


@pytest.mark.parametrize(
    ("manifest", "code", "message"),
    [
        ({"frames": ["0.jpg", "9.jpg"]}, "not_found", "Photo 2 of 2"),
        ({"frames": ["../../elsewhere.jpg"]}, "invalid_manifest", "file names"),
        ({"photos": ["0.jpg"]}, "invalid_manifest", "file names"),
    ],
    ids=["a-missing-frame", "a-path-outside-the-folder", "not-a-manifest"],
)
def test_a_burst_that_cannot_be_read_gets_an_error_result_not_a_retry(
    batch_app, aws, pipeline, invoke, photo, settings, manifest, code, message
):
    aws.put_object(Bucket=BUCKET, Key=f"{BURST}0.jpg", Body=photo)
    key = f"{BURST}manifest.json"
    aws.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(manifest))

    assert invoke(batch_app, batch_event([key])) == {"batchItemFailures": []}

    result = _result(aws, key, settings)
    assert result["success"] is False and result["error"]["error"] == code
    assert message in result["error"]["message"]


# --- issue 13: blurred copies under anonymized/ -----------------------------------------------


def test_with_the_setting_on_each_photo_also_gets_a_blurred_copy_under_anonymized(
    batch_app, aws, pipeline, invoke, photo, monkeypatch, settings
):
    import cv2
    import numpy as np

    # GIVEN the batch setting on, a photo and a burst of two frames
    monkeypatch.setattr(
        batch_app, "settings", settings.model_copy(update={"write_anonymized": True})
    )
    keys = ["incoming/cars/plate.jpg", f"{BURST}0.jpg", f"{BURST}1.jpg"]
    for key in keys:
        aws.put_object(Bucket=BUCKET, Key=key, Body=photo)
    manifest = f"{BURST}manifest.json"
    aws.put_object(Bucket=BUCKET, Key=manifest, Body=b'{"frames": ["0.jpg", "1.jpg"]}')

    # WHEN the notifications arrive
    assert invoke(batch_app, batch_event([keys[0], manifest])) == {"batchItemFailures": []}

    # THEN each photo has a blurred copy next to the results, and its result as before
    listing = aws.list_objects_v2(Bucket=BUCKET, Prefix="anonymized/")
    assert sorted(o["Key"] for o in listing["Contents"]) == [
        "anonymized/cars/plate.jpg.jpg",
        "anonymized/gate-3/0815.burst/0.jpg.jpg",
        "anonymized/gate-3/0815.burst/1.jpg.jpg",
    ]
    copy = aws.get_object(Bucket=BUCKET, Key="anonymized/cars/plate.jpg.jpg")
    assert copy["ContentType"] == "image/jpeg"
    covered = cv2.imdecode(np.frombuffer(copy["Body"].read(), np.uint8), cv2.IMREAD_GRAYSCALE)
    original = cv2.imdecode(np.frombuffer(photo, np.uint8), cv2.IMREAD_GRAYSCALE)
    plate = (slice(220, 286), slice(170, 470))
    assert covered[plate].std() < 0.3 * original[plate].std()
    assert _result(aws, keys[0], settings)["plate_number"] == "12가3456"


def test_without_the_setting_no_copy_is_written(batch_app, aws, pipeline, invoke, photo):
    aws.put_object(Bucket=BUCKET, Key="incoming/cars/plate.jpg", Body=photo)

    invoke(batch_app, batch_event(["incoming/cars/plate.jpg"]))

    assert "Contents" not in aws.list_objects_v2(Bucket=BUCKET, Prefix="anonymized/")


# --- found by an audit of the batch path (2026-12-01) ------------------------------------------


def test_a_photo_named_three_times_in_a_manifest_votes_once(
    batch_app, aws, pipeline, invoke, photo, settings, recognizer
):
    # GIVEN one unsure photo (0.4), named three times in a burst's manifest
    recognizer.confidence = 0.4
    aws.put_object(Bucket=BUCKET, Key=f"{BURST}0.jpg", Body=photo)
    manifest = f"{BURST}manifest.json"
    aws.put_object(Bucket=BUCKET, Key=manifest, Body=json.dumps({"frames": ["0.jpg"] * 3}))

    assert invoke(batch_app, batch_event([manifest])) == {"batchItemFailures": []}

    # THEN the burst is as unsure as the photo (three copies made a 0.78 success)
    result = _result(aws, manifest, settings)
    assert result["success"] is False and result["plates"][0]["needs_review"] is True
    assert result["vote"]["voters"] == 1


def test_a_record_whose_deadline_the_invocation_cut_short_is_delivered_again(
    batch_app, aws, pipeline, photo, settings, monkeypatch
):
    import time

    from plate_ocr import batch, deadline
    from plate_ocr.localserver import LambdaContext

    # GIVEN a photo that reads in 0.8 s, well within TIMEOUT_SECONDS (10 s), and an invocation
    # with only 0.5 s to give it (its deadline is cut to what the invocation has left)
    monkeypatch.setattr(batch, "RECORD_MARGIN_SECONDS", 0.5)
    monkeypatch.setattr(batch, "MIN_RECORD_SECONDS", 0.1)
    real = pipeline.read

    def slow(data: bytes, **kwargs: Any) -> Any:
        time.sleep(0.8)
        deadline.check()
        return real(data, **kwargs)

    monkeypatch.setattr(pipeline, "read", slow)
    aws.put_object(Bucket=BUCKET, Key="incoming/a.jpg", Body=photo)

    # WHEN it is read
    event = batch_event(["incoming/a.jpg"])
    response = batch_app.lambda_handler(event, LambdaContext(timeout_seconds=1.0))

    # THEN it is retried with a whole deadline next time, not given a permanent timeout result
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert _results(aws) == []


def test_a_photo_that_cannot_be_blurred_keeps_its_read_result(
    batch_app, aws, pipeline, invoke, photo, settings, monkeypatch
):
    from plate_ocr import batch
    from plate_ocr.errors import ImageTooLargeError

    # GIVEN blurred copies switched on, and a photo the blurring refuses (as a side JPEG cannot
    # hold, or its deadline passing)
    monkeypatch.setattr(
        batch_app, "settings", settings.model_copy(update={"write_anonymized": True})
    )

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise ImageTooLargeError("a JPEG holds at most 65500 pixels a side")

    monkeypatch.setattr(batch, "anonymize", refuse)
    aws.put_object(Bucket=BUCKET, Key="incoming/a.jpg", Body=photo)

    assert invoke(batch_app, batch_event(["incoming/a.jpg"])) == {"batchItemFailures": []}

    # THEN the read stands (it was replaced by the blurring's error) and no copy was written
    result = _result(aws, "incoming/a.jpg", settings)
    assert (result["success"], result["plate_number"]) == (True, "12가3456")
    listing = aws.list_objects_v2(Bucket=BUCKET, Prefix="anonymized/")
    assert listing.get("KeyCount", 0) == 0


def test_a_key_whose_result_key_s3_cannot_hold_fails_before_it_is_read(
    batch_app, aws, pipeline, invoke, photo, settings, recognizer
):
    # GIVEN a photo whose key is 1,022 bytes: its result key would be 1,026, over S3's 1,024
    key = "incoming/" + "a" * (1022 - len("incoming/") - len(".jpg")) + ".jpg"
    assert len(key.encode()) == 1022
    aws.put_object(Bucket=BUCKET, Key=key, Body=photo)

    # WHEN its notification arrives
    event = batch_event([key])
    response = invoke(batch_app, event)

    # THEN the record fails at once (it ends in the dead-letter queue, key and all), unread
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert recognizer.calls == 0 and _results(aws) == []


def test_a_photo_overwritten_while_it_is_read_leaves_the_newer_versions_result(
    batch_app, aws, pipeline, invoke, photo, settings, monkeypatch
):
    # GIVEN a photo that is overwritten (a camera writing the same key again) while it is read
    aws.put_object(Bucket=BUCKET, Key="incoming/gate.jpg", Body=photo)
    newer = distinct_copies(photo, 2)[1]
    real = pipeline.read

    def overwritten_meanwhile(data: bytes, **kwargs: Any) -> Any:
        aws.put_object(Bucket=BUCKET, Key="incoming/gate.jpg", Body=newer)
        return real(data, **kwargs)

    monkeypatch.setattr(pipeline, "read", overwritten_meanwhile)

    # WHEN the old version's notification is handled
    assert invoke(batch_app, batch_event(["incoming/gate.jpg"])) == {"batchItemFailures": []}

    # THEN it writes no result: the newer version's notification writes that one (a result of the
    # old photo would overwrite it if the newer one was handled first)
    assert _results(aws) == []


def test_a_manifest_sent_again_after_a_frame_was_replaced_is_read_again(
    batch_app, aws, pipeline, invoke, photo, settings
):
    # GIVEN a burst whose frame was corrupt, read once (an error result)
    aws.put_object(Bucket=BUCKET, Key=f"{BURST}0.jpg", Body=b"not a photo")
    manifest = f"{BURST}manifest.json"
    body = json.dumps({"frames": ["0.jpg"]})
    aws.put_object(Bucket=BUCKET, Key=manifest, Body=body)
    etag = aws.head_object(Bucket=BUCKET, Key=manifest)["ETag"].strip('"')
    assert invoke(batch_app, batch_event([manifest], etag)) == {"batchItemFailures": []}
    assert _result(aws, manifest, settings)["error"]["error"] == "invalid_image"

    # WHEN the camera uploads the frame again and the same manifest (the same ETag)
    aws.put_object(Bucket=BUCKET, Key=f"{BURST}0.jpg", Body=photo)
    aws.put_object(Bucket=BUCKET, Key=manifest, Body=body)
    assert invoke(batch_app, batch_event([manifest], etag)) == {"batchItemFailures": []}

    # THEN the burst is read again (the manifest's ETag does not cover its frames)
    assert _result(aws, manifest, settings)["plate_number"] == "12가3456"


@pytest.mark.parametrize(
    "records",
    [["x"], [{"eventName": "ObjectCreated:Put"}], [{"eventName": "ObjectCreated:Put", "s3": 3}]],
)
def test_a_malformed_notification_record_is_a_value_error(records):
    with pytest.raises(ValueError, match="malformed S3 notification record"):
        parse_notification(json.dumps({"Records": records}))
