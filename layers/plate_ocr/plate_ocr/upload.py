"""Takes the photos out of an HTTP request: multipart ``image_file`` parts or a raw image body.

A form may carry up to :data:`MAX_FRAMES` ``image_file`` parts: photos of the same vehicle, read
together and voted into one plate (all of them within the byte limit of one photo).

Multipart bodies go through python-multipart's streaming parser (what Starlette uses) in slices,
with the deadline checked between them and limits on what a form may hold: at most
:data:`MAX_PARTS` parts, :data:`MAX_PART_HEADER_BYTES` of headers each, small non-file fields. The
stdlib ``email`` parser it replaces was quadratic in the number of parts and recursed on nested
comments in headers (a RecursionError, so a 500). Size is checked before any parsing.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from plate_ocr import deadline
from plate_ocr.errors import BadRequestError, ImageTooLargeError, UnsupportedMediaTypeError
from plate_ocr.formats import ImageType

#: Raw bodies the API reads; anything else (but multipart) is refused with 415.
RAW_IMAGE_TYPES = tuple(t.value for t in ImageType)
FIELD = "image_file"
#: Room for the multipart framing (boundaries, part headers, a dryRun field) beyond the image.
_MULTIPART_OVERHEAD = 64 * 1024
#: ``image_file`` parts of a form: photos of one vehicle, voted into one plate.
MAX_FRAMES = 8
#: Parts of a form in all: the photos, dryRun and a few fields a client adds of its own (skipped).
MAX_PARTS = MAX_FRAMES + 8
#: Header bytes of one part (a browser writes about 100).
MAX_PART_HEADER_BYTES = 8 * 1024
#: Bytes of a field that is not the photo (dryRun is 4 or 5).
MAX_FIELD_BYTES = 1024
#: The request's Content-Type header (media type and boundary: under 100 bytes from a browser).
MAX_CONTENT_TYPE_BYTES = 1024
#: Body bytes handed to the parser at a time, with a deadline check between slices.
_FEED_BYTES = 64 * 1024

__all__ = ["MAX_FRAMES", "BadRequestError", "FormPart", "Upload", "read_upload"]


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
    """The photo of a request (the first of several), whether the caller asked for a dry run, and
    every photo of the request with its file name (several: frames of one vehicle)."""

    data: bytes
    dry_run: bool
    filename: str | None = None
    photos: tuple[bytes, ...] = ()
    filenames: tuple[str | None, ...] = ()

    def __post_init__(self) -> None:
        if not self.photos:
            object.__setattr__(self, "photos", (self.data,))
            object.__setattr__(self, "filenames", (self.filename,))


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


def max_body_bytes(max_bytes: int) -> int:
    """The largest request body :func:`read_upload` takes for photos of ``max_bytes`` in all."""
    return max_bytes + _MULTIPART_OVERHEAD


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
        BadRequestError: empty body, no ``image_file`` field, an empty one, broken multipart.
        ImageTooLargeError: a photo (or the whole body) is over ``max_bytes``.
        UnsupportedMediaTypeError: a Content-Type that is neither multipart nor a read image type.
    """
    kind = media_type(content_type)
    dry_run = dry_run_flag(dry_run_query)
    if kind == "multipart/form-data":
        if len(body) > max_body_bytes(max_bytes):
            raise ImageTooLargeError(f"The request is over the limit of {max_bytes} bytes.")
        files, form_dry_run = _read_multipart(body, content_type or "")
        upload = Upload(
            data=files[0][0],
            dry_run=dry_run or form_dry_run,
            filename=files[0][1],
            photos=tuple(data for data, _ in files),
            filenames=tuple(name for _, name in files),
        )
    elif kind in RAW_IMAGE_TYPES:
        upload = Upload(data=body, dry_run=dry_run)
    else:
        shown = kind or "none"
        raise UnsupportedMediaTypeError(
            f"Content-Type {shown!r} is not accepted: send multipart/form-data with an "
            f"'{FIELD}' field, or a photo body ({', '.join(RAW_IMAGE_TYPES)})."
        )
    for i, photo in enumerate(upload.photos):
        which = f"Photo {i + 1} of {len(upload.photos)}: the" if len(upload.photos) > 1 else "The"
        if not photo:
            raise BadRequestError(f"{which} image is empty.", "empty_image")
        if len(photo) > max_bytes:
            raise ImageTooLargeError(
                f"{which} image has {len(photo)} bytes; the limit is {max_bytes} bytes."
            )
    return upload


