"""The batch path: S3 notifications -> pipeline -> ``results/<key>.json``.

Handlers stay thin: they hand SQS bodies to :func:`parse_notification` and each object to
:meth:`BatchReader.process`. Where objects and results live, and the S3 adapter, are
:mod:`plate_ocr.storage`'s.
"""

from __future__ import annotations

import enum
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote_plus

from plate_ocr import bursts, deadline
from plate_ocr.anonymize import anonymize
from plate_ocr.config import Settings, get_settings
from plate_ocr.errors import (
    DeadlineExceededError,
    ObjectMissingError,
    OutOfTimeError,
    PlateOcrError,
)
from plate_ocr.schema import BatchResult, ErrorBody, SourceObject
from plate_ocr.storage import (
    SOURCE_ETAG_META,
    StoredObject,
    anonymized_key,
    plain_etag,
    result_key,
)

if TYPE_CHECKING:
    from plate_ocr.eventbus import EventPublisher
    from plate_ocr.pipeline import Pipeline
    from plate_ocr.results import OcrResult

logger = logging.getLogger(__name__)

#: Seconds of an invocation kept back after the last record's deadline, to write its result and
#: report the batch before the function times out.
RECORD_MARGIN_SECONDS = 10.0
#: A record is not started with less time than this left; SQS delivers it again later.
MIN_RECORD_SECONDS = 5.0
#: A result object is at most this large (8 frames of 5 plates each come to about 60 KB).
MAX_RESULT_BYTES = 1024 * 1024
#: S3's longest key, in UTF-8 bytes.
MAX_KEY_BYTES = 1024


def record_deadline(remaining_seconds: float, settings: Settings) -> float:
    """The deadline of the next record: TIMEOUT_SECONDS, or what the invocation has left less
    :data:`RECORD_MARGIN_SECONDS`, so a photo that outruns it gets a ``timeout`` result instead
    of taking the whole batch past the function timeout (and into retries, then the DLQ).

    Raises:
        OutOfTimeError: under :data:`MIN_RECORD_SECONDS` would be left.
    """
    budget = remaining_seconds - RECORD_MARGIN_SECONDS
    if budget < MIN_RECORD_SECONDS:
        raise OutOfTimeError(f"Only {remaining_seconds:.1f} s of the invocation are left.")
    return min(settings.timeout_seconds, budget)


@dataclass(frozen=True)
class ObjectRef:
    """One S3 object named by a notification (key already URL-decoded)."""

    bucket: str
    key: str
    etag: str | None = None
    size: int | None = None


class Outcome(enum.StrEnum):
    """What the batch did with one object."""

    READ = "read"
    ERROR_RESULT = "error_result"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


class ObjectStore(Protocol):
    """The storage the batch needs; :class:`plate_ocr.storage.S3Store` in production."""

    def get(self, bucket: str, key: str, max_bytes: int) -> StoredObject: ...

    def result_source_etag(self, bucket: str, key: str) -> str | None: ...

    def current_etag(self, bucket: str, key: str) -> str | None: ...

    def put_json(self, bucket: str, key: str, body: bytes, metadata: dict[str, str]) -> None: ...

    def put_photo(self, bucket: str, key: str, jpeg: bytes) -> None: ...


def parse_notification(body: str) -> list[ObjectRef]:
    """The created objects in one SQS message body carrying an S3 event notification.

    Raises:
        ValueError: the body is not an S3 notification (the record then fails and, after a few
            receives, lands in the dead-letter queue, where someone can look at it).
    """
    try:
        message = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ValueError("SQS body is not JSON") from exc
    if not isinstance(message, dict):
        raise ValueError("SQS body is not an S3 notification")
    if message.get("Event") == "s3:TestEvent":
        # S3 sends one when the notification is configured; there is nothing to read.
        return []
    records = message.get("Records")
    if not isinstance(records, list):
        raise ValueError("SQS body is not an S3 notification")
    refs: list[ObjectRef] = []
    for record in records:
        try:
            if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
                continue
            s3 = record["s3"]
            obj = s3["object"]
            refs.append(
                ObjectRef(
                    bucket=str(s3["bucket"]["name"]),
                    # Keys arrive URL-encoded with '+' for spaces; Korean names are %-escaped
                    # UTF-8.
                    key=unquote_plus(str(obj["key"])),
                    etag=plain_etag(obj.get("eTag") or obj.get("etag")),
                    size=obj.get("size"),
                )
            )
        except (AttributeError, KeyError, TypeError) as exc:
            raise ValueError(f"malformed S3 notification record ({exc!r})") from exc
    return refs


