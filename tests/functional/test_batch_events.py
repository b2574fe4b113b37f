"""Every batch result is also an EventBridge event (moto: a rule on the bus forwards to a queue)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from functional_support import BUCKET, REGION, batch_event

from plate_ocr import eventbus
from plate_ocr.eventbus import EventBridgePublisher


@pytest.fixture
def bus(aws: Any, batch_app: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The account's default bus with a rule forwarding plate-ocr's events to a queue; the batch
    publishes there. Yields a function that returns the events the queue received."""
    events = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName="plate-reads")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name="plate-ocr-reads", EventPattern=json.dumps({"source": ["plate-ocr"]}))
    events.put_targets(Rule="plate-ocr-reads", Targets=[{"Id": "queue", "Arn": arn}])
    monkeypatch.setattr(eventbus, "get_publisher", lambda: EventBridgePublisher(events, "default"))

    def received() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in messages.get("Messages", [])]

    yield received


def test_a_read_is_published_as_a_plate_read_event(batch_app, aws, pipeline, invoke, photo, bus):
    # GIVEN a photo under incoming/
    aws.put_object(Bucket=BUCKET, Key="incoming/gate/car.jpg", Body=photo)

    # WHEN the batch reads it
    assert invoke(batch_app, batch_event(["incoming/gate/car.jpg"])) == {"batchItemFailures": []}

    # THEN the rule's queue got one PlateRead event naming the result, with the plate
    (event,) = bus()
    assert (event["source"], event["detail-type"]) == ("plate-ocr", "PlateRead")
    detail = event["detail"]
    assert detail["result_key"] == "results/gate/car.jpg.json"
    assert (detail["bucket"], detail["source_key"]) == (BUCKET, "incoming/gate/car.jpg")
    assert detail["plate_number"] == "12가3456"
    assert detail["confidence"] == pytest.approx(0.93)
    assert detail["needs_review"] is False and detail["success"] is True
    # AND the result it names is there
    assert aws.head_object(Bucket=BUCKET, Key=detail["result_key"])


def test_an_unsure_read_is_a_failed_event_that_needs_review(
    batch_app, aws, pipeline, invoke, photo, bus, recognizer
):
    recognizer.confidence = 0.4
    aws.put_object(Bucket=BUCKET, Key="incoming/car.jpg", Body=photo)

    invoke(batch_app, batch_event(["incoming/car.jpg"]))

    (event,) = bus()
    assert event["detail-type"] == "PlateReadFailed"
    detail = event["detail"]
    assert (detail["success"], detail["needs_review"]) == (False, True)
    assert detail["plate_number"] == "12가3456" and detail["confidence"] == pytest.approx(0.4)


def test_an_error_result_is_a_failed_event_without_a_plate(batch_app, aws, pipeline, invoke, bus):
    aws.put_object(Bucket=BUCKET, Key="incoming/notes.txt", Body=b"not a photo")

    invoke(batch_app, batch_event(["incoming/notes.txt"]))

    (event,) = bus()
    assert event["detail-type"] == "PlateReadFailed"
    detail = event["detail"]
    assert (detail["plate_number"], detail["needs_review"]) == (None, False)
    assert detail["error"] == "invalid_image"


def test_when_publishing_fails_the_record_is_retried_and_the_event_sent_then(
    batch_app, aws, pipeline, invoke, photo, bus, monkeypatch
):
    # GIVEN a bus that refuses the first event
    real = eventbus.get_publisher()

    class Flaky:
        calls = 0

        def publish(self, result: Any, key: str) -> None:
            Flaky.calls += 1
            if Flaky.calls == 1:
                from plate_ocr.errors import EventPublishError

                raise EventPublishError("EventBridge refused the event: ThrottlingException.")
            real.publish(result, key)

    monkeypatch.setattr(eventbus, "get_publisher", Flaky)
    aws.put_object(Bucket=BUCKET, Key="incoming/car.jpg", Body=photo)
    etag = aws.head_object(Bucket=BUCKET, Key="incoming/car.jpg")["ETag"].strip('"')
    event = batch_event(["incoming/car.jpg"], etag=etag)

    # WHEN the record is delivered, fails on the event, and is delivered again
    first = invoke(batch_app, event)
    second = invoke(batch_app, event)

    # THEN the first delivery is reported failed, the second publishes the written result's event
    assert len(first["batchItemFailures"]) == 1 and second == {"batchItemFailures": []}
    (published,) = bus()
    assert published["detail"]["result_key"] == "results/car.jpg.json"


def test_without_a_bus_nothing_is_published(monkeypatch):
    from plate_ocr.config import Settings

    eventbus.get_publisher.cache_clear()
    monkeypatch.setattr(eventbus, "get_settings", lambda: Settings(event_bus_name=None))
    try:
        assert eventbus.get_publisher() is None
    finally:
        eventbus.get_publisher.cache_clear()


def test_the_detail_type_follows_success(pipeline, photo):
    from datetime import UTC, datetime

    from plate_ocr.schema import BatchResult, SourceObject

    result = BatchResult.read(
        pipeline.read(photo),
        SourceObject(bucket=BUCKET, key="incoming/a.jpg"),
        request_id="r",
        processed_at=datetime.now(UTC),
    )

    entry = eventbus.entry_of(result, "results/a.jpg.json", "arn:aws:events:::event-bus/ops")
    assert entry["DetailType"] == "PlateRead" and entry["Source"] == "plate-ocr"
    assert entry["EventBusName"] == "arn:aws:events:::event-bus/ops"
    assert json.loads(entry["Detail"])["plate_class"] == "white"