def _read_multipart(body: bytes, content_type: str) -> tuple[list[tuple[bytes, str | None]], bool]:
    if len(content_type) > MAX_CONTENT_TYPE_BYTES:
        raise BadRequestError("The Content-Type header is too long.", "invalid_multipart")
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary", b"")
    if not 1 <= len(boundary) <= 70:  # RFC 2046's bounds
        raise BadRequestError("multipart/form-data without a boundary.", "invalid_multipart")
    form = _Form()
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": form.on_part_begin,
            "on_header_field": form.on_header_field,
            "on_header_value": form.on_header_value,
            "on_header_end": form.on_header_end,
            "on_part_data": form.on_part_data,
            "on_part_end": form.on_part_end,
            "on_end": form.on_end,
        },
    )
    try:
        for start in range(0, len(body), _FEED_BYTES):
            parser.write(body[start : start + _FEED_BYTES])
            deadline.check()
        parser.finalize()
    except MultipartParseError as exc:
        raise BadRequestError("The multipart body cannot be parsed.", "invalid_multipart") from exc
    if not form.complete:
        # The parser takes a body cut short without complaint: its last part would be lost, or
        # the form reported as having no photo.
        raise BadRequestError(
            "The multipart body ends before its closing boundary (cut short).", "invalid_multipart"
        )
    if not form.files:
        raise BadRequestError(f"The form has no '{FIELD}' field.", "missing_field")
    return form.files, form.dry_run


class _Form:
    """The callbacks of python-multipart's parser: collects the photo and dryRun within limits."""

    def __init__(self) -> None:
        self.files: list[tuple[bytes, str | None]] = []
        self.dry_run = False
        self.parts = 0
        #: The closing boundary was reached.
        self.complete = False
        self._header_bytes = 0
        self._field = bytearray()
        self._value = bytearray()
        self._name: str | None = None
        self._filename: str | None = None
        self._data = bytearray()

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise BadRequestError(f"The form has more than {MAX_PARTS} parts.", "invalid_multipart")
        self._header_bytes = 0
        self._field = bytearray()
        self._value = bytearray()
        self._name = self._filename = None
        self._data = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._value += data[start:end]

    def _count_header(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > MAX_PART_HEADER_BYTES:
            raise BadRequestError(
                f"A part's headers are over {MAX_PART_HEADER_BYTES} bytes.", "invalid_multipart"
            )

    def on_header_end(self) -> None:
        if bytes(self._field).strip().lower() == b"content-disposition":
            _, params = parse_options_header(self._value.decode("latin-1"))
            name, filename = params.get(b"name"), params.get(b"filename")
            self._name = _text(name) if name is not None else None
            self._filename = _text(filename) if filename is not None else None
        self._field = bytearray()
        self._value = bytearray()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._name == FIELD:
            self._data += data[start:end]
        elif self._name == "dryRun":
            self._data += data[start:end]
            if len(self._data) > MAX_FIELD_BYTES:
                raise BadRequestError("The dryRun field is too long.", "invalid_dry_run")
        # Other fields are skipped without being kept; the body size bounds them.

    def on_part_end(self) -> None:
        if self._name == FIELD:
            if len(self.files) == MAX_FRAMES:
                raise BadRequestError(
                    f"The form has more than {MAX_FRAMES} '{FIELD}' parts (photos of one vehicle).",
                    "too_many_files",
                )
            self.files.append((bytes(self._data), self._filename))
        elif self._name == "dryRun":
            self.dry_run = dry_run_flag(self._data.decode("utf-8", "replace"))
        self._data = bytearray()

    def on_end(self) -> None:
        self.complete = True


def _text(raw: bytes) -> str:
    # parse_options_header hands back the header's bytes; browsers send names in UTF-8.
    return raw.decode("utf-8", "replace")