class BatchReader:
    """Reads one S3 object and writes its result; bad photos get an error result, not a retry."""

    def __init__(
        self,
        store: ObjectStore,
        pipeline: Callable[[], Pipeline],
        settings: Settings | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        publisher: EventPublisher | None = None,
    ) -> None:
        self._store = store
        self._pipeline = pipeline
        self._settings = settings or get_settings()
        self._clock = clock
        self._publisher = publisher

    def process(
        self, ref: ObjectRef, *, request_id: str, seconds: float | None = None
    ) -> tuple[Outcome, BatchResult | None]:
        """Reads ``ref`` and writes its result object; the read gets ``seconds`` (default
        TIMEOUT_SECONDS), past which the result is a ``timeout`` error.

        Raises:
            ModelUnavailableError, botocore errors, ...: transient trouble; the record is retried
                and, when it keeps failing, ends in the dead-letter queue.
        """
        settings = self._settings
        if ref.bucket != settings.bucket_name:
            # Only our bucket's notifications are read, and results go nowhere else: a message
            # naming another bucket (a stray notification, a forged message) is dropped.
            logger.warning("ignored notification for a bucket other than the stack's")
            return Outcome.IGNORED, None
        if not ref.key.startswith(settings.incoming_prefix) or ref.key.endswith("/"):
            logger.info("ignored object outside %s", settings.incoming_prefix)
            return Outcome.IGNORED, None
        if bursts.is_frame(ref.key):
            logger.info("frame of a burst: read with its manifest")
            return Outcome.IGNORED, None
        out_key = result_key(ref.key, settings)
        for key in (
            (out_key, anonymized_key(ref.key, settings))
            if settings.write_anonymized
            else (out_key,)
        ):
            if len(key.encode("utf-8")) > MAX_KEY_BYTES:
                # Nowhere to write the result: fail before reading, so that the record ends in the
                # dead-letter queue (with its key) after its receives, none of them spent reading.
                raise ValueError(
                    f"a key derived from this object's is over S3's {MAX_KEY_BYTES} bytes"
                )
        # A burst's result depends on its frames too, which its manifest's ETag does not cover: a
        # manifest sent again after a frame was replaced must be read again.
        if ref.etag is not None and not bursts.is_manifest(ref.key):
            done_etag = self._store.result_source_etag(ref.bucket, out_key)
            if done_etag == ref.etag:
                logger.info("result already written for this version; skipped")
                if self._publisher is not None:
                    # The attempt that wrote it may have failed to publish: events are at least
                    # once, so the result's event goes out again.
                    stored = self._store.get(ref.bucket, out_key, MAX_RESULT_BYTES)
                    self._publisher.publish(BatchResult.model_validate_json(stored.data), out_key)
                return Outcome.DUPLICATE, None

        started = time.perf_counter()
        source = SourceObject(bucket=ref.bucket, key=ref.key, etag=ref.etag, size_bytes=ref.size)
        outcome = Outcome.READ
        try:
            stored = self._get(
                ref.bucket, ref.key, ref.key if bursts.is_manifest(ref.key) else None
            )
            source = SourceObject(
                bucket=ref.bucket, key=ref.key, etag=stored.etag or ref.etag, size_bytes=stored.size
            )
            with deadline.limit(seconds or settings.timeout_seconds):
                if bursts.is_manifest(ref.key):
                    read, photos = self._read_burst(ref.bucket, ref.key, stored.data)
                else:
                    read, photos = self._pipeline().read(stored.data), {ref.key: stored.data}
                if settings.write_anonymized:
                    self._write_anonymized_or_log(ref.bucket, photos)
            result = BatchResult.read(
                read,
                source,
                request_id=request_id,
                processed_at=self._clock(),
            )
        except PlateOcrError as exc:
            if exc.retryable:
                raise
            if (
                isinstance(exc, DeadlineExceededError)
                and seconds is not None
                and seconds < settings.timeout_seconds
            ):
                # The invocation, not the photo, ran out of time (its deadline was cut to what the
                # invocation had left): deliver it again, with a whole TIMEOUT_SECONDS.
                raise OutOfTimeError(
                    f"The record had {seconds:.1f} s of the invocation, not TIMEOUT_SECONDS."
                ) from exc
            outcome = Outcome.ERROR_RESULT
            result = self._failed(source, exc.code, str(exc), request_id, started)

        if source.etag and self._store.current_etag(ref.bucket, ref.key) not in (None, source.etag):
            # Overwritten while it was read: the newer version's notification writes its result
            # (or already has); this one must not overwrite that with a reading of the old photo.
            logger.info("object overwritten while it was read; the newer version's result stands")
            return Outcome.IGNORED, None
        etag = source.etag or ""
        self._store.put_json(
            ref.bucket,
            out_key,
            result.model_dump_json().encode("utf-8"),
            {SOURCE_ETAG_META: etag} if etag else {},
        )
        logger.info(
            "result written",
            extra={"outcome": outcome.value, "stage": result.stage, "success": result.success},
        )
        if self._publisher is not None:
            self._publisher.publish(result, out_key)
        return outcome, result

    def _read_burst(
        self, bucket: str, manifest_key: str, manifest: bytes
    ) -> tuple[OcrResult, dict[str, bytes]]:
        """The frames a burst manifest names, read together and voted into one plate; and the
        frames by key."""
        keys = bursts.frame_keys(manifest_key, manifest)
        photos: dict[str, bytes] = {}
        for i, key in enumerate(keys):
            try:
                photos[key] = self._get(bucket, key, f"Photo {i + 1} of {len(keys)} ({key})").data
            except ObjectMissingError:
                raise  # its message names the photo already
            except PlateOcrError as exc:
                raise exc.about_photo(i, len(keys)) from exc
        names = [key.rsplit("/", 1)[-1] for key in keys]
        return self._pipeline().read_frames([photos[k] for k in keys], names), photos

    def _get(self, bucket: str, key: str, what: str | None = None) -> StoredObject:
        """An object within the photo size limit. A burst's manifest or frame is named by
        ``what`` when it is missing: it may never have been written.

        Raises:
            ObjectMissingError, ImageTooLargeError: answered with an error result.
        """
        try:
            return self._store.get(bucket, key, self._settings.max_image_bytes)
        except ObjectMissingError as exc:
            if what is None:
                raise
            raise ObjectMissingError(
                key, f"{what} is missing: deleted before it was read, or never written."
            ) from exc

    def _write_anonymized_or_log(self, bucket: str, photos: dict[str, bytes]) -> None:
        """:meth:`_write_anonymized`; a photo that cannot be blurred (past the deadline, a side
        JPEG cannot hold) keeps its read result, and the missing copy is logged. Trouble that may
        pass (S3) raises: the record is retried."""
        try:
            self._write_anonymized(bucket, photos)
        except PlateOcrError as exc:
            if exc.retryable:
                raise
            logger.warning("blurred copy not written", extra={"error": exc.code})

    def _write_anonymized(self, bucket: str, photos: dict[str, bytes]) -> None:
        """Each photo, its plates blurred, under ``anonymized/`` (the setting
        ``write_anonymized``)."""
        settings = self._settings
        for key, data in photos.items():
            covered = anonymize(
                data,
                self._pipeline().every_finder,
                max_bytes=settings.max_image_bytes,
                max_pixels=settings.max_image_pixels,
            )
            self._store.put_photo(bucket, anonymized_key(key, settings), covered.jpeg)

    def _failed(
        self, source: SourceObject, code: str, message: str, request_id: str, started: float
    ) -> BatchResult:
        return BatchResult.failed(
            source,
            ErrorBody(error=code, message=message, request_id=request_id),
            request_id=request_id,
            processed_at=self._clock(),
            elapsed_sec=time.perf_counter() - started,
        )
