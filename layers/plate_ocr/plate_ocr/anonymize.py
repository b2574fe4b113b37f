"""Photos with every plate made unreadable: for sharing, storing or training without personal data.

Under Korea's personal-information law a plate number is personal data. Every region the plate
finder finds is covered, whatever was read there (an unsure or unreadable plate too): the region,
widened by a margin, is pixelated into cells a third of the plate's height (a character then spans
about two cells) and the cells are blurred, inside the plate's own outline. The photo is encoded
anew as JPEG, upright, without its metadata (EXIF, GPS).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from plate_ocr.engines import Locator
from plate_ocr.errors import ImageTooLargeError
from plate_ocr.imaging import decode_image
from plate_ocr.quality import plate_size
from plate_ocr.results import Quad

if TYPE_CHECKING:
    import numpy.typing as npt

    Image = npt.NDArray[Any]

#: The margin around a plate's box that is covered too, as a share of the plate's height.
MARGIN = 0.25
#: Pixelation cells are this share of the plate's height (at least :data:`MIN_CELL` pixels).
CELL = 1 / 3
MIN_CELL = 4
JPEG_QUALITY = 90
#: The longest side OpenCV writes as JPEG (the format's own limit is 65,535).
MAX_JPEG_SIDE = 65_500


@dataclass(frozen=True)
class Anonymized:
    """The photo with its plates covered (JPEG), and how many regions were covered."""

    jpeg: bytes
    plates: int
    width: int
    height: int


def anonymize(
    data: bytes,
    finders: Sequence[Locator],
    *,
    max_bytes: int,
    max_pixels: int,
) -> Anonymized:
    """Decodes a photo (every check and limit of a read), covers every plate the finders find and
    encodes the result as JPEG.

    Raises:
        InvalidImageError, ImageTooLargeError, ...: as :func:`plate_ocr.imaging.decode_image`;
        ImageTooLargeError too for a side JPEG cannot hold (over :data:`MAX_JPEG_SIDE` pixels).
    """
    import cv2

    image = decode_image(data, max_bytes=max_bytes, max_pixels=max_pixels)
    if max(image.shape[:2]) > MAX_JPEG_SIDE:
        raise ImageTooLargeError(
            f"The photo is {image.shape[1]}x{image.shape[0]} pixels; a JPEG holds at most "
            f"{MAX_JPEG_SIDE} pixels a side."
        )
    boxes = [region.box for finder in finders for region in finder.locate(image)]
    covered = cover_plates(image, boxes)
    ok, encoded = cv2.imencode(".jpg", covered, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:  # pragma: no cover - OpenCV encodes any 8-bit BGR image within MAX_JPEG_SIDE
        raise RuntimeError("JPEG encoding failed")
    height, width = covered.shape[:2]
    return Anonymized(bytes(encoded), len(boxes), width, height)


def cover_plates(image: Image, boxes: Sequence[Quad]) -> Image:
    """A copy of ``image`` with each box (widened by :data:`MARGIN`) pixelated and blurred."""
    import cv2
    import numpy as np

    out = image.copy()
    height, width = image.shape[:2]
    for box in boxes:
        _, plate_h = plate_size(box)
        margin = max(4.0, MARGIN * plate_h)
        outline = _widened(box, margin)
        x0, y0 = np.floor(outline.min(axis=0)).astype(int)
        x1, y1 = np.ceil(outline.max(axis=0)).astype(int)
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width, x1 + 1), min(height, y1 + 1)
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        patch = out[y0:y1, x0:x1]
        cell = max(MIN_CELL, round(CELL * plate_h))
        small = cv2.resize(
            patch,
            (max(1, math.ceil((x1 - x0) / cell)), max(1, math.ceil((y1 - y0) / cell))),
            interpolation=cv2.INTER_AREA,
        )
        cells = cv2.resize(small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
        cells = cv2.GaussianBlur(cells, (0, 0), cell)
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillConvexPoly(mask, np.round(outline - (x0, y0)).astype(np.int32), 1)
        patch[mask.astype(bool)] = cells[mask.astype(bool)]
    return out


def _widened(box: Quad, margin: float) -> Any:
    """The box's corners moved ``margin`` pixels away from its centre, along each diagonal."""
    import numpy as np

    corners = np.asarray(box, dtype=np.float64)
    centre = corners.mean(axis=0)
    away = corners - centre
    lengths = np.maximum(np.linalg.norm(away, axis=1, keepdims=True), 1e-6)
    return corners + away / lengths * margin * math.sqrt(2)
