"""Synthetic Korean plate generator.

Composes plates from the glyph and template images under ``../shared/plate-assets`` (never copied
into the repo) and from Debian's Nanum / Noto CJK fonts for the glyphs those assets lack
(바사아자배 on white plates, 배 and 세종 on yellow ones, the diplomatic prefixes, ...), then
degrades them like a phone or CCTV photo: perspective, rotation, loose and tight crops, blur, low
resolution, JPEG artefacts, colour casts, glare, shadow, dirt and noise.

Plate kinds follow blastak's LAYOUT.json classes (P1-1 white 7 characters, P1-2 EV blue, P1-3 white
8, P1-4 8 with hologram strip, P2 short white one-row, P3 yellow two-row with region, P4 yellow
one-row with region, P5 old green two-row with region, P6 old green two-row) plus diplomatic plates
laid out by us. Syllables and regions are drawn uniformly, so rare ones (세종, 배, 허, 육, ...)
appear as often as common ones.

``python -m training.synth --out runs/synth_preview --n 48`` writes a contact sheet to look at.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from plate_ocr.evaluate import motion_blur
from training.charset import (
    COMMERCIAL,
    PRIVATE,
)

ASSETS = Path(
    os.environ.get("PLATE_ASSETS", Path(__file__).resolve().parents[2] / "shared" / "plate-assets")
)
BLASTAK = ASSETS / "blastak-plate-glyphs"
FONT_FILES = [
    "/usr/share/fonts/truetype/nanum/NanumGothicBold.ttf",
    "/usr/share/fonts/truetype/nanum/NanumBarunGothicBold.ttf",
    "/usr/share/fonts/truetype/nanum/NanumSquareB.ttf",
    "/usr/share/fonts/truetype/nanum/NanumSquareRoundB.ttf",
    "/usr/share/fonts/truetype/nanum/NanumGothic.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
]

# Which blastak class folder supplies glyphs (and template) for each kind we render.
KINDS = {
    # kind: (layout class, template file, two_row, weight)
    "white7": ("P1-1", "plate1_new1_1.png", False, 24),
    "ev7": ("P1-2", "plate1_electric.png", False, 5),
    "white8": ("P1-3", "plate1_new1_3.png", False, 7),
    "holo8": ("P1-4", "plate1_new2.png", False, 5),
    "short7": ("P2", "plate2.png", False, 9),
    "yellow2": ("P3", "plate3.png", True, 9),
    "yellow1": ("P4", "plate4_3.png", False, 6),
    "green2r": ("P5", "plate5.png", True, 8),
    "green2": ("P6", "plate5.png", True, 10),
    "diplo": ("P1-1", "plate1_new1_1.png", False, 3),
}


@dataclass(frozen=True)
class Plate:
    """One rendered and degraded plate crop."""

    image: np.ndarray  # BGR uint8
    label: str
    kind: str
    two_row: bool


@lru_cache(maxsize=1)
def _codes() -> dict[str, str]:
    with open(BLASTAK / "CODES.csv", encoding="utf-8") as f:
        return {row["code"]: row["hangul"] for row in csv.DictReader(f)}


@lru_cache(maxsize=1)
def _layout() -> dict[str, dict]:
    return json.loads((BLASTAK / "LAYOUT.json").read_text(encoding="utf-8"))["classes"]


def _folder_token(folder: str) -> str:
    codes = _codes()
    if len(folder) == 4 and folder[:2] in codes and folder[2:] in codes:
        return codes[folder[:2]] + codes[folder[2:]]
    return codes.get(folder, folder)


def _alpha_mask(path: Path) -> np.ndarray:
    im = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if im.ndim == 3 and im.shape[2] == 4:
        m = im[:, :, 3]
    else:
        g = im if im.ndim == 2 else cv2.cvtColor(im, cv2.COLOR_BGR2GRAY)
        m = 255 - g
    ys, xs = np.nonzero(m > 40)
    if len(ys):
        m = m[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    return m


@lru_cache(maxsize=16)
def _class_glyphs(cls: str) -> dict[str, dict[str, np.ndarray]]:
    """Glyph masks of one blastak class by token: korean, number and small (top-row) digits."""
    out: dict[str, dict[str, np.ndarray]] = {"korean": {}, "number": {}, "small": {}}
    for folder in sorted((BLASTAK / cls / "korean").iterdir()):
        pngs = sorted(folder.glob("*.png"))
        if pngs:
            out["korean"][_folder_token(folder.name)] = _alpha_mask(pngs[0])
    for folder in sorted((BLASTAK / cls / "number").iterdir()):
        pngs = sorted(folder.glob("*.png"))
        if not pngs:
            continue
        key = "small" if folder.name.endswith("_1") else "number"
        out[key][folder.name[0]] = _alpha_mask(pngs[0])
    return out


@lru_cache(maxsize=16)
def _template(name: str) -> np.ndarray:
    im = cv2.imread(str(BLASTAK / "template" / name), cv2.IMREAD_UNCHANGED)
    if im.ndim == 3 and im.shape[2] == 4:
        a = im[:, :, 3:].astype(np.float32) / 255.0
        im = (im[:, :, :3] * a + 255 * (1 - a)).astype(np.uint8)
    elif im.ndim == 2:
        im = cv2.cvtColor(im, cv2.COLOR_GRAY2BGR)
    return im


@lru_cache(maxsize=1)
def _photo_blanks() -> list[np.ndarray]:
    """Photographed blank white plates (yakhyo): real metal texture, bolts and lighting."""
    root = ASSETS / "yakhyo-blank-plates" / "plates"
    out = []
    for p in sorted(root.glob("type_a/*.jpg")):
        im = cv2.imread(str(p))
        if im is not None:
            out.append(cv2.resize(im, (520, 110), interpolation=cv2.INTER_AREA))
    return out


@lru_cache(maxsize=1)
def _fonts() -> list[str]:
    return [f for f in FONT_FILES if Path(f).is_file()]


@lru_cache(maxsize=4096)
def _font_mask(token: str, font_file: str) -> np.ndarray:
    font = ImageFont.truetype(font_file, 96)
    box = font.getbbox(token)
    w, h = box[2] - box[0] + 8, box[3] - box[1] + 8
    img = Image.new("L", (w, h), 0)
    ImageDraw.Draw(img).text((4 - box[0], 4 - box[1]), token, fill=255, font=font)
    m = np.asarray(img)
    ys, xs = np.nonzero(m > 40)
    return m[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].copy()


def _glyph(
    rng: np.random.Generator, cls: str, token: str, small: bool, font_p: float
) -> np.ndarray:
    glyphs = _class_glyphs(cls)
    if token.isdigit():
        bank = glyphs["small"] if small and glyphs["small"] else glyphs["number"]
    else:
        bank = glyphs["korean"]
    if token in bank and rng.random() >= font_p:
        return bank[token]
    fonts = _fonts()
    if not fonts:
        raise RuntimeError("no Korean font: apt-get install -y fonts-nanum fonts-noto-cjk")
    font = fonts[int(rng.integers(len(fonts)))]
    if len(token) == 2 and cls == "P4":
        # One-row yellow plates stack the region name vertically in one character box.
        a, b = _font_mask(token[0], font), _font_mask(token[1], font)
        w = max(a.shape[1], b.shape[1])
        a = cv2.resize(a, (w, a.shape[0]))
        b = cv2.resize(b, (w, b.shape[0]))
        return np.vstack([a, np.zeros((max(2, a.shape[0] // 8), w), np.uint8), b])
    return _font_mask(token, font)


#: The number format each kind carries (old green two-row plates without a region read as 7char).
KIND_FORMATS = {
    "white7": "7char",
    "ev7": "7char",
    "short7": "7char",
    "green2": "7char",
    "white8": "8char",
    "holo8": "8char",
    "yellow2": "regional",
    "yellow1": "regional",
    "green2r": "regional",
    "diplo": "diplomatic",
}
#: Syllables a kind favours, and how often (issuing practice: yellow plates are commercial).
FAVOURED = {"yellow2": (COMMERCIAL, 0.8), "yellow1": (COMMERCIAL, 0.8), "green2r": (PRIVATE, 0.6)}


def random_label(rng: np.random.Generator, kind: str) -> list[str]:
    """The tokens of a plate number of ``kind`` (a region or diplomatic prefix is one token).

    The format's slots come from :data:`plate_ocr.grammar.FORMATS`; on top of it, numbers follow
    issuing practice: a three-digit vehicle class starts at 100, no group is all zeros, and a kind's
    favoured syllables (:data:`FAVOURED`, else private ones half the time) come more often. A
    number the grammar would not accept (a diplomatic mission ``000``) is drawn again.
    """
    from plate_ocr import grammar

    while True:
        tokens = _draw_label(rng, kind)
        if grammar.parse("".join(tokens)).format == KIND_FORMATS[kind]:
            return tokens


def _draw_label(rng: np.random.Generator, kind: str) -> list[str]:
    from plate_ocr import grammar

    plate_format = next(
        f
        for f in grammar.FORMATS
        if f.name == KIND_FORMATS[kind] and (f.name != "regional" or len(f.slots) == 8)
    )
    favoured, share = FAVOURED.get(kind, (PRIVATE, 0.5))
    tokens: list[str] = []
    run: list[grammar.Slot] = []

    def digits() -> None:
        # A run of digit slots is one number: drawn again until it is one that is issued.
        while run:
            out = [str(d) for d in rng.integers(0, 10, len(run))]
            if not (not tokens and len(run) == 3 and out[0] == "0") and set(out) != {"0"}:
                tokens.extend(out)
                run.clear()

    for slot in plate_format.slots:
        if slot.kind == "digit":
            run.append(slot)
            continue
        digits()
        pool = slot.allowed
        if slot.kind == "syllable" and rng.random() < share:
            pool = tuple(c for c in pool if c in favoured)
        tokens.append(pool[int(rng.integers(len(pool)))])
    digits()
    return tokens


def _restroke(mask: np.ndarray, weight: float) -> np.ndarray:
    """The glyph with its strokes thinned (``weight`` < 1) or thickened (> 1) by that factor.

    The plate-typeface glyphs are bold, while many real plates (older ones above all) print a
    lighter cut: trained on one weight only, the network tells 하 from 아, or 호 from 오, by
    stroke mass rather than shape.
    """
    if abs(weight - 1.0) < 0.04:
        return mask
    h, w = mask.shape[:2]
    scale = min(1.0, 128 / max(h, 1))
    m = (
        cv2.resize(mask, (max(1, round(w * scale)), max(1, round(h * scale))), cv2.INTER_AREA)
        if scale < 1.0
        else mask
    )
    ink = m > 127
    if not ink.any():
        return mask
    dist = cv2.distanceTransform(ink.astype(np.uint8), cv2.DIST_L2, 3)
    stroke = 2.0 * float(np.percentile(dist[ink], 90))
    r = round(abs(weight - 1.0) * stroke / 2)
    if r < 1:
        return m
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.erode(m, kernel) if weight < 1.0 else cv2.dilate(m, kernel)


def _paste(
    canvas: np.ndarray, mask: np.ndarray, box: tuple[float, ...], colour: np.ndarray
) -> None:
    bx, by, bw, bh = box
    gh, gw = mask.shape[:2]
    if gw / max(gh, 1) < 0.6 * bw / bh:
        # Narrow glyphs (the digit 1) keep their shape, centred in the box, as on real plates.
        nw = bh * gw / max(gh, 1)
        bx, bw = bx + (bw - nw) / 2, nw
    x, y, w, h = (round(v) for v in (bx, by, bw, bh))
    w, h = max(w, 2), max(h, 2)
    m = (
        cv2.resize(mask, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)[:, :, None]
        / 255.0
    )
    H, W = canvas.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x1 <= x0 or y1 <= y0:
        return
    m = m[y0 - y : y1 - y, x0 - x : x1 - x]
    region = canvas[y0:y1, x0:x1].astype(np.float32)
    canvas[y0:y1, x0:x1] = (region * (1 - m) + colour[None, None, :] * m).astype(np.uint8)


def _diplo_boxes() -> list[tuple[float, ...]]:
    boxes = [(30.0, 13.5, 140.0, 83.0)]
    x = 185.0
    for i in range(6):
        boxes.append((x, 13.5, 47.0, 83.0))
        x += 47.0 + (16.0 if i == 2 else 0.0)
    return boxes


_TEXT_COLOURS = {
    "white7": (20, 20, 20),
    "ev7": (40, 30, 20),
    "white8": (20, 20, 20),
    "holo8": (20, 20, 20),
    "short7": (20, 20, 20),
    "yellow2": (30, 30, 30),
    "yellow1": (30, 30, 30),
    "green2r": (245, 245, 245),
    "green2": (245, 245, 245),
    "diplo": (245, 245, 245),
}


# Bolt positions (x, y as fractions of the canvas) on kinds whose templates have none drawn.
_BOLTS = {
    "short7": ((0.2, 0.15), (0.8, 0.15)),
    "yellow2": ((0.13, 0.18), (0.87, 0.18)),
    "green2r": ((0.14, 0.2), (0.86, 0.2)),
    "green2": ((0.16, 0.2), (0.84, 0.2)),
}


def _draw_bolts(
    rng: np.random.Generator, canvas: np.ndarray, where: tuple[tuple[float, float], ...]
) -> None:
    h, w = canvas.shape[:2]
    r = int(h * rng.uniform(0.05, 0.08))
    base = canvas[h // 2, 4].astype(int)
    for fx, fy in where:
        c = (int(fx * w + rng.normal(0, 3)), int(fy * h + rng.normal(0, 2)))
        shade = np.clip(base + rng.integers(-60, 60), 0, 255).tolist()
        cv2.circle(canvas, c, r, shade, -1, cv2.LINE_AA)
        cv2.circle(canvas, c, r, (40, 40, 40), max(1, r // 5), cv2.LINE_AA)


#: Share of plates of a kind given a blue emblem strip over their left margin: the Taegeuk/KOR band
#: of the reflective plates (as on ``holo8``, whose template has it) or an EU-style sticker. The
#: slot recogniser reads characters left-aligned, so a dark band it takes for a character shifts
#: every digit after it (a real ``18어9528`` with a sticker read ``88어9528``).
STRIP_P = {"white7": 0.2, "white8": 0.2}
#: The right edge of the hologram template's band (x on the 520-wide canvas).
HOLO_STRIP_END = 57
#: Share of strip plates cut at the strip's edge in :func:`make_plate`: a detector that frames the
#: white part alone leaves the first character at the very edge of the crop.
STRIP_CUT_P = 0.35
_STRIP_LETTERS = ("KOR", "ROK", "D", "F", "I", "GB", "NL", "USA", "CH", "")


def _paint_strip(rng: np.random.Generator, canvas: np.ndarray, right: int) -> None:
    """Paints an emblem strip over the columns left of ``right``."""
    h = canvas.shape[0]
    x0, y0 = int(rng.integers(2, 7)), int(rng.integers(2, 7))
    y1 = h - int(rng.integers(2, 7))
    sw, sh = right - x0, y1 - y0
    if sw < 6 or sh < 6:
        return
    if rng.random() < 0.4:
        band = _template(KINDS["holo8"][1])[4:-4, 3:HOLO_STRIP_END]
        canvas[y0:y1, x0:right] = cv2.resize(band, (sw, sh), interpolation=cv2.INTER_AREA)
        return
    blue = (int(rng.integers(110, 210)), int(rng.integers(20, 100)), int(rng.integers(0, 50)))
    canvas[y0:y1, x0:right] = blue
    cx, cy, r = x0 + sw / 2, y0 + sh * rng.uniform(0.3, 0.4), sw * rng.uniform(0.25, 0.35)
    star = (0, int(rng.integers(180, 230)), int(rng.integers(220, 256)))
    for k in range(12):
        a = 2 * np.pi * k / 12
        c = (round(cx + r * np.cos(a)), round(cy + r * np.sin(a)))
        cv2.circle(canvas, c, max(1, round(sw / 20)), star, -1, cv2.LINE_AA)
    letters = _STRIP_LETTERS[int(rng.integers(len(_STRIP_LETTERS)))]
    if letters:
        scale = sw / (22.0 * len(letters) + 8)
        (tw, _), _ = cv2.getTextSize(letters, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
        org = (round(cx - tw / 2), round(y0 + sh * 0.88))
        cv2.putText(
            canvas, letters, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (250, 250, 250), 2, cv2.LINE_AA
        )


def render_clean(rng: np.random.Generator, kind: str) -> tuple[np.ndarray, str, bool]:
    """A clean, frontal plate image of ``kind`` (BGR) and its label."""
    canvas, label, two_row, _ = _render(rng, kind)
    return canvas, label, two_row


def _render(rng: np.random.Generator, kind: str) -> tuple[np.ndarray, str, bool, int]:
    """:func:`render_clean`, plus the right edge of the plate's emblem strip (0: none)."""
    cls, template, two_row, _ = KINDS[kind]
    spec = _layout()[cls]
    tokens = random_label(rng, kind)
    w, h = spec["canvas"]
    boxes = _diplo_boxes() if kind == "diplo" else [tuple(b) for b in spec["chars"]]
    text = np.array(_TEXT_COLOURS[kind], np.float32)
    blanks = _photo_blanks()
    if kind == "diplo":
        canvas = np.empty((h, w, 3), np.uint8)
        canvas[:] = (120 + rng.integers(-30, 30), 60 + rng.integers(-20, 20), 10)
    elif kind in ("white7", "white8") and blanks and rng.random() < 0.45:
        canvas = blanks[int(rng.integers(len(blanks)))].copy()
    else:
        canvas = _template(template).copy()
        if canvas.shape[:2] != (h, w):
            canvas = cv2.resize(canvas, (w, h))
        if kind == "white7" and rng.random() < 0.3:
            alt = ["plate1_new1_2.png", "plate1_new1_3.png"][int(rng.integers(2))]
            canvas = _template(alt).copy()
        if kind == "green2" and rng.random() < 0.15:
            # Old white two-row plates: black on white, same layout.
            canvas[:] = (235, 235, 235)
            text = np.array((20, 20, 20), np.float32)
    # Occasional random colours widen what "a plate" looks like in grey to the recogniser.
    if rng.random() < 0.08:
        bg = rng.integers(0, 256, 3)
        canvas[:] = bg
        lum = bg.mean()
        text = np.full(3, 20.0 if lum > 128 else 235.0, np.float32)
    if kind in _BOLTS and rng.random() < 0.6:
        _draw_bolts(rng, canvas, _BOLTS[kind])
    if kind == "short7" and rng.random() < 0.5:
        # Old squarish one-row plates: taller, narrower type filling more of the plate.
        f = rng.uniform(1.05, 1.3)
        boxes = [(b[0], b[1] - b[3] * (f - 1) / 2, b[2], b[3] * f) for b in boxes]
    font_p = 0.25 if kind != "diplo" else 1.0
    # Font glyphs as a whole plate style sometimes, so old plates' different type faces are covered
    # too.
    if rng.random() < 0.15:
        font_p = 1.0
    jitter = (
        rng.normal(0, 1.2, (len(boxes), 2)) if rng.random() < 0.5 else np.zeros((len(boxes), 2))
    )
    # Real plates print the usage syllable narrower than its box, with a gap before the serial
    # (12가 3456); glyphs stretched over the whole box teach the network the wrong shape.
    syl_w = rng.uniform(0.55, 0.85) if not two_row and rng.random() < 0.65 else 1.0
    syl_left = rng.random() < 0.6
    glyph_w = rng.uniform(0.82, 1.0) if rng.random() < 0.5 else 1.0
    # One stroke weight per plate: real plates keep one type cut across their characters.
    weight = rng.uniform(0.5, 1.15) if rng.random() < 0.6 else 1.0
    # Row membership for small top-row digits of two-row kinds.
    top_y = min(b[1] for b in boxes)
    for i, (tok, box) in enumerate(zip(tokens, boxes, strict=True)):
        small = two_row and box[1] <= top_y + 2
        mask = _restroke(_glyph(rng, cls, tok, small, font_p), weight)
        x, y, w, h = box
        f = syl_w if (len(tok) == 1 and not tok.isdigit()) else glyph_w
        if f < 1.0:
            x = x if (syl_left and f == syl_w) else x + w * (1 - f) / 2
            w = w * f
        _paste(canvas, mask, (x + jitter[i, 0], y + jitter[i, 1], w, h), text)
    strip = HOLO_STRIP_END if kind == "holo8" else 0
    if rng.random() < STRIP_P.get(kind, 0.0):
        strip = round(boxes[0][0] - rng.uniform(2, 8))
        _paint_strip(rng, canvas, strip)
    return canvas, "".join(tokens), two_row, strip


