"""Nothing lost: N photos with injected faults each end with one result or one dead letter.

The harness is faithful to the AWS wiring of template.yaml: moto S3 sends its ObjectCreated
notifications to a moto SQS queue whose redrive policy moves a message to the dead-letter queue
after ``maxReceiveCount`` receives. A loop plays the Lambda event source mapping: it receives up to
10 messages, calls the real batch handler with them as an SQS event, deletes the ones not reported
in ``batchItemFailures`` and makes the failed ones visible again (their visibility timeout ends).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from hardening_support import BOX
from moto import mock_aws
from PIL import Image

from plate_ocr import batch, lifecycle, storage
from plate_ocr.config import Settings
from plate_ocr.errors import ModelUnavailableError
from plate_ocr.localserver import LambdaContext
from plate_ocr.pipeline import Pipeline
from plate_ocr.schema import BatchResult
from plate_ocr.storage import S3Store, result_key
from tests.support.calibration import weakest_char
from tests.support.fakes import FakeFallback, FakeLocator, FakeRecognizer

REGION = "ap-northeast-2"
BUCKET = "plate-ocr-redelivery-test"
MAX_RECEIVE_COUNT = 3  # template.yaml's MaxReceiveCount default
PREFIX_RULE = {"Name": "prefix", "Value": "incoming/"}


def _photo(seed: int, size: tuple[int, int] = (160, 60)) -> bytes:
    """A small JPEG, different for every seed (the fault injector tells photos apart by bytes)."""
    buf = io.BytesIO()
    Image.new("RGB", size, (seed * 37 % 256, seed * 91 % 256, 120)).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FaultyPipeline:
    """The real pipeline on fake engines, with faults chosen per photo."""

    def __init__(self, inner: Pipeline) -> None:
        self.inner = inner
        self.faults: dict[str, str] = {}
        self.reads: Counter[str] = Counter()

    def read(self, data: bytes, *, use_fallback: bool = True) -> Any:
        digest = _digest(data)
        self.reads[digest] += 1
        fault = self.faults.get(digest)
        if fault == "model-unavailable-once" and self.reads[digest] == 1:
            raise ModelUnavailableError("The models could not be loaded: OSError.")
        if fault == "model-unavailable-always":
            raise ModelUnavailableError("The recogniser weights are missing (korplate.pth).")
        if fault == "bug":
            raise RuntimeError("an engine bug on this photo")
        return self.inner.read(data, use_fallback=use_fallback)


class S3Faults:
    """botocore event hooks on the batch's S3 client: fail chosen result writes, count the rest."""

    def __init__(self, client: Any) -> None:
        self.fail_once: set[str] = set()  # a ClientError the SDK does not retry: the record fails
        self.throttle_once: set[str] = set()  # a 503 the SDK retries within the call
        self.writes: Counter[str] = Counter()
        client.meta.events.register("before-parameter-build.s3.PutObject", self._before_build)
        client.meta.events.register("before-send.s3.PutObject", self._before_send)
        client.meta.events.register("after-call.s3.PutObject", self._after_call)

    def _before_build(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["put_key"] = key = params["Key"]
        if key in self.fail_once:
            self.fail_once.discard(key)
            error = {"Error": {"Code": "InternalError", "Message": "injected"}}
            raise ClientError(error, "PutObject")  # type: ignore[arg-type]

    def _before_send(self, request: Any, **_: Any) -> AWSResponse | None:
        for wanted in list(self.throttle_once):
            if request.url.endswith(_quoted(wanted)):
                self.throttle_once.discard(wanted)
                body = b"<Error><Code>SlowDown</Code><Message>injected</Message></Error>"
                return AWSResponse(request.url, 503, {}, _Raw(body))
        return None

    def _after_call(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        if http_response.status_code == 200:
            self.writes[context["put_key"]] += 1


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def _quoted(key: str) -> str:
    from urllib.parse import quote

    return quote(key, safe="/~")


def _lambda_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """An SQS message as the Lambda event source mapping hands it to the function."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


def _run_event_source_mapping(sqs: Any, queue_url: str, queue_arn: str, handler: Any) -> int:
    """Delivers until the queue is empty; returns how many invocations it took."""
    invocations, empty_polls = 0, 0
    while empty_polls < 2:
        assert invocations < 50, "the queue never drained"
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=60,
            AttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            empty_polls += 1
            continue
        empty_polls = 0
        invocations += 1
        event = {"Records": [_lambda_record(m, queue_arn) for m in messages]}
        response = handler(event, LambdaContext())
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] in failed:
                # The visibility timeout runs out: SQS offers the message again.
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return invocations


def _dead_letters(sqs: Any, dlq_url: str) -> list[dict[str, Any]]:
    letters: list[dict[str, Any]] = []
    while batch_ := sqs.receive_message(
        QueueUrl=dlq_url, MaxNumberOfMessages=10, AttributeNames=["All"]
    ).get("Messages", []):
        letters.extend(batch_)
        for message in batch_:
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
    return letters


def _keys_in(body: str) -> list[str]:
    try:
        return [ref.key for ref in batch.parse_notification(body)]
    except ValueError:
        return []


#: key -> (fault, what must become of it)
OBJECTS = {
    "incoming/ok/1.jpg": ("none", "result"),
    "incoming/ok/2.jpg": ("none", "result"),
    "incoming/주차장/차량 3.jpg": ("none", "result"),
    "incoming/corrupt.jpg": ("corrupt", "error:invalid_image"),
    "incoming/too-big.jpg": ("too-big", "error:image_too_large"),
    "incoming/deleted-before-read.jpg": ("deleted", "error:not_found"),
    "incoming/write-fails-once.jpg": ("write-fails-once", "result"),
    "incoming/write-throttled-once.jpg": ("write-throttled-once", "result"),
    "incoming/model-unavailable-once.jpg": ("model-unavailable-once", "result"),
    "incoming/model-unavailable-always.jpg": ("model-unavailable-always", "dead-letter"),
    "incoming/engine-bug.jpg": ("bug", "dead-letter"),
    "incoming/delivered-twice.jpg": ("duplicate-notification", "result"),
}


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """moto S3 -> SQS (redrive to a dead-letter queue), wired as template.yaml wires them."""
    import batch.app as batch_app

    settings = Settings(
        bucket_name=BUCKET, model_dir=tmp_path / "no-models", max_image_bytes=200_000
    )
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        dlq_url = sqs.create_queue(QueueName="dead-letters")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])
        redrive = {
            "deadLetterTargetArn": dlq_arn["Attributes"]["QueueArn"],
            "maxReceiveCount": str(MAX_RECEIVE_COUNT),
        }
        queue_url = sqs.create_queue(
            QueueName="incoming",
            Attributes={"RedrivePolicy": json.dumps(redrive), "VisibilityTimeout": "720"},
        )["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_notification_configuration(
            Bucket=BUCKET,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "QueueArn": queue_arn,
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {
                            "Key": {"FilterRules": [{"Name": "prefix", "Value": "incoming/"}]}
                        },
                    }
                ]
            },
        )
        # The batch function's own client, with the production retry policy.
        store = storage.get_store.__wrapped__()
        store = S3Store(store._s3, settings)
        faults = S3Faults(store._s3)
        pipeline = FaultyPipeline(
            Pipeline(
                [FakeLocator(box=BOX)],
                FakeRecognizer(),
                weakest_char,
                fallback=FakeFallback(),
                settings=settings,
            )
        )
        monkeypatch.setattr(batch_app, "settings", settings)
        monkeypatch.setattr(storage, "get_store", lambda: store)
        monkeypatch.setattr(lifecycle, "get_pipeline", lambda: pipeline)
        monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
        yield {
            "s3": s3,
            "sqs": sqs,
            "queue": (queue_url, queue_arn),
            "dlq": dlq_url,
            "faults": faults,
            "pipeline": pipeline,
            "settings": settings,
            "handler": batch_app.lambda_handler,
        }


def test_every_photo_ends_with_exactly_one_result_or_one_dead_letter(stack):
    s3, sqs, faults, pipeline = stack["s3"], stack["sqs"], stack["faults"], stack["pipeline"]
    queue_url, queue_arn = stack["queue"]

    # GIVEN N photos dropped into incoming/, each with its fault
    for seed, (key, (fault, _fate)) in enumerate(OBJECTS.items()):
        data = _photo(seed) if fault != "too-big" else _photo(seed, (2400, 1800)) + bytes(250_000)
        if fault == "corrupt":
            data = hashlib.sha512(key.encode()).digest() * 64
        out_key = result_key(key, stack["settings"])
        if fault == "write-fails-once":
            faults.fail_once.add(out_key)
        if fault == "write-throttled-once":
            faults.throttle_once.add(out_key)
        if fault in ("model-unavailable-once", "model-unavailable-always", "bug"):
            pipeline.faults[_digest(data)] = fault
        s3.put_object(Bucket=BUCKET, Key=key, Body=data)
        if fault == "deleted":
            s3.delete_object(Bucket=BUCKET, Key=key)
        if fault == "duplicate-notification":
            # The same bytes uploaded again: a second notification for the same version.
            s3.put_object(Bucket=BUCKET, Key=key, Body=data)
    # AND a message that is no S3 notification at all
    sqs.send_message(QueueUrl=queue_url, MessageBody="not an S3 notification")

    # WHEN the event source mapping delivers until the queue is empty
    _run_event_source_mapping(sqs, queue_url, queue_arn, stack["handler"])

    # THEN every photo has exactly one result written, or sits once in the dead-letter queue
    letters = _dead_letters(sqs, stack["dlq"])
    dead_keys = Counter(k for letter in letters for k in _keys_in(letter["Body"]))
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix="results/").get("Contents", [])
    results = {o["Key"] for o in listing}
    for key, (_fault, fate) in OBJECTS.items():
        out_key = result_key(key, stack["settings"])
        if fate == "dead-letter":
            assert dead_keys[key] == 1, (key, dict(dead_keys))
            assert out_key not in results, key
            continue
        assert dead_keys[key] == 0, key
        assert faults.writes[out_key] == 1, (key, faults.writes[out_key])
        body = json.loads(s3.get_object(Bucket=BUCKET, Key=out_key)["Body"].read())
        BatchResult.model_validate(body)
        if fate == "result":
            assert body["success"] is True, (key, body)
            assert body["plate_number"] == "12가3456"
        else:
            assert body["success"] is False
            assert body["error"]["error"] == fate.removeprefix("error:"), (key, body)
    # AND the message that was no notification is dead-lettered, once
    assert [m["Body"] for m in letters].count("not an S3 notification") == 1
    # AND nothing else: every dead letter is accounted for
    assert len(letters) == 1 + sum(f == "dead-letter" for _, f in OBJECTS.values())
    # AND the injected faults did fire: the failed write and the flaky model cost one more read
    assert not faults.fail_once
    assert not faults.throttle_once
    retried = sorted(pipeline.reads[d] for d, f in pipeline.faults.items() if f.endswith("once"))
    assert retried == [2]
    # AND a poisoned photo was tried exactly maxReceiveCount times before it was given up
    poisoned = next(d for d, f in pipeline.faults.items() if f == "model-unavailable-always")
    assert pipeline.reads[poisoned] == MAX_RECEIVE_COUNT
    assert len(results) == sum(f != "dead-letter" for _, f in OBJECTS.values())
