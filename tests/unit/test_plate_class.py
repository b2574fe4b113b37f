"""The plate's class from the colour of its crop and from its number."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from plate_ocr.grammar import parse
from plate_ocr.plate_class import PlateClass, background_colour, classify

# Background (BGR) and text colour of each kind, roughly as cameras see them.
WHITE = ((235, 235, 235), (25, 25, 25))
EV_BLUE = ((235, 205, 140), (40, 30, 25))
YELLOW = ((40, 200, 235), (25, 25, 25))
GREEN = ((70, 140, 40), (240, 240, 240))
ORANGE = ((20, 110, 240), (25, 25, 25))


def crop(
    colours: tuple[tuple[int, int, int], tuple[int, int, int]], grey: bool = False
) -> np.ndarray:
    background, ink = colours
    image = np.full((64, 300, 3), background, np.uint8)
    cv2.putText(image, "12 3456", (12, 50), cv2.FONT_HERSHEY_SIMPLEX, 1.6, ink, 5)
    if grey:
        image = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return image


@pytest.mark.parametrize(
    ("colours", "expected"),
    [
        (WHITE, None),
        (EV_BLUE, PlateClass.EV),
        (YELLOW, PlateClass.YELLOW_COMMERCIAL),
        (GREEN, PlateClass.GREEN_OLD),
        (ORANGE, PlateClass.ORANGE_CONSTRUCTION),
    ],
    ids=["white", "ev-blue", "yellow", "green", "orange"],
)
def test_the_background_colour_names_the_plate_kind(colours, expected):
    assert background_colour(crop(colours)) is expected


@pytest.mark.parametrize(
    ("colours", "plate", "expected"),
    [
        (EV_BLUE, "12가3456", PlateClass.EV),
        (WHITE, "12가3456", PlateClass.WHITE),
        (WHITE, "123가4567", PlateClass.WHITE),
        (YELLOW, "서울12바3456", PlateClass.YELLOW_COMMERCIAL),
        (GREEN, "서울12가3456", PlateClass.GREEN_OLD),
        (WHITE, "외교123456", PlateClass.DIPLOMATIC),
        (WHITE, "12국3456", PlateClass.MILITARY),
    ],
    ids=["ev", "white-7", "white-8", "yellow-regional", "green-regional", "diplomatic", "military"],
)
def test_colour_and_grammar_give_the_class(colours, plate, expected):
    assert classify(crop(colours), parse(plate)) is expected


@pytest.mark.parametrize(
    ("plate", "expected"),
    [
        ("12바3456", PlateClass.YELLOW_COMMERCIAL),
        ("12배3456", PlateClass.YELLOW_COMMERCIAL),
        ("경기12바3456", PlateClass.YELLOW_COMMERCIAL),
        ("12가3456", PlateClass.WHITE),
        ("12하3456", PlateClass.WHITE),
    ],
    ids=["commercial", "delivery", "regional", "private", "rental"],
)
def test_without_colour_the_grammar_decides(plate, expected):
    # An infrared or night crop: grey, nothing to tell the colour by.
    assert classify(crop(YELLOW, grey=True), parse(plate)) is expected
    assert classify(None, parse(plate)) is expected


def test_a_white_plate_in_warm_light_stays_white():
    # Cream, hue 15 at saturation about 100: how old or lamp-lit white plates look.
    assert background_colour(crop(((150, 190, 225), (25, 25, 25)))) is PlateClass.WHITE


def test_a_pale_yellow_plate_is_yellow_for_a_commercial_number_only():
    # Hue 26 at saturation 113: a yellow plate in flat light, or a white one in warm light.
    hsv = np.array([[[26, 113, 211]]], np.uint8)
    pale = tuple(int(v) for v in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])
    image = crop((pale, (25, 25, 25)))

    assert classify(image, parse("12사3456")) is PlateClass.YELLOW_COMMERCIAL
    assert classify(image, parse("12배3456")) is PlateClass.YELLOW_COMMERCIAL
    assert classify(image, parse("12가3456")) is PlateClass.WHITE


def test_labels_are_korean():
    assert PlateClass.EV.label == "전기차" and PlateClass.YELLOW_COMMERCIAL.label == "사업용"


def two_row(colours: tuple[tuple[int, int, int], tuple[int, int, int]], grey: bool = False):
    """A squarish two-row crop (region and digits over syllable and digits), as rectified."""
    background, ink = colours
    image = np.full((128, 230, 3), background, np.uint8)
    cv2.putText(image, "12", (70, 45), cv2.FONT_HERSHEY_SIMPLEX, 1.3, ink, 4)
    cv2.putText(image, "3456", (20, 115), cv2.FONT_HERSHEY_SIMPLEX, 2.4, ink, 8)
    if grey:
        image = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return image


def test_an_old_green_plate_without_its_colour_is_told_by_its_light_characters():
    # An infrared gate camera: no colour, but white characters on a darker plate.
    assert classify(two_row(GREEN, grey=True), parse("서울12가3456")) is PlateClass.GREEN_OLD
    assert classify(two_row(GREEN, grey=True), parse("12가3456")) is PlateClass.GREEN_OLD
    # A green turned teal by the light would read as EV blue by its hue alone.
    teal = ((150, 120, 30), (240, 240, 240))
    assert classify(two_row(teal), parse("12가3456")) is PlateClass.GREEN_OLD


def test_dark_characters_never_make_a_green_plate():
    assert classify(two_row(YELLOW, grey=True), parse("서울12바3456")) is (
        PlateClass.YELLOW_COMMERCIAL
    )
    assert classify(two_row(WHITE), parse("12가3456")) is PlateClass.WHITE


def test_a_one_row_plate_with_a_bright_band_stays_white():
    # A flash-lit white plate in a dark frame: a bright band, the rest dark. One-row plates with
    # light characters are not old green plates, so the light-text test never asks them.
    image = np.full((64, 300, 3), 20, np.uint8)
    image[24:40, 20:280] = 250
    assert classify(image, parse("12가3456")) is not PlateClass.GREEN_OLD


def test_a_white_plate_loosely_framed_in_a_dark_surround_is_not_green():
    # A loose crop read whole: the white plate is the bright minority of the middle, with dark
    # characters inside it. One wide bright piece is a plate, not characters.
    image = np.full((200, 320, 3), 70, np.uint8)
    image[80:130, 60:260] = 245
    cv2.putText(image, "12 3456", (70, 120), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (25, 25, 25), 3)
    assert classify(image, parse("12가3456")) is PlateClass.WHITE
