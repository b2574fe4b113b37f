"""Untrusted bytes to a BGR image: format sniffing, limits, structure checks, decoding.

Every check that can refuse an upload runs before any pixel is decoded, and a dry run runs them all:
the byte limit, the format, the pixel count from the header (a decompression bomb costs nothing),
and the file's structure (:mod:`plate_ocr.imaging.structure`: JPEG scans, PNG chunks and inflated
size, WebP sanity). Decoding then runs in a decoder process under CPU and memory limits, killed when
the request's deadline passes (:mod:`plate_ocr.imaging.pool`), and converts to 8-bit BGR there
(:mod:`plate_ocr.imaging.convert`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from plate_ocr import formats
from plate_ocr.errors import ImageTooLargeError, InvalidImageError, UnsupportedMediaTypeError
from plate_ocr.formats import ImageFormat
from plate_ocr.imaging.structure import Structure, check_structure

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

SUPPORTED_FORMATS = tuple(f.value for f in ImageFormat)
#: ISO BMFF brands (the ``ftyp`` box) of AVIF, and of HEIF with HEVC pictures. The generic HEIF
#: brands (mif1, msf1) say nothing of the codec: the compatible brands decide.
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEVC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_GENERIC_BRANDS = frozenset({b"mif1", b"msf1"})


@dataclass(frozen=True)
class ImageInfo:
    """What the header says about an upload; enough for a dry run."""

    format: str
    width: int
    height: int
    size_bytes: int
    #: EXIF orientation (1 = upright .. 8), applied when decoding.
    orientation: int = 1
    #: Bits per sample (16-bit PNGs decode another way).
    bit_depth: int = 8

    @property
    def media_type(self) -> str:
        return ImageFormat(self.format).media_type.value

    @property
    def upright_size(self) -> tuple[int, int]:
        """Width and height once turned upright (what a read reports): EXIF orientations 5-8
        turn the image a quarter."""
        if 5 <= self.orientation <= 8:
            return self.height, self.width
        return self.width, self.height


def sniff_format(data: bytes) -> str | None:
    """The image format from the magic bytes, or None when they name no image format we know."""
    if data[:3] == b"\xff\xd8\xff":
        return ImageFormat.JPEG
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return ImageFormat.PNG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ImageFormat.WEBP
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:2] == b"BM":
        return ImageFormat.BMP
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return ImageFormat.TIFF
    if data[:4] in (b"II+\x00", b"MM\x00+"):
        return "bigtiff"
    if data[4:8] == b"ftyp":
        return _bmff_format(data)
    return None


def _bmff_format(data: bytes) -> str | None:
    """``avif`` or ``heif`` from an ISO BMFF file's brands (major brand first), else None."""
    size = min(int.from_bytes(data[:4], "big"), len(data), 256)
    major = data[8:12]
    compatible = {data[i : i + 4] for i in range(16, size - 3, 4)}
    if major in _AVIF_BRANDS or (major not in _HEVC_BRANDS and compatible & _AVIF_BRANDS):
        return ImageFormat.AVIF
    if major in _HEVC_BRANDS or compatible & (_HEVC_BRANDS | _GENERIC_BRANDS):
        return ImageFormat.HEIF
    return None


def inspect_image(data: bytes, *, max_bytes: int, max_pixels: int) -> ImageInfo:
    """Checks type, byte size, pixel count and structure without decoding pixels.

    Raises:
        InvalidImageError: empty, corrupt, or not an image.
        UnsupportedMediaTypeError: an image format we do not read (GIF), or a kind of TIFF, BMP or
            HEIF no camera writes.
        ImageTooLargeError: over ``max_bytes`` bytes or ``max_pixels`` pixels.
        ImageTooComplexError: built to cost more to decode than any camera's photo.
    """
    if not data:
        raise InvalidImageError("The upload is empty.")
    if len(data) > max_bytes:
        raise ImageTooLargeError(
            f"The file is {len(data)} bytes; the limit is {max_bytes} bytes "
            f"({max_bytes // (1024 * 1024)} MB)."
        )
    fmt = sniff_format(data)
    if fmt is None:
        raise InvalidImageError(f"The upload is not an image ({formats.names()} expected).")
    if fmt not in SUPPORTED_FORMATS:
        reason = formats.REFUSED.get(fmt, f"{fmt.upper()} images are not read.")
        raise UnsupportedMediaTypeError(f"{reason} Accepted: {formats.names()}.")
    # Other formats are walked before Pillow reads their headers (Pillow loops over every JPEG
    # segment before the frame header; TIFF, HEIF and AVIF sizes come from the walk itself); a
    # PNG is walked after the pixel limit, because its walk inflates the pixel data, bounded by
    # the header's size.
    structure = check_structure(data, fmt) if fmt != ImageFormat.PNG else Structure()
    if structure.width is not None and structure.height is not None:
        width, height = structure.width, structure.height
    else:
        width, height = _header_size(data)
    if width <= 0 or height <= 0:
        raise InvalidImageError("The image has no pixels.")
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"The image is {width}x{height} ({width * height / 1e6:.1f} MP); "
            f"the limit is {max_pixels / 1e6:.0f} MP."
        )
    if fmt == ImageFormat.PNG:
        structure = check_structure(data, fmt)
    return ImageInfo(
        format=fmt,
        width=width,
        height=height,
        size_bytes=len(data),
        orientation=structure.orientation,
        bit_depth=structure.bit_depth,
    )


def _header_size(data: bytes) -> tuple[int, int]:
    if data[12:16] == b"IHDR" and len(data) >= 24:
        # PNG: IHDR is the first chunk. Pillow would read every chunk before the pixel data (a
        # PNG of 700k empty chunks took 1.8 s), before the structure check counts them.
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    from PIL import Image

    # Pillow's own bomb check would raise before ours with a less useful message.
    Image.MAX_IMAGE_PIXELS = None
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
    except Exception as exc:  # Pillow raises many types for corrupt headers
        raise InvalidImageError("The image header is corrupt or truncated.") from exc
    return int(width), int(height)


def decode_image(data: bytes, *, max_bytes: int, max_pixels: int) -> npt.NDArray[np.uint8]:
    """Decodes an upload into an 8-bit, 3-channel BGR image, upright as its EXIF says.

    Greyscale becomes BGR, 16-bit becomes 8-bit, alpha is composited over white (a transparent
    background would otherwise turn black and swallow dark characters).

    Raises:
        DeadlineExceededError: the current deadline passed while decoding (the decode was killed).
        (and everything :func:`inspect_image` raises)
    """
    from plate_ocr.imaging.pool import get_pool

    info = inspect_image(data, max_bytes=max_bytes, max_pixels=max_pixels)
    return get_pool().decode(
        data, fmt=info.format, bit_depth=info.bit_depth, orientation=info.orientation
    )
