"""Typed errors of plate_ocr; each knows its HTTP status and whether trying again can help.

Callers decide on ``retryable`` (the batch retries a record, or writes an error result), never on
the status code.
"""

from __future__ import annotations

import copy

#: Sent with every HTTP answer: the API's routes (functions/api/app.py), the local server's own
#: refusals (plate_ocr.localserver) and, but for the policy, API Gateway's (template.yaml).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
}


class PlateOcrError(Exception):
    """Base of every error plate_ocr raises on purpose."""

    code = "plate_ocr_error"
    http_status = 500
    #: Whether the same request can succeed later (transient trouble), as opposed to bad input.
    retryable = True

    def about_photo(self, index: int, count: int) -> PlateOcrError:
        """The same error, its message naming the photo (of several) it is about."""
        named = copy.copy(self)
        named.args = (f"Photo {index + 1} of {count}: {self}",)
        return named


class InvalidImageError(PlateOcrError):
    """The bytes are empty, corrupt, or not an image at all."""

    code = "invalid_image"
    http_status = 400
    retryable = False


class ImageTooLargeError(PlateOcrError):
    """The file is over the byte limit or the image over the pixel limit."""

    code = "image_too_large"
    http_status = 413
    retryable = False


class ImageTooComplexError(PlateOcrError):
    """Within the size limits, but built to cost more than any camera's photo: hundreds of JPEG
    scans, tens of thousands of PNG chunks, a decode past its CPU or memory budget."""

    code = "too_complex"
    http_status = 422
    retryable = False


class UnsupportedMediaTypeError(PlateOcrError):
    """A real image, but in a format we do not read (GIF, BMP, TIFF, HEIC ...)."""

    code = "unsupported_media_type"
    http_status = 415
    retryable = False


class BadRequestError(PlateOcrError):
    """The request is malformed (missing field, broken base64, broken multipart)."""

    code = "bad_request"
    http_status = 400
    retryable = False

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class InvalidManifestError(PlateOcrError):
    """A batch manifest of one vehicle's photos that cannot be read (plate_ocr.bursts)."""

    code = "invalid_manifest"
    http_status = 400
    retryable = False


class ObjectMissingError(PlateOcrError):
    """An S3 object a batch record names is gone (deleted before it was read, or never written).

    Not retryable: it will not come back, and the record gets a ``not_found`` result.
    """

    code = "not_found"
    http_status = 404
    retryable = False

    def __init__(
        self, key: str, message: str = "The object was deleted before it was read."
    ) -> None:
        super().__init__(message)
        self.key = key


class DeadlineExceededError(PlateOcrError):
    """The request (or batch record) took longer than its deadline; its work was stopped.

    Not retryable: a photo that took too long once takes too long again, and a batch record that
    retried it would only reach the dead-letter queue later, without a result.
    """

    code = "timeout"
    http_status = 504
    retryable = False


class ModelUnavailableError(PlateOcrError):
    """The models cannot be loaded (missing files, broken install)."""

    code = "model_unavailable"
    http_status = 503
    retryable = True


class StorageNotConfiguredError(PlateOcrError):
    """No bucket configured (local server without S3): uploads and results are unavailable."""

    code = "storage_unavailable"
    http_status = 503
    retryable = True


class EventPublishError(PlateOcrError):
    """A batch result's event could not be published on EventBridge; the record is retried."""

    code = "event_publish_failed"
    http_status = 503
    retryable = True


class OutOfTimeError(PlateOcrError):
    """Too little of a batch invocation is left to read another record; SQS delivers it again."""

    code = "out_of_time"
    http_status = 503
    retryable = True
