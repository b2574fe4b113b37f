"""Batch Lambda: SQS records carrying S3 notifications -> plate_ocr -> ``results/<key>.json``.

Partial batch failures: a record whose read fails for a transient reason (models unavailable, S3
trouble) is reported in ``batchItemFailures`` and retried by SQS, and after a few receives lands in
the dead-letter queue. A photo that can never be read (not an image, too large, deleted) gets an
error result instead, so it is not retried in a loop.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from plate_ocr import batch, factory, telemetry
from plate_ocr.batch import BatchReader, Outcome
from plate_ocr.config import get_settings
from plate_ocr.telemetry import result_metrics

settings = get_settings()
# The template sets these; the defaults keep `plate-ocr serve` and tests working without them.
logger = Logger(
    service=os.getenv("POWERTOOLS_SERVICE_NAME", "plate-ocr-batch"),
    level=settings.log_level.upper(),
)
tracer = Tracer()
metrics = Metrics(namespace=os.getenv("POWERTOOLS_METRICS_NAMESPACE", "PlateOcr"))
copy_config_to_registered_loggers(source_logger=logger, include={"plate_ocr"})

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
def record_handler(record: SQSRecord) -> None:
    """Reads every object named in one SQS message; raises to have the record retried."""
    reader = BatchReader(batch.get_store(), factory.get_pipeline, settings)
    for ref in batch.parse_notification(record.body):
        outcome, result = reader.process(ref, request_id=record.message_id)
        metrics.add_metric(name=_OUTCOME_METRICS[outcome], unit=MetricUnit.Count, value=1)
        if outcome is Outcome.READ and result is not None:
            for name, unit, value in result_metrics(result):
                metrics.add_metric(name=name, unit=unit, value=value)


# Lambda gives init a full CPU burst: load the models now, and log the cold-start figures once.
logger.info("init done", extra=factory.preload())


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    logger.info("invocation done", extra={"peak_rss_mb": round(telemetry.peak_rss_mb(), 1)})
    return dict(response)
