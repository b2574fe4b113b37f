"""The batch path and the S3 side of the API: S3 object -> pipeline -> ``results/<key>.json``.

Handlers stay thin: they hand SQS bodies to :func:`parse_notification` and each object to
:meth:`BatchReader.process`, and ask :class:`S3Store` for presigned uploads and results. Keys are
deterministic (``incoming/a/b.jpg`` -> ``results/a/b.jpg.json``), so at-least-once delivery stays
idempotent, and results live under a prefix the trigger does not watch, so nothing recurses.
"""

from __future__ import annotations

import enum
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote_plus

from plate_ocr.config import Settings, get_settings
from plate_ocr.errors import ImageTooLargeError, PlateOcrError
from plate_ocr.schema import BatchResult, ErrorBody, SourceObject, UploadResponse

if TYPE_CHECKING:
    from plate_ocr.pipeline import Pipeline

logger = logging.getLogger(__name__)

#: S3 metadata on a result naming the ETag of the photo it was read from (idempotence check).
SOURCE_ETAG_META = "source-etag"


@dataclass(frozen=True)
class ObjectRef:
    """One S3 object named by a notification (key already URL-decoded)."""

    bucket: str
    key: str
    etag: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class StoredObject:
    data: bytes
    etag: str | None
    size: int


class ObjectMissingError(Exception):
    """The object named by a notification is gone (deleted before the batch read it)."""


class Outcome(enum.StrEnum):
    """What the batch did with one object."""

    READ = "read"
    ERROR_RESULT = "error_result"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


class ObjectStore(Protocol):
    """The storage the batch needs; :class:`S3Store` in production, a dict in unit tests."""

    def get(self, bucket: str, key: str, max_bytes: int) -> StoredObject: ...

    def result_source_etag(self, bucket: str, key: str) -> str | None: ...

    def put_json(self, bucket: str, key: str, body: bytes, metadata: dict[str, str]) -> None: ...


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
        if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
            continue
        s3 = record["s3"]
        obj = s3["object"]
        refs.append(
            ObjectRef(
                bucket=s3["bucket"]["name"],
                # Keys arrive URL-encoded with '+' for spaces; Korean names are %-escaped UTF-8.
                key=unquote_plus(obj["key"]),
                etag=_plain_etag(obj.get("eTag") or obj.get("etag")),
                size=obj.get("size"),
            )
        )
    return refs


def result_key(source_key: str, settings: Settings) -> str:
    """``incoming/a/b.jpg`` -> ``results/a/b.jpg.json`` (deterministic: redelivery overwrites)."""
    relative = source_key.removeprefix(settings.incoming_prefix)
    return f"{settings.results_prefix}{relative}.json"


def result_key_for_id(result_id: str, settings: Settings) -> str:
    """Where the result of a presigned upload appears."""
    return f"{settings.results_prefix}{result_id}.json"


def new_result_id() -> str:
    return uuid.uuid4().hex


