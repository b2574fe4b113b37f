"""The image formats plate-ocr reads: one vocabulary for sniffing, decoding, the API and the page.

Every camera and phone format is read: JPEG, PNG (APNG: its first frame), WebP (animated: its first
frame), BMP and TIFF (CCTV exports; a multi-page TIFF: its first page), HEIC/HEIF (iPhones) and
AVIF (an AVIF sequence: its first frame). The pydantic models, the OpenAPI document, the raw body
types, the page's file picker and the template's binary media types all derive from
:class:`ImageType` (a test holds template.yaml to it).

GIF stays refused (:data:`REFUSED`): no camera or phone saves a photo as GIF, and its palette of
256 colours dithers a plate's characters and changes its colour, which the plate class reads.
"""

from __future__ import annotations

from enum import StrEnum


class ImageFormat(StrEnum):
    """A file format we decode, as sniffed from the file's first bytes."""

    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"
    BMP = "bmp"
    TIFF = "tiff"
    HEIF = "heif"
    AVIF = "avif"

    @property
    def label(self) -> str:
        """The name people know the format by."""
        return _LABELS[self]

    @property
    def media_type(self) -> ImageType:
        """The format's usual media type (what a dry run reports)."""
        return next(t for t in ImageType if FORMAT_OF_TYPE[t] is self)


class ImageType(StrEnum):
    """The media types an upload may declare: a raw body's Content-Type, a presigned upload's."""

    JPEG = "image/jpeg"
    PNG = "image/png"
    APNG = "image/apng"
    WEBP = "image/webp"
    BMP = "image/bmp"
    TIFF = "image/tiff"
    HEIC = "image/heic"
    HEIF = "image/heif"
    AVIF = "image/avif"


_LABELS = {
    ImageFormat.JPEG: "JPEG",
    ImageFormat.PNG: "PNG",
    ImageFormat.WEBP: "WebP",
    ImageFormat.BMP: "BMP",
    ImageFormat.TIFF: "TIFF",
    ImageFormat.HEIF: "HEIC/HEIF",
    ImageFormat.AVIF: "AVIF",
}

#: The format each media type names (the bytes decide in the end: a JPEG sent as image/png is read).
FORMAT_OF_TYPE: dict[ImageType, ImageFormat] = {
    ImageType.JPEG: ImageFormat.JPEG,
    ImageType.PNG: ImageFormat.PNG,
    ImageType.APNG: ImageFormat.PNG,
    ImageType.WEBP: ImageFormat.WEBP,
    ImageType.BMP: ImageFormat.BMP,
    ImageType.TIFF: ImageFormat.TIFF,
    ImageType.HEIC: ImageFormat.HEIF,
    ImageType.HEIF: ImageFormat.HEIF,
    ImageType.AVIF: ImageFormat.AVIF,
}

#: File name extensions, for pickers that do not know a media type (browsers often give HEIC none).
EXTENSIONS: dict[ImageFormat, tuple[str, ...]] = {
    ImageFormat.JPEG: (".jpg", ".jpeg"),
    ImageFormat.PNG: (".png", ".apng"),
    ImageFormat.WEBP: (".webp",),
    ImageFormat.BMP: (".bmp",),
    ImageFormat.TIFF: (".tif", ".tiff"),
    ImageFormat.HEIF: (".heic", ".heif"),
    ImageFormat.AVIF: (".avif",),
}

#: Formats that are sniffed and refused, with the reason the answer gives.
REFUSED: dict[str, str] = {
    "gif": (
        "GIF is not read: no camera or phone saves photos as GIF, and its 256 colours blur a "
        "plate's characters and colour. Send the original photo."
    ),
    "bigtiff": (
        "BigTIFF is not read: it is for files over 4 GB, far past the size limit; no camera "
        "writes it. Send the photo as JPEG, or as a classic TIFF."
    ),
}


def names() -> str:
    """``JPEG, PNG, WebP, ... or AVIF``, for messages."""
    labels = [f.label for f in ImageFormat]
    return f"{', '.join(labels[:-1])} or {labels[-1]}"


def accept_list() -> str:
    """The value of a file input's ``accept`` attribute: every media type and extension."""
    extensions = [e for f in ImageFormat for e in EXTENSIONS[f]]
    return ",".join([*(t.value for t in ImageType), *extensions])


def extension_types() -> dict[str, str]:
    """Each file name extension with its format's media type."""
    return {e: f.media_type.value for f in ImageFormat for e in EXTENSIONS[f]}
