"""The class of a plate: its colour and layout, told by the rectified crop and the grammar.

Korean plates say what the vehicle is by colour: light blue for electric (and hydrogen) cars since
2017, yellow for commercial transport, orange for construction machines, the old green plates, and
white for the rest; diplomatic and military plates are told by their characters. EV-charger
parking enforcement needs exactly this: is the car in the EV bay an EV?

The colour is the plate background's: the crop's central part is split into text and background
(Otsu on brightness; the larger part is the background), and the background's median hue and
saturation decide. Night and infrared photos carry no colour; there the grammar decides (a
commercial usage syllable or a region prefix means a yellow commercial plate).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from plate_ocr.grammar import COMMERCIAL_SYLLABLES, DELIVERY_SYLLABLES, PlateParse
from plate_ocr.layout import TWO_ROW_MAX_ASPECT

if TYPE_CHECKING:
    import numpy.typing as npt

    Image = npt.NDArray[Any]


class PlateClass(StrEnum):
    """What a plate's colour and layout say about the vehicle."""

    WHITE = "white"
    EV = "ev"
    YELLOW_COMMERCIAL = "yellow_commercial"
    GREEN_OLD = "green_old"
    ORANGE_CONSTRUCTION = "orange_construction"
    DIPLOMATIC = "diplomatic"
    MILITARY = "military"

    @property
    def label(self) -> str:
        """The Korean label the web page shows."""
        return _LABELS[self]


_LABELS = {
    PlateClass.WHITE: "일반",
    PlateClass.EV: "전기차",
    PlateClass.YELLOW_COMMERCIAL: "사업용",
    PlateClass.GREEN_OLD: "구형 녹색",
    PlateClass.ORANGE_CONSTRUCTION: "건설기계",
    PlateClass.DIPLOMATIC: "외교",
    PlateClass.MILITARY: "군용",
}

#: Below this median saturation (0-255) the background has no colour to speak of.
MIN_SATURATION = 50
#: OpenCV hue range (0-180) and least saturation of each coloured plate's background. White plates
#: in warm light, and old cream ones, reach hue 11-18 at saturation 50-125 (kr-plates train crops),
#: so yellow and orange need far more saturation than that: real yellow plates measure 150-190.
#: EV blue measures hue 98-108 at saturation 60-180 on the unlabelled scenes' train photos, and up
#: to 130 under pinkish light (no white plate there reaches saturation 50 at all).
HUES = {
    PlateClass.ORANGE_CONSTRUCTION: (5, 17, 150),
    PlateClass.YELLOW_COMMERCIAL: (17, 36, 140),
    PlateClass.GREEN_OLD: (36, 90, 60),
    PlateClass.EV: (90, 135, 50),
}


#: A commercial number (:data:`COMMERCIAL_SYLLABLES`, :data:`DELIVERY_SYLLABLES`) is only issued on
#: yellow (or EV blue) plates, so for one a yellow hue with some colour is enough: a yellow plate in
#: flat or hazy light loses saturation. The full bar stays for other numbers: white plates in warm
#: light measure hue 17-28 at saturation 50-109 on the kr-plates train crops (every one of them a
#: private number; the two commercial train crops are yellow, at saturation 158 and 191).
COMMERCIAL_YELLOW_SATURATION = MIN_SATURATION