class BatchReader:
    """Reads one S3 object and writes its result; bad photos get an error result, not a retry."""

    def __init__(
        self,
        store: ObjectStore,
        pipeline: Callable[[], Pipeline],
        settings: Settings | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._pipeline = pipeline
        self._settings = settings or get_settings()
        self._clock = clock

    def process(self, ref: ObjectRef, *, request_id: str) -> tuple[Outcome, BatchResult | None]:
        """Reads ``ref`` and writes its result object.

        Raises:
            ModelUnavailableError, botocore errors, ...: transient trouble; the record is retried
                and, when it keeps failing, ends in the dead-letter queue.
        """
        settings = self._settings
        if not ref.key.startswith(settings.incoming_prefix) or ref.key.endswith("/"):
            logger.info("ignored object outside %s", settings.incoming_prefix)
            return Outcome.IGNORED, None
        out_key = result_key(ref.key, settings)
        if ref.etag is not None:
            done_etag = self._store.result_source_etag(ref.bucket, out_key)
            if done_etag == ref.etag:
                logger.info("result already written for this version; skipped")
                return Outcome.DUPLICATE, None

        started = time.perf_counter()
        source = SourceObject(bucket=ref.bucket, key=ref.key, etag=ref.etag, size_bytes=ref.size)
        outcome = Outcome.READ
        try:
            stored = self._store.get(ref.bucket, ref.key, settings.max_image_bytes)
            source = SourceObject(
                bucket=ref.bucket, key=ref.key, etag=stored.etag or ref.etag, size_bytes=stored.size
            )
            result = BatchResult.read(
                self._pipeline().read(stored.data),
                source,
                request_id=request_id,
                processed_at=self._clock(),
            )
        except ObjectMissingError:
            outcome = Outcome.ERROR_RESULT
            result = self._failed(
                source,
                "not_found",
                "The object was deleted before it was read.",
                request_id,
                started,
            )
        except PlateOcrError as exc:
            if exc.http_status >= 500:
                raise
            outcome = Outcome.ERROR_RESULT
            result = self._failed(source, exc.code, str(exc), request_id, started)

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
        return outcome, result

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


class S3Store:
    """:class:`ObjectStore` on S3, plus the presigned uploads and result look-ups of the API."""

    def __init__(self, client: Any, settings: Settings | None = None) -> None:
        self._s3 = client
        self._settings = settings or get_settings()

    def get(self, bucket: str, key: str, max_bytes: int) -> StoredObject:
        from botocore.exceptions import ClientError

        try:
            response = self._s3.get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if _error_code(exc) in ("NoSuchKey", "404", "NotFound"):
                raise ObjectMissingError(key) from exc
            raise
        size = int(response.get("ContentLength", 0))
        body = response["Body"]
        try:
            if size > max_bytes:
                raise ImageTooLargeError(
                    f"The object has {size} bytes; the limit is {max_bytes} bytes."
                )
            data = body.read(max_bytes + 1)
        finally:
            body.close()
        if len(data) > max_bytes:
            raise ImageTooLargeError(f"The object is over the limit of {max_bytes} bytes.")
        return StoredObject(data=data, etag=_plain_etag(response.get("ETag")), size=len(data))

    def result_source_etag(self, bucket: str, key: str) -> str | None:
        """The source ETag recorded on an existing result (``""`` if unrecorded); ``None``: none."""
        from botocore.exceptions import ClientError

        try:
            response = self._s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return str(response.get("Metadata", {}).get(SOURCE_ETAG_META, ""))

    def put_json(self, bucket: str, key: str, body: bytes, metadata: dict[str, str]) -> None:
        self._s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            ContentType="application/json; charset=utf-8",
            Metadata=metadata,
        )

    def get_result(self, result_id: str) -> bytes | None:
        """The batch result of a presigned upload, or ``None`` while it is not there yet."""
        from botocore.exceptions import ClientError

        bucket = self._bucket()
        try:
            response = self._s3.get_object(
                Bucket=bucket, Key=result_key_for_id(result_id, self._settings)
            )
        except ClientError as exc:
            if _error_code(exc) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise
        data: bytes = response["Body"].read()
        return data

    def presign_upload(self, content_type: str) -> UploadResponse:
        """A presigned POST for one photo: exact key, exact type, 1 byte to ``max_image_bytes``."""
        settings = self._settings
        bucket = self._bucket()
        result_id = new_result_id()
        # No extension: the key maps one-to-one onto results/<result_id>.json.
        key = f"{settings.incoming_prefix}{result_id}"
        max_bytes = settings.max_image_bytes
        post = self._s3.generate_presigned_post(
            Bucket=bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[
                {"Content-Type": content_type},
                ["content-length-range", 1, max_bytes],
            ],
            ExpiresIn=settings.upload_expires_seconds,
        )
        return UploadResponse(
            result_id=result_id,
            key=key,
            url=post["url"],
            fields={k: str(v) for k, v in post["fields"].items()},
            max_bytes=max_bytes,
            expires_in=settings.upload_expires_seconds,
            result_path=f"/results/{result_id}",
        )

    def _bucket(self) -> str:
        if not self._settings.bucket_name:
            raise StorageNotConfiguredError("PLATE_OCR_BUCKET_NAME is not set.")
        return self._settings.bucket_name


class StorageNotConfiguredError(PlateOcrError):
    """No bucket configured (local server without S3): uploads and results are unavailable."""

    code = "storage_unavailable"
    http_status = 503


def _plain_etag(etag: str | None) -> str | None:
    # Notifications carry the ETag bare, GetObject quoted: compare them bare.
    return etag.strip('"') if etag else None


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


@lru_cache(maxsize=1)
def get_store() -> S3Store:
    """The process-wide S3 store (its client is built once per cold start)."""
    import boto3
    from botocore.config import Config

    config = Config(
        # Virtual-hosted style gives presigned POSTs the regional endpoint; the global one answers
        # 307 for new buckets outside us-east-1, which a browser's form post does not survive.
        s3={"addressing_style": "virtual"},
        retries={"mode": "standard", "max_attempts": 3},
        # Fail a record fast (it is retried by SQS) rather than hang until the function times out.
        connect_timeout=5,
        read_timeout=30,
    )
    return S3Store(boto3.client("s3", config=config), get_settings())
