"""Batch results as EventBridge events: operators get a callback instead of polling ``/results``.

Every result the batch writes is also published on the event bus named by ``event_bus_name``
(template parameter ``EventBusName``, the account's ``default`` bus unless set; unset locally: no
events), with source ``plate-ocr`` and detail-type ``PlateRead`` (a plate read with success) or
``PlateReadFailed`` (anything else). The detail names the result's key and carries the plate, its
confidence and ``needs_review``; a rule on the bus can forward reads of one plate to SNS, a queue, a
Lambda or a Slack webhook (README). A failed read that listed an unsure plate carries that plate
with ``needs_review`` true, so a person can look at it.

Delivery is at least once: the result is written first, then its event published; when publishing
fails the record is retried, and a redelivered record whose result exists publishes that result's
event again. Consumers deduplicate on ``result_key`` and ``source_etag``.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from functools import lru_cache
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from plate_ocr.config import get_settings
from plate_ocr.errors import EventPublishError
from plate_ocr.plate_class import PlateClass
from plate_ocr.results import Stage
from plate_ocr.schema import BatchResult

logger = logging.getLogger(__name__)

SOURCE = "plate-ocr"


class DetailType(StrEnum):
    """The events' detail-type."""

    PLATE_READ = "PlateRead"
    PLATE_READ_FAILED = "PlateReadFailed"


class PlateReadDetail(BaseModel):
    """The ``detail`` of a ``PlateRead`` or ``PlateReadFailed`` event."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    result_key: str = Field(description="The result object's key in the bucket.")
    bucket: str
    source_key: str
    source_etag: str | None = None
    success: bool
    plate_number: str | None = Field(
        description="The plate read; on a failure the unsure plate listed for review, if any."
    )
    confidence: float | None = Field(ge=0.0, le=1.0)
    needs_review: bool = Field(description="A person should check plate_number before acting.")
    stage_id: Stage
    plate_class: PlateClass | None = None
    is_ev: bool | None = None
    error: str | None = Field(default=None, description="The error code of an error result.")


class EventPublisher(Protocol):
    """Where batch results are announced; :class:`EventBridgePublisher` in production."""

    def publish(self, result: BatchResult, result_key: str) -> None: ...


def detail_of(result: BatchResult, result_key: str) -> PlateReadDetail:
    """The event detail of a batch result."""
    listed = result.plates[0] if result.plates else None
    plate = listed if result.success or (listed is not None and listed.needs_review) else None
    return PlateReadDetail(
        result_key=result_key,
        bucket=result.source.bucket,
        source_key=result.source.key,
        source_etag=result.source.etag,
        success=result.success,
        plate_number=plate.plate_number if plate else None,
        confidence=plate.confidence if plate else None,
        needs_review=bool(plate and not result.success),
        stage_id=result.stage_id,
        plate_class=plate.plate_class if plate else None,
        is_ev=plate.is_ev if plate else None,
        error=result.error.error if result.error else None,
    )


def entry_of(result: BatchResult, result_key: str, bus_name: str) -> dict[str, Any]:
    """The PutEvents entry of a batch result."""
    detail = detail_of(result, result_key)
    return {
        "Source": SOURCE,
        "DetailType": (DetailType.PLATE_READ if detail.success else DetailType.PLATE_READ_FAILED),
        "Detail": detail.model_dump_json(),
        "EventBusName": bus_name,
    }


class EventBridgePublisher:
    """:class:`EventPublisher` on an EventBridge bus."""

    def __init__(self, client: Any, bus_name: str) -> None:
        self._events = client
        self._bus = bus_name

    def publish(self, result: BatchResult, result_key: str) -> None:
        """Puts the result's event on the bus.

        Raises:
            EventPublishError: EventBridge refused the entry or could not be reached (the record
                is retried).
        """
        from botocore.exceptions import BotoCoreError, ClientError

        entry = entry_of(result, result_key, self._bus)
        try:
            response = self._events.put_events(Entries=[entry])
        except (BotoCoreError, ClientError) as exc:
            raise EventPublishError(
                f"EventBridge could not be reached: {type(exc).__name__}."
            ) from exc
        if response.get("FailedEntryCount"):
            code = (response.get("Entries") or [{}])[0].get("ErrorCode", "unknown")
            raise EventPublishError(f"EventBridge refused the event: {code}.")
        logger.info("event published", extra={"detail_type": str(entry["DetailType"])})


@lru_cache(maxsize=1)
def get_publisher() -> EventPublisher | None:
    """The process-wide publisher on the ``event_bus_name`` bus; None when no bus is set."""
    settings = get_settings()
    if not settings.event_bus_name:
        return None
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5)
    return EventBridgePublisher(boto3.client("events", config=config), settings.event_bus_name)
