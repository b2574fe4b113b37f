"""The bucket: where photos and results live, the S3 adapter, presigned uploads, result look-ups.

Keys are deterministic (``incoming/a/b.jpg`` -> ``results/a/b.jpg.json``, and the photo with its
plates blurred at ``anonymized/a/b.jpg.jpg``), so at-least-once delivery stays idempotent, and
results live under prefixes the trigger does not watch, so nothing recurses. botocore and boto3 are
imported when S3 is first used.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from plate_ocr.config import Settings, get_settings
from plate_ocr.errors import ImageTooLargeError, ObjectMissingError, StorageNotConfiguredError
from plate_ocr.schema import UploadResponse

#: S3 metadata on a result naming the ETag of the photo it was read from (idempotence check).
SOURCE_ETAG_META = "source-etag"
#: The error codes S3 answers for an object that is not there (GetObject, HeadObject).
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
#: What S3 answers for a missing object to a role that may not list the bucket.
_DENIED_CODES = frozenset({"AccessDenied", "403", "Forbidden"})

T = TypeVar("T")


@dataclass(frozen=True)
class StoredObject:
    data: bytes
    etag: str | None
    size: int


def result_key(source_key: str, settings: Settings) -> str:
    """``incoming/a/b.jpg`` -> ``results/a/b.jpg.json`` (deterministic: redelivery overwrites)."""
    relative = source_key.removeprefix(settings.incoming_prefix)
    return f"{settings.results_prefix}{relative}.json"


def anonymized_key(source_key: str, settings: Settings) -> str:
    """``incoming/a/b.jpg`` -> ``anonymized/a/b.jpg.jpg``: the photo with its plates blurred."""
    relative = source_key.removeprefix(settings.incoming_prefix)
    return f"{settings.anonymized_prefix}{relative}.jpg"


def result_key_for_id(result_id: str, settings: Settings) -> str:
    """Where the result of a presigned upload appears."""
    return f"{settings.results_prefix}{result_id}.json"


def new_result_id() -> str:
    return uuid.uuid4().hex


def plain_etag(etag: str | None) -> str | None:
    """An ETag without its quotes: notifications carry it bare, GetObject quoted."""
    return etag.strip('"') if etag else None


class S3Store:
    """The batch's object store on S3 (:class:`plate_ocr.batch.ObjectStore`), plus the presigned
    uploads and result look-ups of the API."""

    def __init__(self, client: Any, settings: Settings | None = None) -> None:
        self._s3 = client
        self._settings = settings or get_settings()

    def get(self, bucket: str, key: str, max_bytes: int) -> StoredObject:
        """Raises:
        ObjectMissingError: no such object.
        ImageTooLargeError: the object is over ``max_bytes``.
        """
        response = _unless_missing(lambda: self._s3.get_object(Bucket=bucket, Key=key))
        if response is None:
            raise ObjectMissingError(key)
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
        return StoredObject(data=data, etag=plain_etag(response.get("ETag")), size=len(data))

    def result_source_etag(self, bucket: str, key: str) -> str | None:
        """The source ETag recorded on an existing result (``""`` if unrecorded); ``None``: none."""
        response = self._head(bucket, key)
        if response is None:
            return None
        return str(response.get("Metadata", {}).get(SOURCE_ETAG_META, ""))

    def current_etag(self, bucket: str, key: str) -> str | None:
        """The object's ETag now; ``None``: there is no such object (any more)."""
        response = self._head(bucket, key)
        return None if response is None else plain_etag(response.get("ETag"))

    def _head(self, bucket: str, key: str) -> dict[str, Any] | None:
        """The object's HEAD response; ``None``: there is no such object."""
        return _unless_missing(lambda: self._s3.head_object(Bucket=bucket, Key=key))

    def put_json(self, bucket: str, key: str, body: bytes, metadata: dict[str, str]) -> None:
        self._s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            ContentType="application/json; charset=utf-8",
            Metadata=metadata,
        )

    def put_photo(self, bucket: str, key: str, jpeg: bytes) -> None:
        self._s3.put_object(Bucket=bucket, Key=key, Body=jpeg, ContentType="image/jpeg")

    def get_result(self, result_id: str) -> bytes | None:
        """The batch result of a presigned upload, or ``None`` while it is not there yet."""
        key = result_key_for_id(result_id, self._settings)
        bucket = self._bucket()
        # The API's role may not list the bucket, so S3 answers 403, not 404, for a result that
        # is not there yet (template.yaml); GetObject on results/ is all it is granted.
        response = _unless_missing(
            lambda: self._s3.get_object(Bucket=bucket, Key=key), _MISSING_CODES | _DENIED_CODES
        )
        if response is None:
            return None
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


def _unless_missing(call: Callable[[], T], missing: frozenset[str] = _MISSING_CODES) -> T | None:
    """``call()``, or None when S3 answers one of ``missing`` (the object is not there); other
    errors raise."""
    from botocore.exceptions import ClientError

    try:
        return call()
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code", "")) in missing:
            return None
        raise


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
