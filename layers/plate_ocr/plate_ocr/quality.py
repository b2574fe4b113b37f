"""Whether a plate was photographed well enough to trust: character height and sharpness.

A reading is only as good as the photo. Each plate gets ``quality``: ``low`` when its characters
are under :data:`MIN_CHAR_HEIGHT_PX` pixels high in the original photo, or when its rectified crop
is blurred past :data:`MIN_SHARPNESS`; ``good`` otherwise.

A stage-1 reading of a ``low`` plate needs a higher confidence to be an answer
(``Settings.min_confidence_low_quality``, :class:`plate_ocr.pipeline.Bar`), and one whose
characters are under :data:`TINY_CHAR_HEIGHT_PX` a higher one still
(``Settings.min_confidence_tiny_characters``).

Character height comes from the plate's box: the plate's height in the photo times the share of it
the smallest characters a reading needs take, by layout (the plate-typeface layouts of
``plate-assets``: a long one-row plate's characters are 83 of its 110 mm; a short one-row plate's
105 of 200; a two-row plate's upper row 36-61 of 170-220). A plate wider than 3 times its height is
a long one-row plate; a taller one is two-row when its class or format says so (old green,
yellow commercial, a region on top), else a short one-row plate.

Sharpness is the variance of the Laplacian of the crop's grey copy at a fixed height, divided by the
grey values' own variance, so that a dim but sharp plate is not called blurred. Both thresholds are
measured (``scripts/quality_threshold.py``, the 103 val crops, the recogniser alone): the sharp
crops measure 1.7 to 90 (median 17); blurred copies under 1.0 were read exactly 29% of the time,
those at 1.0 or above 87%. Brought down to 12 px high characters the crops were read 88% of the
time, at 10 px 70%, at 8 px 54%, at 14-24 px 91-98%.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy.typing as npt

    Image = npt.NDArray[Any]

Point = tuple[float, float]

#: Characters under this height (pixels of the original photo) are too few pixels to trust.
MIN_CHAR_HEIGHT_PX = 12.0
#: Characters under this height are so few pixels that even a reading the calibration rates 0.9 or
#: more is often wrong: such a reading needs ``Settings.min_confidence_tiny_characters``
#: (:class:`plate_ocr.pipeline.Bar`).
TINY_CHAR_HEIGHT_PX = 10.0
#: Below this sharpness (:func:`sharpness`) the crop is blurred past trusting (measured).
MIN_SHARPNESS = 1.0
#: The crop's grey copy is measured at this height (pixels), whatever its size.
SHARPNESS_HEIGHT = 48
#: A plate wider than this many times its height is a long one-row plate.
LONG_PLATE_ASPECT = 3.0


class Quality(StrEnum):
    """Whether a plate's photo is good enough to trust its reading."""

    GOOD = "good"
    LOW = "low"


class QualityIssue(StrEnum):
    """Why a plate's quality is low."""

    SMALL_CHARACTERS = "small_characters"
    BLURRED = "blurred"


class Layout(StrEnum):
    """How the characters sit on a plate, as far as their height goes."""

    LONG_ONE_ROW = "long_one_row"
    SHORT_ONE_ROW = "short_one_row"
    TWO_ROWS = "two_rows"


#: The smallest characters a reading needs, as a share of the plate's height.
CHAR_HEIGHT_SHARE = {
    Layout.LONG_ONE_ROW: 0.75,
    Layout.SHORT_ONE_ROW: 0.52,
    Layout.TWO_ROWS: 0.22,
}
#: Plate classes whose tall plates carry two rows (plate_ocr.plate_class values).
TWO_ROW_CLASSES = frozenset({"green_old", "yellow_commercial"})


@dataclass(frozen=True)
class PlateQuality:
    """A plate's quality, with the measures it was judged by; ``quality`` is None when neither
    could be measured (a stage-2 plate whose place is unknown)."""

    quality: Quality | None
    issues: tuple[QualityIssue, ...]
    char_height_px: float | None
    sharpness: float | None


def plate_size(box: Sequence[Point]) -> tuple[float, float]:
    """(width, height) of a 4-corner box, clockwise from top-left: mean of opposite sides."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = box
    width = (math.hypot(x1 - x0, y1 - y0) + math.hypot(x2 - x3, y2 - y3)) / 2.0
    height = (math.hypot(x3 - x0, y3 - y0) + math.hypot(x2 - x1, y2 - y1)) / 2.0
    return width, height


def layout(width: float, height: float, plate_class: str, plate_format: str | None) -> Layout:
    """The plate's layout from its shape, class and format."""
    if height <= 0 or width / height >= LONG_PLATE_ASPECT:
        return Layout.LONG_ONE_ROW
    if plate_class in TWO_ROW_CLASSES or plate_format == "regional":
        return Layout.TWO_ROWS
    return Layout.SHORT_ONE_ROW


def char_height(box: Sequence[Point], plate_class: str, plate_format: str | None) -> float:
    """The height in photo pixels of the smallest characters a reading of the plate needs."""
    width, height = plate_size(box)
    return height * CHAR_HEIGHT_SHARE[layout(width, height, plate_class, plate_format)]


def sharpness(crop: Image) -> float:
    """Variance of the Laplacian over the grey values' variance, at :data:`SHARPNESS_HEIGHT`.

    Sharp plate crops measure about 2 to 90, crops whose strokes have blurred into each other under
    1; a crop without contrast 0.
    """
    import cv2
    import numpy as np

    grey = crop if crop.ndim == 2 else cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    h, w = grey.shape[:2]
    if h < 2 or w < 2:
        return 0.0
    size = (max(2, round(w * SHARPNESS_HEIGHT / h)), SHARPNESS_HEIGHT)
    shrink = h > SHARPNESS_HEIGHT
    grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    spread = float(np.var(grey.astype(np.float32)))
    if spread < 1.0:
        return 0.0
    return float(np.var(cv2.Laplacian(grey, cv2.CV_32F, ksize=3))) / spread


def assess(
    box: Sequence[Point] | None,
    crop: Image | None,
    plate_class: str,
    plate_format: str | None,
) -> PlateQuality:
    """The quality of one plate from its box in the photo and its rectified crop (either may be
    unknown: a stage-2 plate without a box; a measure that is unknown raises no issue)."""
    issues: list[QualityIssue] = []
    height = round(char_height(box, plate_class, plate_format), 1) if box is not None else None
    if height is not None and height < MIN_CHAR_HEIGHT_PX:
        issues.append(QualityIssue.SMALL_CHARACTERS)
    sharp = round(sharpness(crop), 3) if crop is not None else None
    if sharp is not None and sharp < MIN_SHARPNESS:
        issues.append(QualityIssue.BLURRED)
    if height is None and sharp is None:
        return PlateQuality(None, (), None, None)
    quality = Quality.LOW if issues else Quality.GOOD
    return PlateQuality(quality, tuple(issues), height, sharp)


def photo_too_small(width: int, height: int) -> bool:
    """Whether a photo is too small to hold any plate with characters of the minimum height.

    The smallest such plate is a long one-row plate with characters of
    :data:`MIN_CHAR_HEIGHT_PX`: its height is that over 0.75 and its width 4.7 times the height.
    """
    plate_height = MIN_CHAR_HEIGHT_PX / CHAR_HEIGHT_SHARE[Layout.LONG_ONE_ROW]
    return height < plate_height or width < plate_height * 4.7
