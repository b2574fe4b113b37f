"""Training scenes for the plate detector: synthetic plates composited into real photos.

Each sample is a square patch at the detector's scale with the 4 corners of every plate in it:

* the background is a real photo of Korean cars from ``../shared/datasets/kr-scenes-unlabelled``
  (its own plates labelled by self-training, :mod:`training.pseudo`) or, less often, a procedural
  one (gradients, shapes, noise);
* 0-3 rendered plates (:func:`training.synth.render_clean`: every kind, in a plate frame or not)
  are posed in 3D (yaw, pitch, roll up to about 40 degrees, wide-angle perspective), scaled from
  about 12 px wide to the whole patch, lit like their surroundings and pasted in;
* text that is not a plate (signs, phone numbers, watermarks) is drawn as hard negatives;
* the whole patch then goes through what cameras do: night, infrared grey, motion and focus blur,
  low resolution, noise, JPEG.

Plates cut by the patch's edge, or real plates the labels call unsure, are ``ignore`` regions: the
detector is neither rewarded nor punished there. The val photos are never used here.

``python -m training.scenes --out runs/scenes_preview`` writes a contact sheet to look at.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from plate_ocr.evaluate import motion_blur
from training.synth import sensor

SCENES = Path(
    os.environ.get(
        "PLATE_SCENES",
        Path(__file__).resolve().parents[2] / "shared" / "datasets" / "kr-scenes-unlabelled",
    )
)
LABELS = Path(__file__).resolve().parent / "data" / "scene_labels.json"

#: Share of the unlabelled photos kept out of training as the dev split (by a hash of the name).
DEV_SHARE = 0.3
#: Plates less visible than this (cut by the patch's edge) are ignored, not positives.
MIN_VISIBLE = 0.8

KIND_WEIGHTS = {
    # More of the kinds the first finder missed (EV, yellow, green) than their share on the road.
    "white7": 18,
    "white8": 14,
    "holo8": 6,
    "ev7": 12,
    "short7": 8,
    "yellow2": 10,
    "yellow1": 6,
    "green2r": 7,
    "green2": 7,
    "diplo": 2,
}


def is_dev(name: str) -> bool:
    """Whether an unlabelled photo belongs to the dev split (never trained on)."""
    digest = hashlib.sha256(Path(name).name.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < DEV_SHARE


@dataclass
class Scene:
    """A real photo and what is known of its plates (corners in its own pixels)."""

    path: Path
    plates: list[np.ndarray] = field(default_factory=list)
    ignore: list[np.ndarray] = field(default_factory=list)


def load_scenes(split: str, labels: Path = LABELS) -> list[Scene]:
    """The labelled unlabelled-set photos of ``split`` (``train`` or ``dev``)."""
    data = json.loads(labels.read_text(encoding="utf-8"))
    out = []
    for name, entry in sorted(data["photos"].items()):
        if is_dev(name) != (split == "dev"):
            continue
        plates = [np.array(p["quad"], np.float32) for p in entry.get("plates", [])]
        ignore = [np.array(q, np.float32) for q in entry.get("unsure", [])]
        out.append(Scene(SCENES / name, plates, ignore))
    return out


@lru_cache(maxsize=256)
def _read(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(path)
    return img


# --- backgrounds ---------------------------------------------------------------------------------


def _procedural_background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Gradients, blobs, car-like boxes and lines: cheap clutter with no plate in it."""
    base = rng.integers(0, 256, 3)
    small = np.clip(base + rng.normal(0, 50, (max(2, h // 64), max(2, w // 64), 3)), 0, 255).astype(
        np.uint8
    )
    bg = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    for _ in range(int(rng.integers(3, 14))):
        colour = rng.integers(0, 256, 3).tolist()
        x0, y0 = int(rng.integers(-w // 4, w)), int(rng.integers(-h // 4, h))
        x1, y1 = x0 + int(rng.integers(8, w // 2)), y0 + int(rng.integers(8, h // 2))
        shape = rng.random()
        if shape < 0.45:
            cv2.rectangle(bg, (x0, y0), (x1, y1), colour, -1 if rng.random() < 0.7 else 2)
        elif shape < 0.75:
            cv2.ellipse(
                bg,
                ((x0 + x1) // 2, (y0 + y1) // 2),
                ((x1 - x0) // 2, (y1 - y0) // 2),
                float(rng.uniform(0, 180)),
                0,
                360,
                colour,
                -1,
            )
        else:
            cv2.line(bg, (x0, y0), (x1, y1), colour, int(rng.integers(1, 6)))
    if rng.random() < 0.5:
        bg = cv2.GaussianBlur(bg, (0, 0), float(rng.uniform(0.5, 3)))
    return bg


_DISTRACTOR_TEXT = (
    "주차금지",
    "전기차 충전구역",
    "출구",
    "EXIT",
    "SALE 50%",
    "010-{}-{}",
    "02-{}-{}",
    "encar.com",
    "Encar",
    "HYUNDAI",
    "KIA",
    "GENESIS",
    "BMW",
    "IONIQ",
    "{}",
    "{}-{}",
    "서울특별시",
    "관리사무소",
    "CCTV 녹화중",
    "P",
    "B2",
    "{} km/h",
    "2021-07-08 11:57:29",
    "장애인전용",
    "방문차량",
    "{}동",
    "세차장",
    "렌터카",
    "1588-{}",
)


def _distractor_text(rng: np.random.Generator) -> str:
    template = _DISTRACTOR_TEXT[int(rng.integers(len(_DISTRACTOR_TEXT)))]
    while "{}" in template:
        template = template.replace(
            "{}", str(int(rng.integers(0, 10 ** int(rng.integers(1, 5))))), 1
        )
    return template


def _draw_text(rng: np.random.Generator, img: np.ndarray, avoid: list[np.ndarray]) -> None:
    """A sign, sticker or watermark that is not a plate: the detector must learn to pass it."""
    from PIL import Image, ImageDraw, ImageFont

    from training.synth import _fonts

    fonts = _fonts()
    if not fonts:
        return
    h, w = img.shape[:2]
    text = _distractor_text(rng)
    size = int(rng.integers(8, max(9, h // 6)))
    font = ImageFont.truetype(fonts[int(rng.integers(len(fonts)))], size)
    box = font.getbbox(text)
    tw, th = box[2] - box[0] + 8, box[3] - box[1] + 8
    if tw >= w or th >= h:
        return
    x, y = int(rng.integers(0, w - tw)), int(rng.integers(0, h - th))
    rect = np.array([[x, y], [x + tw, y], [x + tw, y + th], [x, y + th]], np.float32)
    if any(_overlap(rect, a) > 0.0 for a in avoid):
        return
    patch = Image.fromarray(img[y : y + th, x : x + tw][:, :, ::-1])
    draw = ImageDraw.Draw(patch)
    if rng.random() < 0.5:
        draw.rectangle((0, 0, tw, th), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    fill = tuple(int(v) for v in rng.integers(0, 256, 3))
    draw.text((4 - box[0], 4 - box[1]), text, font=font, fill=fill)
    img[y : y + th, x : x + tw] = np.asarray(patch)[:, :, ::-1]


# --- plates --------------------------------------------------------------------------------------


def _framed_plate(rng: np.random.Generator, kind: str) -> tuple[np.ndarray, np.ndarray, str]:
    """A clean plate, maybe in a frame, and its corners in that image."""
    from training.synth import render_clean

    plate, label, _ = render_clean(rng, kind)
    if rng.random() < 0.07:
        # Orange construction-machine plates and other rare colours.
        tint = np.array(rng.choice([(0, 120, 240), (0, 90, 220), (60, 160, 250)]), np.float32)
        grey = cv2.cvtColor(plate, cv2.COLOR_BGR2GRAY).astype(np.float32)[:, :, None] / 255.0
        plate = np.clip(tint * grey + (1 - grey) * 20, 0, 255).astype(np.uint8)
    ph, pw = plate.shape[:2]
    quad = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)
    if rng.random() < 0.55:
        # A plate holder: a dark or chrome frame, sometimes with a dealer's name on it.
        t = int(ph * rng.uniform(0.04, 0.16))
        b = t + int(ph * rng.uniform(0.0, 0.2))
        colour = rng.choice([(15, 15, 15), (40, 40, 40), (170, 170, 170), (220, 220, 220)])
        framed = np.empty((ph + t + b, pw + 2 * t, 3), np.uint8)
        framed[:] = colour
        framed[t : t + ph, t : t + pw] = plate
        plate = framed
        quad += np.float32([t, t])
    return plate, quad, label


def _pose(rng: np.random.Generator, pw: float, ph: float) -> np.ndarray:
    """Projected corners (4, 2) of a pw x ph plate turned in 3D, centred on the origin."""
    yaw = math.radians(float(np.clip(rng.normal(0, 20), -55, 55)))
    pitch = math.radians(float(np.clip(rng.normal(0, 12), -35, 35)))
    roll_sd = 25 if rng.random() < 0.15 else 5
    roll = math.radians(float(np.clip(rng.normal(0, roll_sd), -40, 40)))
    cy, sy, cp, sp, cr, sr = (
        math.cos(yaw),
        math.sin(yaw),
        math.cos(pitch),
        math.sin(pitch),
        math.cos(roll),
        math.sin(roll),
    )
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    rot = rz @ rx @ ry
    focal = pw * rng.uniform(1.2, 6.0)
    corners = np.array(
        [[-pw / 2, -ph / 2, 0], [pw / 2, -ph / 2, 0], [pw / 2, ph / 2, 0], [-pw / 2, ph / 2, 0]]
    )
    cam = corners @ rot.T + np.array([0, 0, focal])
    return (focal * cam[:, :2] / cam[:, 2:3]).astype(np.float32)


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    inter, _ = cv2.intersectConvexConvex(a.astype(np.float32), b.astype(np.float32))
    return float(inter) / max(float(cv2.contourArea(a.astype(np.float32))), 1e-6)


def _paste_plate(
    rng: np.random.Generator, img: np.ndarray, avoid: list[np.ndarray], kind: str
) -> np.ndarray | None:
    """Pastes one posed plate into ``img``; its corners in ``img``, or None when it did not fit."""
    h, w = img.shape[:2]
    plate, quad, _ = _framed_plate(rng, kind)
    ph, pw = plate.shape[:2]
    plate_w = float(quad[1, 0] - quad[0, 0])
    plate_h = float(quad[3, 1] - quad[0, 1])
    projected = _pose(rng, plate_w, plate_h)
    span = float(projected[:, 0].max() - projected[:, 0].min())
    # Plate width on the patch: mostly 14-160 px, often a close-up up to nearly the patch's width
    # (a phone photo of a parked car's plate fills half the detector's canvas).
    if rng.random() < 0.2:
        target = rng.uniform(0.3, 0.95) * w
    else:
        target = math.exp(rng.uniform(math.log(14), math.log(min(160, w * 0.6))))
    projected *= target / max(span, 1e-6)
    lo, hi = projected.min(axis=0), projected.max(axis=0)
    margin = 0.15 * (hi - lo)
    for _ in range(6):
        cx = rng.uniform(-lo[0] - margin[0], w - hi[0] + margin[0])
        cy = rng.uniform(-lo[1] - margin[1], h - hi[1] + margin[1])
        dst = projected + np.float32([cx, cy])
        if all(_overlap(dst, a) < 0.05 and _overlap(a, dst) < 0.05 for a in avoid):
            break
    else:
        return None
    # The frame's corners follow the plate's: one homography for the whole framed image.
    m_plate = cv2.getPerspectiveTransform(quad, dst)
    scale_down = target / plate_w
    if scale_down < 0.5:
        # Area-average the plate to about twice its final size first: no aliasing in the warp.
        f = min(1.0, 2.0 * scale_down)
        plate = cv2.resize(
            plate, (max(2, round(pw * f)), max(2, round(ph * f))), interpolation=cv2.INTER_AREA
        )
        m_plate = m_plate @ np.diag([1 / f, 1 / f, 1.0])
    warped = cv2.warpPerspective(plate, m_plate, (w, h), flags=cv2.INTER_LINEAR)
    alpha = (
        cv2.warpPerspective(
            np.full(plate.shape[:2], 255, np.uint8), m_plate, (w, h), flags=cv2.INTER_LINEAR
        ).astype(np.float32)[:, :, None]
        / 255.0
    )
    # Light it like its surroundings: the plate takes the local brightness of the background.
    x0, y0 = np.clip(dst.min(axis=0).astype(int), 0, [w - 1, h - 1])
    x1, y1 = np.clip(dst.max(axis=0).astype(int) + 1, 1, [w, h])
    local = float(img[y0:y1, x0:x1].mean()) if (x1 > x0 and y1 > y0) else 128.0
    gain = np.clip(rng.normal(0.55 + local / 300.0, 0.15), 0.25, 1.3)
    warped_f = warped.astype(np.float32) * gain * rng.uniform(0.85, 1.15, 3)
    if rng.random() < 0.3:
        # A shadow or a gradient across the plate.
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        a, b = rng.uniform(-1, 1, 2)
        ramp = ((xx - dst[:, 0].mean()) * a + (yy - dst[:, 1].mean()) * b) / max(target, 1)
        warped_f *= np.clip(1.0 + ramp[:, :, None] * rng.uniform(0.2, 0.8), 0.3, 1.4)
    if rng.random() < 0.4:
        sigma = rng.uniform(0.3, 1.0)
        warped_f = cv2.GaussianBlur(warped_f, (0, 0), sigma)
        alpha = cv2.GaussianBlur(alpha, (0, 0), sigma)[:, :, None]
    out = img.astype(np.float32) * (1 - alpha) + warped_f * alpha
    img[:] = np.clip(out, 0, 255).astype(np.uint8)
    return dst


# --- camera effects ------------------------------------------------------------------------------


def camera(rng: np.random.Generator, img: np.ndarray, plates: list[np.ndarray]) -> np.ndarray:
    """What cameras do to a whole photo: light, night, infrared, blur, resolution, noise, JPEG."""
    h, w = img.shape[:2]
    out = img.astype(np.float32)
    mode = rng.random()
    if mode < 0.15:
        # Night: dark and noisy; the retro-reflective plates stay brighter than their surroundings.
        mask = np.zeros((h, w), np.float32)
        for q in plates:
            cv2.fillConvexPoly(mask, q.astype(np.int32), 1.0)
        gain = rng.uniform(0.08, 0.4)
        out = 255.0 * (out / 255.0) ** rng.uniform(1.0, 1.8) * gain
        out *= 1.0 + mask[:, :, None] * rng.uniform(0.5, 3.0)
        out *= np.float32(rng.choice([(1.0, 1.0, 1.0), (0.7, 0.9, 1.2), (1.1, 1.0, 0.8)]))
        if rng.random() < 0.4:
            glare = np.zeros((h, w), np.float32)
            for _ in range(int(rng.integers(1, 3))):
                centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
                cv2.circle(glare, centre, int(rng.integers(4, max(5, w // 12))), 1.0, -1)
            out += cv2.GaussianBlur(glare, (0, 0), w / 40)[:, :, None] * rng.uniform(100, 255)
        out += rng.normal(0, rng.uniform(3, 14), out.shape)
    elif mode < 0.25:
        # Infrared gate camera: grey, dark surroundings, glowing plates.
        grey = cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_BGR2GRAY)
        g = grey.astype(np.float32) * rng.uniform(0.3, 0.9)
        mask = np.zeros((h, w), np.float32)
        for q in plates:
            cv2.fillConvexPoly(mask, q.astype(np.int32), 1.0)
        g = g * (1.0 + mask * rng.uniform(0.3, 1.5))
        g += rng.normal(0, rng.uniform(2, 10), g.shape)
        out = np.repeat(g[:, :, None], 3, axis=2)
    else:
        # Day: colour cast, contrast, brightness.
        out *= rng.uniform(0.8, 1.15, 3)[None, None, :]
        out = (out - 128) * rng.uniform(0.6, 1.25) + 128 + rng.uniform(-50, 40)
    out = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < 0.05:
        out = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    blur = rng.random()
    if blur < 0.22:
        angle = float(rng.normal(0, 20) if rng.random() < 0.7 else rng.uniform(0, 180))
        out = motion_blur(out, int(rng.integers(3, 16)), angle)
    elif blur < 0.37:
        out = cv2.GaussianBlur(out, (0, 0), float(rng.uniform(0.6, 2.2)))
    if rng.random() < 0.2:
        f = rng.uniform(0.3, 0.6)
        small = cv2.resize(
            out, (max(8, int(w * f)), max(8, int(h * f))), interpolation=cv2.INTER_AREA
        )
        out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return sensor(rng, out, noise=(0.3, 2, 10), jpeg=(0.6, 25, 95))


# --- samples -------------------------------------------------------------------------------------


@dataclass
class Sample:
    """One training patch (BGR) and its plates' corners; ``ignore`` regions are not scored.

    ``plates`` are rendered plates whose corners are exact (the whole plate, emblems included);
    ``loose`` are real plates outlined by self-training, whose corners are only roughly the plate's
    (some hug the glyph row, some take in the frame): they teach where plates are, not where their
    corners lie, so that the detector learns one convention of corners, the exact one.
    """

    image: np.ndarray
    plates: list[np.ndarray]
    ignore: list[np.ndarray]
    loose: list[np.ndarray] = field(default_factory=list)


def _visible(quad: np.ndarray, w: int, h: int) -> float:
    frame = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    return _overlap(quad, frame)


def make_sample(rng: np.random.Generator, scenes: list[Scene], size: int = 320) -> Sample:
    """A ``size`` x ``size`` training patch with its plates."""
    plates: list[np.ndarray] = []
    loose: list[np.ndarray] = []
    ignore: list[np.ndarray] = []
    if scenes and rng.random() < 0.8:
        scene = scenes[int(rng.integers(len(scenes)))]
        photo = _read(scene.path)
        ph, pw = photo.shape[:2]
        # The photo's long side on the detector's canvas is about 512 px; vary it widely.
        long_side = math.exp(rng.uniform(math.log(size * 0.9), math.log(size * 3.2)))
        s = long_side / max(ph, pw)
        small = cv2.resize(
            photo, (max(1, round(pw * s)), max(1, round(ph * s))), interpolation=cv2.INTER_AREA
        )
        sh, sw = small.shape[:2]
        known = [q * s for q in scene.plates]
        unsure = [q * s for q in scene.ignore]
        # Half the time the patch is centred near a real plate, so real plates are seen often.
        if known and rng.random() < 0.5:
            c = known[int(rng.integers(len(known)))].mean(axis=0)
            x0 = int(
                np.clip(c[0] - rng.uniform(0.2, 0.8) * size, min(0, sw - size), max(0, sw - size))
            )
            y0 = int(
                np.clip(c[1] - rng.uniform(0.2, 0.8) * size, min(0, sh - size), max(0, sh - size))
            )
        else:
            x0 = int(rng.integers(min(0, sw - size), max(0, sw - size) + 1))
            y0 = int(rng.integers(min(0, sh - size), max(0, sh - size) + 1))
        img = np.full((size, size, 3), 114, np.uint8)
        src = small[max(0, y0) : y0 + size, max(0, x0) : x0 + size]
        img[max(0, -y0) : max(0, -y0) + src.shape[0], max(0, -x0) : max(0, -x0) + src.shape[1]] = (
            src
        )
        shift = np.float32([x0, y0])
        for q in known:
            q = q - shift
            if _visible(q, size, size) > 0:
                (loose if _visible(q, size, size) >= MIN_VISIBLE else ignore).append(q)
        ignore += [q - shift for q in unsure if _visible(q - shift, size, size) > 0]
    else:
        img = _procedural_background(rng, size, size)
    n_new = int(rng.choice([0, 1, 2, 3], p=[0.2, 0.45, 0.25, 0.1]))
    names = list(KIND_WEIGHTS)
    weights = np.array([KIND_WEIGHTS[k] for k in names], np.float64)
    for _ in range(n_new):
        kind = names[int(rng.choice(len(names), p=weights / weights.sum()))]
        q = _paste_plate(rng, img, plates + loose + ignore, kind)
        if q is None:
            continue
        (plates if _visible(q, size, size) >= MIN_VISIBLE else ignore).append(q)
    for _ in range(int(rng.choice([0, 1, 2], p=[0.55, 0.3, 0.15]))):
        _draw_text(rng, img, plates + loose + ignore)
    if rng.random() < 0.5:
        # Mirrored: twice the real backgrounds; a plate's outline does not depend on its text.
        img = np.ascontiguousarray(img[:, ::-1])
        plates, loose, ignore = (
            [_mirror(q, size) for q in group] for group in (plates, loose, ignore)
        )
    img = camera(rng, img, plates + loose + ignore)
    return Sample(img, plates, ignore, loose)


def _mirror(quad: np.ndarray, width: int) -> np.ndarray:
    """A quad's corners after a left-right flip, still clockwise from the top-left."""
    flipped = quad.copy()
    flipped[:, 0] = width - quad[:, 0]
    return flipped[[1, 0, 3, 2]]


def targets(
    plates: list[np.ndarray],
    ignore: list[np.ndarray],
    size: int,
    stride: int,
    loose: Sequence[np.ndarray] = (),
) -> dict[str, np.ndarray]:
    """The detector's training targets on the ``size / stride`` grid.

    ``heat``: a Gaussian per plate in the plate's own axes (1 at its centre cell); ``reg``: log
    size and corner offsets (see :mod:`plate_ocr.locate.net`) at the cells near each centre, with
    ``reg_w`` their weights; ``heat_w``: 0 inside ignore regions, 1 elsewhere. ``loose`` plates
    get their heat but no corners to regress.
    """
    from plate_ocr.locate.net import SIZE_UNIT

    g = size // stride
    heat = np.zeros((g, g), np.float32)
    reg = np.zeros((9, g, g), np.float32)
    reg_w = np.zeros((g, g), np.float32)
    heat_w = np.ones((g, g), np.float32)
    for q in ignore:
        cv2.fillConvexPoly(heat_w, np.round(q / stride - 0.5).astype(np.int32), 0.0)
    ys, xs = np.mgrid[0:g, 0:g].astype(np.float32)
    cell_x, cell_y = (xs + 0.5) * stride, (ys + 0.5) * stride
    for q, exact in [*((q, True) for q in plates), *((q, False) for q in loose)]:
        centre = q.mean(axis=0)
        u = (q[1] + q[2] - q[0] - q[3]) / 2  # along the plate
        v = (q[3] + q[2] - q[0] - q[1]) / 2  # across it
        pw, ph = float(np.linalg.norm(u)), float(np.linalg.norm(v))
        if pw < 1 or ph < 1:
            continue
        u, v = u / pw, v / ph
        dx, dy = cell_x - centre[0], cell_y - centre[1]
        du, dv = dx * u[0] + dy * u[1], dx * v[0] + dy * v[1]
        su = max(0.7 * stride, 0.18 * pw)
        sv = max(0.7 * stride, 0.25 * ph)
        gauss = np.exp(-(du**2) / (2 * su**2) - dv**2 / (2 * sv**2))
        cx, cy = int(centre[0] // stride), int(centre[1] // stride)
        if 0 <= cx < g and 0 <= cy < g:
            gauss[cy, cx] = 1.0
            heat_w[cy, cx] = 1.0
        # A plate's cells (its own Gaussian over 0.3, and stronger than any other plate's there)
        # learn to regress its corners.
        own = (gauss > 0.3) & (gauss > heat)
        np.maximum(heat, gauss, out=heat)
        heat_w[own] = 1.0
        if not exact:
            continue
        area = float(cv2.contourArea(q.astype(np.float32)))
        scale = math.sqrt(max(area, 1.0))
        reg[0][own] = math.log(scale / SIZE_UNIT)
        for k in range(4):
            reg[1 + 2 * k][own] = (q[k, 0] - cell_x[own]) / scale
            reg[2 + 2 * k][own] = (q[k, 1] - cell_y[own]) / scale
        reg_w[own] = gauss[own]
    return {"heat": heat, "heat_w": heat_w, "reg": reg, "reg_w": reg_w}


def _main() -> None:
    ap = argparse.ArgumentParser(description="Write a contact sheet of detector training patches.")
    ap.add_argument("--out", type=Path, default=Path("runs/scenes_preview"))
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--labels", type=Path, default=LABELS)
    args = ap.parse_args()
    scenes = load_scenes("train", args.labels) if args.labels.is_file() else []
    rng = np.random.default_rng(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    tiles = []
    for _ in range(args.n):
        s = make_sample(rng, scenes)
        tile = s.image.copy()
        for q in s.plates:
            cv2.polylines(tile, [q.astype(np.int32)], True, (0, 255, 0), 1)
        for q in s.loose:
            cv2.polylines(tile, [q.astype(np.int32)], True, (255, 200, 0), 1)
        for q in s.ignore:
            cv2.polylines(tile, [q.astype(np.int32)], True, (0, 0, 255), 1)
        tiles.append(tile)
    while len(tiles) % 6:
        tiles.append(np.zeros_like(tiles[0]))
    sheet = np.vstack([np.hstack(tiles[i : i + 6]) for i in range(0, len(tiles), 6)])
    cv2.imwrite(str(args.out / "sheet.png"), sheet)
    print(f"wrote {args.out / 'sheet.png'}")


if __name__ == "__main__":
    _main()
