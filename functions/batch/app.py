"""Batch Lambda: SQS records carrying S3 notifications -> plate_ocr -> ``results/<key>.json``, and
each result as an EventBridge event (plate_ocr.eventbus).

Partial batch failures: a record whose read fails for a transient reason (models unavailable, S3
trouble) is reported in ``batchItemFailures`` and retried by SQS, and after a few receives lands in
the dead-letter queue. A photo that can never be read (not an image, too large, deleted) gets an
error result instead, so it is not retried in a loop.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from plate_ocr import batch, eventbus, lifecycle, storage, telemetry
from plate_ocr.batch import BatchReader, Outcome, record_deadline
from plate_ocr.config import get_settings
from plate_ocr.telemetry import result_metrics

settings = get_settings()
logger, tracer, metrics = telemetry.handler_observability("plate-ocr-batch", settings.log_level)

# When every record fails, report them all rather than raising: SQS then retries exactly those
# messages and counts their receives towards the dead-letter queue the same way.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

_OUTCOME_METRICS = {
    Outcome.READ: "BatchObjectsRead",
    Outcome.ERROR_RESULT: "BatchErrorResults",
    Outcome.DUPLICATE: "BatchDuplicates",
    Outcome.IGNORED: "BatchIgnored",
}


@tracer.capture_method(capture_response=False)
def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> None:
    """Reads every object named in one SQS message; raises to have the record retried.

    Each object gets its own deadline (plate_ocr.batch.record_deadline), below the function's
    timeout: a photo that outruns it gets a ``timeout`` result and is not retried.
    """
    reader = BatchReader(
        storage.get_store(), lifecycle.get_pipeline, settings, publisher=eventbus.get_publisher()
    )
    for ref in batch.parse_notification(record.body):
        seconds = record_deadline(lambda_context.get_remaining_time_in_millis() / 1000.0, settings)
        outcome, result = reader.process(ref, request_id=record.message_id, seconds=seconds)
        metrics.add_metric(name=_OUTCOME_METRICS[outcome], unit=MetricUnit.Count, value=1)
        if outcome is Outcome.READ and result is not None:
            for name, unit, value in result_metrics(result):
                metrics.add_metric(name=name, unit=unit, value=value)


# Lambda gives init a full CPU burst: load the models now, and log the cold-start figures once.
logger.info("init done", extra=lifecycle.preload())


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    logger.info("invocation done", extra={"peak_rss_mb": round(telemetry.peak_rss_mb(), 1)})
    return dict(response)
