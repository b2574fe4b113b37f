"""Whether a plate's photo is good enough to trust: character height and sharpness."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from plate_ocr.quality import (
    MIN_SHARPNESS,
    Layout,
    Quality,
    QualityIssue,
    assess,
    char_height,
    layout,
    photo_too_small,
    plate_size,
    sharpness,
)


def box(width: float, height: float, x: float = 100.0, y: float = 50.0):
    return ((x, y), (x + width, y), (x + width, y + height), (x, y + height))


def plate(blur: float = 0.0, height: int = 64) -> np.ndarray:
    """A white one-row plate with dark characters, optionally blurred (sigma in plate heights)."""
    width = round(height * 4.7)
    image = np.full((height, width, 3), 235, np.uint8)
    cv2.putText(
        image, "12 3456", (height // 6, round(height * 0.8)), cv2.FONT_HERSHEY_SIMPLEX,
        height / 40, (20, 20, 20), max(1, height // 16),
    )  # fmt: skip
    return cv2.GaussianBlur(image, (0, 0), blur * height) if blur else image


@pytest.mark.parametrize(
    ("quad", "expected"),
    [
        (box(470, 100), (470.0, 100.0)),
        (((0, 0), (300, 0), (300, 60), (0, 60)), (300.0, 60.0)),
        (((0, 10), (300, 0), (300, 60), (0, 70)), (300.1666, 60.0)),
    ],
    ids=["upright", "at-the-origin", "in-perspective"],
)
def test_the_plate_size_is_the_mean_of_opposite_sides(quad, expected):
    width, height = plate_size(quad)

    assert (round(width, 4), round(height, 4)) == expected


@pytest.mark.parametrize(
    ("width", "height", "cls", "fmt", "expected"),
    [
        (470, 100, "white", "7char", Layout.LONG_ONE_ROW),
        (470, 100, "yellow_commercial", "regional", Layout.LONG_ONE_ROW),
        (440, 200, "white", "7char", Layout.SHORT_ONE_ROW),
        (440, 200, "ev", "7char", Layout.SHORT_ONE_ROW),
        (335, 170, "green_old", "7char", Layout.TWO_ROWS),
        (440, 220, "yellow_commercial", "regional", Layout.TWO_ROWS),
        (335, 170, "white", "regional", Layout.TWO_ROWS),
    ],
    ids=[
        "long-white",
        "long-yellow-with-region",
        "short-white",
        "short-ev",
        "old-green",
        "yellow-two-row",
        "regional-in-white-light",
    ],
)
def test_the_layout_follows_shape_class_and_format(width, height, cls, fmt, expected):
    assert layout(width, height, cls, fmt) is expected


@pytest.mark.parametrize(
    ("quad", "cls", "fmt", "expected"),
    [
        (box(470, 100), "white", "7char", 75.0),
        (box(80, 16), "white", "7char", 12.0),
        (box(440, 200), "white", "7char", 104.0),
        (box(335, 170), "green_old", "7char", 37.4),
        (box(60, 30), "yellow_commercial", "regional", 6.6),
    ],
    ids=["long", "long-at-the-limit", "short", "two-row", "small-two-row"],
)
def test_character_height_is_the_plate_height_times_its_layouts_share(quad, cls, fmt, expected):
    assert char_height(quad, cls, fmt) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("blur", "sharp"),
    [(0.0, True), (0.01, True), (0.06, False), (0.1, False)],
    ids=["sharp", "slightly-soft", "blurred", "very-blurred"],
)
def test_sharpness_tells_a_blurred_crop_from_a_sharp_one(blur, sharp):
    assert (sharpness(plate(blur)) >= MIN_SHARPNESS) is sharp


@pytest.mark.parametrize("height", [32, 64, 160], ids=["32px", "64px", "160px"])
def test_sharpness_does_not_depend_on_the_crops_size(height):
    assert sharpness(plate(height=height)) >= MIN_SHARPNESS
    assert sharpness(plate(0.08, height=height)) < MIN_SHARPNESS


def test_a_crop_without_contrast_has_no_sharpness():
    assert sharpness(np.full((40, 160, 3), 128, np.uint8)) == 0.0


@pytest.mark.parametrize(
    ("quad", "crop", "expected", "issues"),
    [
        (box(470, 100), plate(), Quality.GOOD, ()),
        (box(60, 12), plate(), Quality.LOW, (QualityIssue.SMALL_CHARACTERS,)),
        (box(470, 100), plate(0.08), Quality.LOW, (QualityIssue.BLURRED,)),
        (
            box(60, 12),
            plate(0.08),
            Quality.LOW,
            (QualityIssue.SMALL_CHARACTERS, QualityIssue.BLURRED),
        ),
        (box(470, 100), None, Quality.GOOD, ()),
        (None, plate(0.08), Quality.LOW, (QualityIssue.BLURRED,)),
        (None, None, None, ()),
    ],
    ids=[
        "large-and-sharp",
        "small",
        "blurred",
        "small-and-blurred",
        "box-only",
        "crop-only",
        "nothing-to-measure",
    ],
)
def test_a_plate_is_low_quality_when_small_or_blurred(quad, crop, expected, issues):
    measured = assess(quad, crop, "white", "7char")

    assert measured.quality is expected
    assert measured.issues == issues


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [(1600, 1200, False), (160, 60, False), (76, 16, False), (74, 40, True), (200, 15, True)],
    ids=["photo", "crop", "smallest-readable", "too-narrow", "too-low"],
)
def test_a_photo_too_small_for_any_readable_plate_is_flagged(width, height, expected):
    assert photo_too_small(width, height) is expected