def background_colour(crop: Image, commercial: bool = False) -> PlateClass | None:
    """The colour class of a rectified plate crop's background; None when it has no colour.

    ``commercial``: the number is a commercial one, so a paler yellow counts as yellow.
    """
    import cv2
    import numpy as np

    if crop.ndim != 3 or crop.shape[2] != 3 or min(crop.shape[:2]) < 8:
        return None
    h, w = crop.shape[:2]
    inner = crop[h // 8 : h - h // 8, w // 12 : w - w // 12]
    hsv = cv2.cvtColor(inner, cv2.COLOR_BGR2HSV)
    value = np.ascontiguousarray(hsv[:, :, 2])
    _, split = cv2.threshold(value, 0, 1, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    bright = split.astype(bool)
    background = bright if bright.mean() >= 0.5 else ~bright
    if background.sum() < 16:
        return None
    hue = float(np.median(hsv[:, :, 0][background]))
    saturation = float(np.median(hsv[:, :, 1][background]))
    if saturation < MIN_SATURATION:
        return PlateClass.WHITE if _has_colour(hsv) else None
    for cls, (lo, hi, least) in HUES.items():
        if commercial and cls is PlateClass.YELLOW_COMMERCIAL:
            least = COMMERCIAL_YELLOW_SATURATION
        if lo <= hue < hi and saturation >= least:
            return cls
    return PlateClass.WHITE


def _has_colour(hsv: Any) -> bool:
    """Whether the crop shows any colour at all (a night or infrared crop does not)."""
    return float((hsv[:, :, 1] > MIN_SATURATION).mean()) > 0.02


#: Light text on a dark background: the bright part of the crop's middle is at most this share.
LIGHT_TEXT_MAX_SHARE = 0.42
#: ... and brighter than the rest by at least this much (0-255): a flat crop says nothing.
LIGHT_TEXT_MIN_CONTRAST = 30.0
#: ... and made of pieces no wider than this share of the crop's middle (characters, not a plate).
LIGHT_TEXT_MAX_PIECE = 0.5


def light_text(crop: Image) -> bool:
    """Whether a two-row plate's characters are lighter than its background (the old green
    plates; every current civil plate prints dark characters). Told on the middle of the crop,
    where the plate is, by brightness alone, so it holds in greyscale and infrared photos too.
    One-row crops are never asked: a white plate blown out by a flash has a bright band across a
    dark frame that looks the same."""
    import cv2

    if crop.ndim != 3 or crop.shape[2] != 3 or min(crop.shape[:2]) < 8:
        return False
    h, w = crop.shape[:2]
    if w / h >= TWO_ROW_MAX_ASPECT:
        return False
    grey = cv2.cvtColor(crop[h // 5 : h - h // 5, w // 10 : w - w // 10], cv2.COLOR_BGR2GRAY)
    _, split = cv2.threshold(grey, 0, 1, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    bright = split.astype(bool)
    share = float(bright.mean())
    if not 0.0 < share <= LIGHT_TEXT_MAX_SHARE:
        return False
    contrast = float(grey[bright].mean()) - float(grey[~bright].mean())
    if contrast < LIGHT_TEXT_MIN_CONTRAST:
        return False
    # Characters are several narrow pieces; a white plate framed loosely in a dark surround (a
    # loose crop read whole) is one wide bright piece with dark characters inside it.
    _, _, stats, _ = cv2.connectedComponentsWithStats(split, connectivity=8)
    widest = int(stats[1:, cv2.CC_STAT_WIDTH].max()) if len(stats) > 1 else 0
    return widest <= LIGHT_TEXT_MAX_PIECE * int(grey.shape[1])


def classify(crop: Image | None, parsed: PlateParse) -> PlateClass:
    """The plate's class from its crop (``None``: not seen) and its parsed number."""
    if parsed.format == "diplomatic":
        return PlateClass.DIPLOMATIC
    if parsed.usage == "military":
        return PlateClass.MILITARY
    commercial = parsed.syllable in COMMERCIAL_SYLLABLES + DELIVERY_SYLLABLES
    colour = background_colour(crop, commercial) if crop is not None else None
    if (
        crop is not None
        and colour in (None, PlateClass.WHITE, PlateClass.EV)
        and parsed.format != "8char"
        and light_text(crop)
    ):
        # Light characters: an old green plate whose green the camera lost (infrared, night,
        # faded paint) or turned teal. 8-character numbers (2019 on) were never issued in green.
        return PlateClass.GREEN_OLD
    if colour is not None:
        return colour
    if commercial or parsed.format == "regional":
        return PlateClass.YELLOW_COMMERCIAL
    return PlateClass.WHITE
