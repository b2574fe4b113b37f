"""Takes the photo out of an HTTP request: multipart ``image_file`` or a raw image body.

Pure stdlib (the ``email`` package parses multipart), so the API handler, the local server and the
tests share one reading of what a valid upload is. Size is checked before any parsing.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP

from plate_ocr.errors import ImageTooLargeError, PlateOcrError, UnsupportedMediaTypeError

#: Raw bodies the API reads; anything else (and multipart) is refused with 415.
RAW_IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")
FIELD = "image_file"
_TRUE = frozenset({"1", "true", "yes", "on"})
#: Room for the multipart framing (boundaries, part headers, a dryRun field) beyond the image.
_MULTIPART_OVERHEAD = 64 * 1024


class BadRequestError(PlateOcrError):
    """The request is malformed (missing field, broken base64, broken multipart)."""

    code = "bad_request"
    http_status = 400

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


@dataclass(frozen=True)
class FormPart:
    """One multipart/form-data field; a ``filename`` makes it a file."""

    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None


def encode_multipart(parts: list[FormPart], boundary: str) -> bytes:
    """A multipart/form-data body, as a browser sends it (events, tests, clients)."""
    chunks = []
    for part in parts:
        disposition = f'form-data; name="{part.name}"'
        if part.filename is not None:
            disposition += f'; filename="{part.filename}"'
        head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
        if part.content_type:
            head += f"Content-Type: {part.content_type}\r\n"
        chunks.append(head.encode() + b"\r\n" + part.data + b"\r\n")
    return b"".join(chunks) + f"--{boundary}--\r\n".encode()


@dataclass(frozen=True)
class Upload:
    """The photo of a request and whether the caller asked for a dry run."""

    data: bytes
    dry_run: bool
    filename: str | None = None


def decode_body(body: str | None, is_base64: bool) -> bytes:
    """The raw bytes of an API Gateway body.

    Raises:
        BadRequestError: ``isBase64Encoded`` with a body that is not base64.
    """
    if not body:
        return b""
    if is_base64:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadRequestError("The body is not valid base64.", "invalid_base64") from exc
    # Without a binary media type match API Gateway hands over text; latin-1 keeps byte values.
    try:
        return body.encode("latin-1")
    except UnicodeEncodeError:
        return body.encode("utf-8")


def is_true(value: str | None) -> bool:
    return value is not None and value.strip().lower() in _TRUE


def dry_run_flag(value: str | None) -> bool:
    """``dryRun`` as a boolean; a value that is neither true nor false is refused, not guessed.

    Raises:
        BadRequestError: e.g. ``dryRun={}``: reading the photo when a dry run was meant costs
            money (stage 2), and the OpenAPI document promises a boolean.
    """
    if value is None:
        return False
    word = value.strip().lower()
    # JSON Schema's boolean on the wire: "1"/"yes" would read as a number or a string.
    if word == "true":
        return True
    if word == "false":
        return False
    raise BadRequestError("dryRun must be true or false.", "invalid_dry_run")


def media_type(content_type: str | None) -> str:
    """``image/JPEG; charset=x`` -> ``image/jpeg``."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def read_upload(
    body: bytes, content_type: str | None, *, max_bytes: int, dry_run_query: str | None = None
) -> Upload:
    """The photo in a request body.

    Args:
        body: the decoded request body.
        content_type: the request's Content-Type header.
        max_bytes: the largest photo accepted.
        dry_run_query: the ``dryRun`` query parameter, if any.

    Raises:
        BadRequestError: empty body, no ``image_file`` field, two of them, broken multipart.
        ImageTooLargeError: the photo (or the whole body) is over ``max_bytes``.
        UnsupportedMediaTypeError: a Content-Type that is neither multipart nor a read image type.
    """
    kind = media_type(content_type)
    dry_run = dry_run_flag(dry_run_query)
    if kind == "multipart/form-data":
        if len(body) > max_bytes + _MULTIPART_OVERHEAD:
            raise ImageTooLargeError(f"The request is over the limit of {max_bytes} bytes.")
        data, filename, form_dry_run = _read_multipart(body, content_type or "")
        upload = Upload(data=data, dry_run=dry_run or form_dry_run, filename=filename)
    elif kind in RAW_IMAGE_TYPES:
        upload = Upload(data=body, dry_run=dry_run)
    else:
        shown = kind or "none"
        raise UnsupportedMediaTypeError(
            f"Content-Type {shown!r} is not accepted: send multipart/form-data with an "
            f"'{FIELD}' field, or an image/jpeg, image/png or image/webp body."
        )
    if not upload.data:
        raise BadRequestError("The image is empty.", "empty_image")
    if len(upload.data) > max_bytes:
        raise ImageTooLargeError(
            f"The image has {len(upload.data)} bytes; the limit is {max_bytes} bytes."
        )
    return upload


def _read_multipart(body: bytes, content_type: str) -> tuple[bytes, str | None, bool]:
    if "boundary=" not in content_type:
        raise BadRequestError("multipart/form-data without a boundary.", "invalid_multipart")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise BadRequestError("The multipart body cannot be parsed.", "invalid_multipart")
    files: list[tuple[bytes, str | None]] = []
    dry_run = False
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        if name == FIELD:
            files.append((_payload(part), part.get_filename()))
        elif name == "dryRun":
            dry_run = dry_run_flag(_payload(part).decode("utf-8", "replace"))
    if not files:
        raise BadRequestError(f"The form has no '{FIELD}' field.", "missing_field")
    if len(files) > 1:
        raise BadRequestError(f"Send one '{FIELD}', not {len(files)}.", "too_many_files")
    data, filename = files[0]
    return data, filename, dry_run


def _payload(part: Message) -> bytes:
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""
