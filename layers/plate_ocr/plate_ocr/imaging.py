"""Untrusted bytes to a BGR image: format sniffing, limits, EXIF orientation, bit depth, alpha.

Limits are checked from the header before any pixel is decoded, so a decompression bomb costs
nothing.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from plate_ocr.errors import ImageTooLargeError, InvalidImageError, UnsupportedMediaTypeError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

SUPPORTED_FORMATS = ("jpeg", "png", "webp")
MEDIA_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


@dataclass(frozen=True)
class ImageInfo:
    """What the header says about an upload; enough for a dry run."""

    format: str
    width: int
    height: int
    size_bytes: int

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]


def sniff_format(data: bytes) -> str | None:
    """The image format from the magic bytes, or None when they name no image format we know."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:2] == b"BM":
        return "bmp"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if data[4:8] == b"ftyp" and data[8:12] in (
        b"heic",
        b"heix",
        b"hevc",
        b"mif1",
        b"msf1",
        b"avif",
    ):
        return "heif"
    return None


def inspect_image(data: bytes, *, max_bytes: int, max_pixels: int) -> ImageInfo:
    """Checks type, byte size and pixel count without decoding pixels.

    Raises:
        InvalidImageError: empty, corrupt, or not an image.
        UnsupportedMediaTypeError: an image format other than JPEG, PNG or WebP.
        ImageTooLargeError: over ``max_bytes`` bytes or ``max_pixels`` pixels.
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
        raise InvalidImageError("The upload is not an image (JPEG, PNG or WebP expected).")
    if fmt not in SUPPORTED_FORMATS:
        raise UnsupportedMediaTypeError(
            f"{fmt.upper()} images are not supported; send JPEG, PNG or WebP."
        )
    width, height = _header_size(data)
    if width <= 0 or height <= 0:
        raise InvalidImageError("The image has no pixels.")
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"The image is {width}x{height} ({width * height / 1e6:.1f} MP); "
            f"the limit is {max_pixels / 1e6:.0f} MP."
        )
    return ImageInfo(format=fmt, width=width, height=height, size_bytes=len(data))


def _header_size(data: bytes) -> tuple[int, int]:
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
    """
    inspect_image(data, max_bytes=max_bytes, max_pixels=max_pixels)
    import cv2
    import numpy as np

    buf = np.frombuffer(data, dtype=np.uint8)
    image = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise InvalidImageError("The image could not be decoded (corrupt or truncated).")
    image = _to_bgr8(image)
    return _apply_exif_orientation(data, image)


def _to_bgr8(image: npt.NDArray[np.generic]) -> npt.NDArray[np.uint8]:
    import cv2
    import numpy as np

    if image.dtype == np.uint16:
        image = (image.astype(np.uint16) >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = cv2.normalize(image, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    channels = image.shape[2]
    if channels == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if channels == 4:
        alpha = image[:, :, 3:4].astype(np.float32) / 255.0
        rgb = image[:, :, :3].astype(np.float32)
        return (rgb * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return image[:, :, :3].astype(np.uint8, copy=channels != 3)


def _apply_exif_orientation(data: bytes, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    # IMREAD_UNCHANGED ignores EXIF, so orientation is applied here, once, for every format.
    import cv2
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            orientation = int(img.getexif().get(0x0112, 1))
    except Exception:
        return image
    ops = {
        2: lambda im: cv2.flip(im, 1),
        3: lambda im: cv2.rotate(im, cv2.ROTATE_180),
        4: lambda im: cv2.flip(im, 0),
        5: lambda im: cv2.flip(cv2.rotate(im, cv2.ROTATE_90_CLOCKWISE), 1),
        6: lambda im: cv2.rotate(im, cv2.ROTATE_90_CLOCKWISE),
        7: lambda im: cv2.flip(cv2.rotate(im, cv2.ROTATE_90_COUNTERCLOCKWISE), 1),
        8: lambda im: cv2.rotate(im, cv2.ROTATE_90_COUNTERCLOCKWISE),
    }
    op = ops.get(orientation)
    return op(image) if op else image
