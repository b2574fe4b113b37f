"""Decoded pixels to an upright 8-bit BGR image, in bounded memory (runs in the decoder process).

Greyscale becomes BGR, 16-bit becomes 8-bit, alpha is composited over white (a transparent
background would otherwise turn black and swallow dark characters). Alpha is composited in bands of
rows with integer arithmetic: float32 over a whole 39.9 MP RGBA photo took 1.83 GB. 16-bit PNGs are
decoded by Pillow, which unpacks them to 8 bits as it goes (OpenCV holds the 16-bit image, 320 MB
for 39.9 MP RGBA, before any conversion). HEIC/HEIF is decoded by pillow-heif (libheif), AVIF by
Pillow (libavif); both read the first picture of a sequence, and the file's rotation and mirroring
are applied. OpenCV reads BMP and TIFF (the first page), and the first frame of an animated WebP or
PNG.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from plate_ocr.errors import InvalidImageError
from plate_ocr.formats import ImageFormat

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

#: Rows converted at a time: a band of a 7,300 px wide RGBA photo needs about 15 MB of temporaries.
BAND_ROWS = 256

Shape = tuple[int, int, int]


def decode_stream(
    data: bytes, fmt: str, bit_depth: int, orientation: int
) -> tuple[Shape, Iterator[npt.NDArray[np.uint8]]]:
    """The upright BGR shape of the photo, and its pixels as consecutive row bands (C order).

    Bands let the decoder process hand over pixels as it converts them: it never holds the decoded
    picture and a converted copy at once (39.9 MP RGBA: 160 MB, not 280 MB).

    Raises:
        InvalidImageError: the decoder cannot read the pixels (corrupt or truncated).
    """
    import numpy as np

    if fmt == ImageFormat.HEIF:
        shape, bands = _heif_bands(data)
    elif fmt == ImageFormat.AVIF:
        shape, bands, orientation = _avif_bands(data)
    elif fmt == ImageFormat.PNG and bit_depth == 16:
        shape, bands = _pillow_bands(data)
    else:
        shape, bands = _opencv_bands(data, fmt)
    if orientation in (1, 0) or orientation > 8:
        return shape, bands
    # Turning needs the whole picture (rare for big PNG and WebP; phone JPEGs are 3-channel).
    image = assemble(shape, bands)
    turned = np.ascontiguousarray(orient(image, orientation))
    del image
    return (turned.shape[0], turned.shape[1], 3), iter([turned])


def decode_bgr(data: bytes, fmt: str, bit_depth: int, orientation: int) -> npt.NDArray[np.uint8]:
    """The photo as one upright, contiguous (height, width, 3) uint8 BGR array."""
    shape, bands = decode_stream(data, fmt, bit_depth, orientation)
    return assemble(shape, bands)


def assemble(shape: Shape, bands: Iterator[npt.NDArray[np.uint8]]) -> npt.NDArray[np.uint8]:
    import numpy as np

    first = next(bands)
    if first.shape == shape:
        return first
    image = np.empty(shape, dtype=np.uint8)
    top = 0
    for band in (first, *bands):
        image[top : top + band.shape[0]] = band
        top += band.shape[0]
    return image


def _opencv_bands(data: bytes, fmt: str) -> tuple[Shape, Iterator[npt.NDArray[np.uint8]]]:
    import cv2
    import numpy as np

    # JPEG: libjpeg converts greyscale and CMYK to BGR itself, without a 4-channel copy.
    flags = (
        cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
        if fmt == ImageFormat.JPEG
        else cv2.IMREAD_UNCHANGED
    )
    decoded = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    if decoded is None or decoded.size == 0:
        raise InvalidImageError("The image could not be decoded (corrupt or truncated).")
    shape = (int(decoded.shape[0]), int(decoded.shape[1]), 3)
    if decoded.dtype == np.uint8 and decoded.ndim == 3 and decoded.shape[2] == 3:
        return shape, iter([decoded])
    if decoded.dtype not in (np.uint8, np.uint16):
        # Scaled over the whole image: per band, each band would get its own range.
        decoded = _scale_to_uint8(decoded)
    return shape, (to_bgr8(decoded[top : top + BAND_ROWS]) for top in range(0, shape[0], BAND_ROWS))


def _scale_to_uint8(image: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
    """A float or 32-bit image (TIFF) as 8 bits: floats in 0-1 and integers in 0-255 keep their
    meaning (x 255, as is); other ranges are stretched from their minimum to their maximum (over
    the whole image: one range, not one per band). NaN and infinities count as 0.

    Worked through in bands of :data:`BAND_ROWS` rows, twice (the range, then the pixels): the
    decoder holds the decoded image and the 8-bit one, not float copies of the whole image (a
    39.9 MP float TIFF needed more than the decoder's memory limit that way).
    """
    import numpy as np

    def finite(top: int) -> npt.NDArray[np.float32]:
        rows = image[top : top + BAND_ROWS].astype(np.float32)
        return np.nan_to_num(rows, copy=False, nan=0.0, posinf=0.0, neginf=0.0)

    tops = range(0, int(image.shape[0]), BAND_ROWS)
    ranges = [(float(band.min()), float(band.max())) for band in map(finite, tops)]
    low, high = min(r[0] for r in ranges), max(r[1] for r in ranges)
    offset, scale = 0.0, 1.0
    if np.issubdtype(image.dtype, np.floating) and low >= 0.0 and high <= 1.0:
        scale = 255.0
    elif not (low >= 0.0 and high <= 255.0):
        offset, scale = low, (255.0 / (high - low) if high > low else 0.0)
    out = np.empty(image.shape, np.uint8)
    for top in tops:
        band = finite(top)
        band -= offset
        band *= scale
        np.rint(band, out=band)
        out[top : top + BAND_ROWS] = np.clip(band, 0, 255, out=band)
    return out


def to_bgr8(image: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
    """An OpenCV-decoded array (grey, BGR or BGRA; 8, 16 or 32 bits) as 8-bit BGR."""
    import cv2
    import numpy as np

    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = _scale_to_uint8(image)
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return over_white(image)
    return np.ascontiguousarray(image[:, :, :3])


def over_white(pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """(..., 4) colour + alpha composited over white, as (..., 3), rounded like a float would be."""
    import numpy as np

    colour = pixels[..., :3].astype(np.uint16)
    alpha = pixels[..., 3:4].astype(np.uint16)
    # colour * a + 255 * (255 - a) <= 255 * 255: uint16 holds it; the shifts divide by 255, rounded.
    mixed = colour * alpha + 255 * (255 - alpha) + 128
    return ((mixed + (mixed >> 8)) >> 8).astype(np.uint8)


def _pillow_bands(data: bytes) -> tuple[Shape, Iterator[npt.NDArray[np.uint8]]]:
    # Pillow unpacks 16-bit samples to 8 bits as it decodes; OpenCV would hold the 16-bit image.
    img = _pillow_open(data)
    width, height = img.size
    return (height, width, 3), _pillow_band_iter(img)


def _pillow_open(data: bytes) -> Any:
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # the caller checked the pixel count from the header
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise InvalidImageError("The image could not be decoded (corrupt or truncated).") from exc
    return img


def _avif_bands(data: bytes) -> tuple[Shape, Iterator[npt.NDArray[np.uint8]], int]:
    """Pillow's AVIF decoder reads the first frame and reports the file's rotation and mirroring
    as an EXIF orientation, which the caller applies."""
    img = _pillow_open(data)
    orientation = int(img.getexif().get(0x0112, 1))
    width, height = img.size
    return (height, width, 3), _pillow_band_iter(img), orientation


def _heif_bands(data: bytes) -> tuple[Shape, Iterator[npt.NDArray[np.uint8]]]:
    """The primary picture of a HEIF file, rotated and mirrored as the file says, in BGR."""
    import numpy as np
    import pillow_heif

    try:
        heif = pillow_heif.open_heif(data, convert_hdr_to_8bit=True, bgr_mode=True)
        pixels = np.asarray(heif)
    except (RuntimeError, ValueError, OSError) as exc:
        raise InvalidImageError("The image could not be decoded (corrupt or truncated).") from exc
    height, width = int(pixels.shape[0]), int(pixels.shape[1])
    if pixels.ndim == 3 and pixels.shape[2] == 3:
        return (height, width, 3), iter([np.ascontiguousarray(pixels)])
    return (height, width, 3), (
        to_bgr8(pixels[top : top + BAND_ROWS]) for top in range(0, height, BAND_ROWS)
    )


def _pillow_band_iter(img: Any) -> Iterator[npt.NDArray[np.uint8]]:
    import numpy as np

    width, height = img.size
    try:
        for top in range(0, height, BAND_ROWS):
            band = img.crop((0, top, width, min(height, top + BAND_ROWS)))
            if band.mode not in ("RGB", "RGBA", "L", "LA") and not band.mode.startswith("I"):
                band = band.convert("RGBA")
            pixels = np.asarray(band)
            if band.mode.startswith("I"):  # 16-bit grey (I;16, I;16B) or 32-bit integer
                grey = (pixels.astype(np.uint32) >> 8).clip(0, 255).astype(np.uint8)
                yield np.repeat(grey[..., None], 3, axis=2)
            elif band.mode == "L":
                yield np.repeat(pixels[..., None], 3, axis=2)
            elif band.mode == "LA":
                grey = pixels[..., :1]
                yield over_white(np.concatenate([grey, grey, grey, pixels[..., 1:2]], axis=2))
            elif band.mode == "RGBA":
                yield np.ascontiguousarray(over_white(pixels)[..., ::-1])
            else:
                yield np.ascontiguousarray(pixels[..., ::-1])
    finally:
        img.close()


def orient(image: npt.NDArray[np.uint8], orientation: int) -> npt.NDArray[np.uint8]:
    """``image`` turned upright as its EXIF orientation (1-8) says."""
    import cv2

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