# --- degradation
# -------------------------------------------------------------------------------------


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    mode = rng.random()
    if mode < 0.4:
        bg = np.empty((h, w, 3), np.uint8)
        bg[:] = rng.integers(0, 256, 3)
    elif mode < 0.75:
        base = rng.integers(0, 256, 3)
        bg = np.clip(base + rng.normal(0, 40, (max(2, h // 40), max(2, w // 40), 3)), 0, 255)
        bg = cv2.resize(bg.astype(np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)
    else:
        c = rng.integers(0, 80)
        bg = np.full((h, w, 3), c, np.uint8)
    return bg


def _crop_margins(rng: np.random.Generator, two_row: bool) -> tuple[float, float, float, float]:
    """Crop margins (left, right, top, bottom) as fractions of the plate; negative cuts into it."""
    mode = rng.random()
    if mode < 0.22:
        mx0, mx1 = rng.uniform(-0.03, 0.02, 2)
        my0, my1 = rng.uniform(-0.06, 0.04, 2)
    elif mode < 0.34 and not two_row:
        # Very loose: a locator's box that takes in bumper or car body.
        mx0, mx1 = rng.uniform(0.05, 0.4, 2)
        my0, my1 = rng.uniform(0.1, 0.7, 2)
    else:
        mx0, mx1 = rng.uniform(-0.01, 0.12, 2)
        my0, my1 = rng.uniform(-0.02, 0.3, 2)
    if two_row and rng.random() < 0.3:
        # Real two-row crops often lose the lower part of the bottom row.
        my1 = rng.uniform(-0.28, -0.02)
    return float(mx0), float(mx1), float(my0), float(my1)


def degrade(rng: np.random.Generator, plate: np.ndarray, two_row: bool = False) -> np.ndarray:
    """Photographs a clean plate: frame, perspective, crop, light, blur, resolution, noise, JPEG."""
    h, w = plate.shape[:2]
    mx0, mx1, my0, my1 = _crop_margins(rng, two_row)
    # A frame / bumper around the plate, visible in loose crops.
    pad = int(max(h, w) * (0.25 if max(mx0, mx1, my0 * h / w, my1 * h / w) < 0.2 else 0.55))
    big = _background(rng, h + 2 * pad, w + 2 * pad)
    if rng.random() < 0.5:
        fr = int(rng.integers(2, max(3, h // 10)))
        cv2.rectangle(
            big,
            (pad - fr, pad - fr),
            (pad + w + fr, pad + h + fr),
            rng.integers(0, 90, 3).tolist(),
            -1,
        )
    big[pad : pad + h, pad : pad + w] = plate
    # Perspective: jitter the plate corners, then crop around them (tight or loose).
    src = np.float32([[pad, pad], [pad + w, pad], [pad + w, pad + h], [pad, pad + h]])
    amp = rng.uniform(0.0, 0.12)
    dst = src + rng.uniform(-amp, amp, (4, 2)).astype(np.float32) * np.float32([w, h])
    ang = np.deg2rad(rng.normal(0, 3.0))
    c = dst.mean(axis=0)
    rot = np.float32([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    dst = (dst - c) @ rot.T + c
    M = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(
        big, M, (big.shape[1], big.shape[0]), borderMode=cv2.BORDER_REFLECT
    )
    x0, y0 = dst.min(axis=0)
    x1, y1 = dst.max(axis=0)
    pw, ph = x1 - x0, y1 - y0
    cx0 = int(np.clip(x0 - mx0 * pw, 0, warped.shape[1] - 2))
    cx1 = int(np.clip(x1 + mx1 * pw, cx0 + 2, warped.shape[1]))
    cy0 = int(np.clip(y0 - my0 * ph, 0, warped.shape[0] - 2))
    cy1 = int(np.clip(y1 + my1 * ph, cy0 + 2, warped.shape[0]))
    img = warped[cy0:cy1, cx0:cx1].astype(np.float32)
    ih, iw = img.shape[:2]
    # Light: colour cast, contrast, brightness, gradient shadow, glare, dirt.
    img *= rng.uniform(0.75, 1.1, 3)[None, None, :]
    contrast = rng.uniform(0.35, 1.1)
    img = (img - 128) * contrast + 128 + rng.uniform(-70, 40)
    if rng.random() < 0.4:
        gx = np.linspace(0, 1, iw)[None, :] * rng.uniform(-1, 1)
        gy = np.linspace(0, 1, ih)[:, None] * rng.uniform(-1, 1)
        img += (gx + gy)[:, :, None] * rng.uniform(20, 90)
    if rng.random() < 0.2:
        # Hard shadow edge across the plate.
        yy, xx = np.mgrid[0:ih, 0:iw]
        a, b = rng.uniform(-1, 1, 2)
        side = (xx - iw * rng.uniform(0.2, 0.8)) * a + (yy - ih * rng.uniform(0.2, 0.8)) * b > 0
        img[side] *= rng.uniform(0.35, 0.75)
    if rng.random() < 0.15:
        glare = np.zeros((ih, iw), np.float32)
        cv2.ellipse(
            glare,
            (int(rng.integers(0, iw)), int(rng.integers(0, ih))),
            (int(iw * rng.uniform(0.05, 0.3)), int(ih * rng.uniform(0.1, 0.6))),
            float(rng.uniform(0, 180)),
            0,
            360,
            1.0,
            -1,
        )
        glare = cv2.GaussianBlur(glare, (0, 0), max(1.0, iw * 0.03))
        img += glare[:, :, None] * rng.uniform(60, 200)
    if rng.random() < 0.2:
        # Dirt: small, semi-transparent dark specks (large opaque blobs would hide whole glyphs).
        dirt = np.zeros((ih, iw), np.float32)
        for _ in range(int(rng.integers(1, 12))):
            cv2.circle(
                dirt,
                (int(rng.integers(0, iw)), int(rng.integers(0, ih))),
                int(rng.integers(1, max(2, ih // 14))),
                float(rng.uniform(0.2, 0.6)),
                -1,
            )
        img *= 1.0 - cv2.GaussianBlur(dirt, (0, 0), 1.0)[:, :, None]
    img = np.clip(img, 0, 255).astype(np.uint8)
    # Resolution: the character height ends up anywhere from about 12 to 80 px.
    target_w = int(np.clip(rng.lognormal(np.log(190), 0.5), 80, 560))
    # Blur in proportion to size: a small crop blurred by a fixed sigma is illegible, not realistic.
    blur_scale = min(1.0, target_w / 200)
    scale = target_w / iw
    small = cv2.resize(img, (target_w, max(8, int(ih * scale))), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.5:
        k = rng.uniform(0.3, 1.4) * blur_scale + 0.2
        small = cv2.GaussianBlur(small, (0, 0), k)
    elif rng.random() < 0.45:
        # Motion: the car or the camera moved by 1-8% of the plate's width during the exposure.
        length = round(target_w * rng.uniform(0.01, 0.08))
        if length >= 2:
            angle = float(rng.normal(0, 12) if rng.random() < 0.8 else rng.uniform(0, 180))
            small = motion_blur(small, length, angle)
    if rng.random() < 0.3 * blur_scale:
        # Upscaled from an even smaller capture (CCTV crops).
        f = rng.uniform(0.5, 0.85)
        tiny = cv2.resize(small, (max(8, int(small.shape[1] * f)), max(6, int(small.shape[0] * f))))
        small = cv2.resize(tiny, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.12:
        small = night(rng, small)
    return sensor(rng, small, noise=(0.6, 2, 14), jpeg=(0.7, 15, 95))


def sensor(
    rng: np.random.Generator,
    img: np.ndarray,
    noise: tuple[float, float, float],
    jpeg: tuple[float, int, int],
) -> np.ndarray:
    """What a camera's sensor and encoder add: with probability ``noise[0]`` Gaussian noise of a
    sigma between ``noise[1]`` and ``noise[2]``, then with probability ``jpeg[0]`` a JPEG round
    trip at a quality between ``jpeg[1]`` and ``jpeg[2]``."""
    if rng.random() < noise[0]:
        img = np.clip(img + rng.normal(0, rng.uniform(noise[1], noise[2]), img.shape), 0, 255)
        img = img.astype(np.uint8)
    if rng.random() < jpeg[0]:
        quality = int(rng.integers(jpeg[1], jpeg[2]))
        ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            img = cv2.imdecode(enc, cv2.IMREAD_COLOR)
    return img


def night(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """The same plate at night: little light, a steeper tone curve, a colour cast, sensor noise."""
    out = 255.0 * (img.astype(np.float32) / 255.0) ** rng.uniform(1.1, 1.8)
    out *= rng.uniform(0.15, 0.5) * rng.uniform(0.85, 1.15, 3)[None, None, :]
    out += rng.normal(0, rng.uniform(3, 12), out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def sample_kind(rng: np.random.Generator) -> str:
    names = list(KINDS)
    weights = np.array([KINDS[k][3] for k in names], np.float64)
    return names[int(rng.choice(len(names), p=weights / weights.sum()))]


def make_plate(rng: np.random.Generator, kind: str | None = None) -> Plate:
    """One synthetic plate photo crop with its label."""
    kind = kind or sample_kind(rng)
    clean, label, two_row, strip = _render(rng, kind)
    if strip and rng.random() < STRIP_CUT_P:
        clean = clean[:, max(0, strip + int(rng.integers(-4, 6))) :]
    return Plate(degrade(rng, clean, two_row), label, kind, two_row)


def _main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("runs/synth_preview"))
    ap.add_argument("--n", type=int, default=48)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from plate_ocr.recognizer import to_model_input
    from plate_ocr.recognizer_config import configured

    img_h, img_w = configured().input_size
    rng = np.random.default_rng(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    tiles = []
    for _ in range(args.n):
        p = make_plate(rng)
        raw = cv2.resize(p.image, (img_w * 2, img_h * 2 if not p.two_row else img_h * 3))
        raw = cv2.copyMakeBorder(raw, 0, img_h * 3 - raw.shape[0], 0, 0, cv2.BORDER_CONSTANT)
        inp = cv2.cvtColor(
            cv2.resize(to_model_input(p.image, p.two_row), (img_w * 2, img_h * 2)),
            cv2.COLOR_GRAY2BGR,
        )
        tile = np.vstack([raw, inp])
        tiles.append(tile)
        print(p.kind, p.label, p.image.shape)
    while len(tiles) % 6:
        tiles.append(np.zeros_like(tiles[0]))
    sheet = np.vstack([np.hstack(tiles[i : i + 6]) for i in range(0, len(tiles), 6)])
    cv2.imwrite(str(args.out / "sheet.png"), sheet)


if __name__ == "__main__":
    _main()
