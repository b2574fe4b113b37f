"""Plate geometry: corner order, quad measures, overlap, and rectification of a plate for reading.

A plate is a quad: 4 corners (x, y) in photo pixels, clockwise from the top-left. Heavy imports
(cv2, numpy) happen inside the functions.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from plate_ocr.results import Quad

if TYPE_CHECKING:
    import numpy.typing as npt

    Image = npt.NDArray[Any]

#: A quad wider than this (width / height) is a one-row plate; narrower ones may have two rows.
ONE_ROW_MIN_ASPECT = 3.0


def order_clockwise(pts: Any) -> Quad:
    """Orders 4 points clockwise from the top-left (image coordinates, y down)."""
    import numpy as np

    p = np.asarray(pts, dtype=np.float64).reshape(4, 2)
    c = p.mean(axis=0)
    ang = np.arctan2(p[:, 1] - c[1], p[:, 0] - c[0])
    p = p[np.argsort(ang)]  # clockwise on screen, starting somewhere
    # Start at the corner with the smallest x + y (top-left for plates tilted under 45 degrees).
    start = int(np.argmin(p[:, 0] + p[:, 1]))
    p = np.roll(p, -start, axis=0)
    return (
        (float(p[0, 0]), float(p[0, 1])),
        (float(p[1, 0]), float(p[1, 1])),
        (float(p[2, 0]), float(p[2, 1])),
        (float(p[3, 0]), float(p[3, 1])),
    )


def quad_size(q: Quad) -> tuple[float, float]:
    """Width and height of a quad: the means of its opposite sides."""
    width = (math.dist(q[0], q[1]) + math.dist(q[3], q[2])) / 2
    height = (math.dist(q[0], q[3]) + math.dist(q[1], q[2])) / 2
    return width, height


def quad_aspect(q: Quad) -> float:
    """Width over height of a quad."""
    width, height = quad_size(q)
    return width / max(height, 1e-6)


def _areas(a: Quad, b: Quad) -> tuple[float, float, float]:
    """The intersection of two convex quads and the area of each."""
    import cv2
    import numpy as np

    pa, pb = np.array(a, np.float32), np.array(b, np.float32)
    inter, _ = cv2.intersectConvexConvex(pa, pb)
    return float(inter), float(cv2.contourArea(pa)), float(cv2.contourArea(pb))


def quad_iou(a: Quad, b: Quad) -> float:
    """Intersection over union of two convex quads."""
    inter, area_a, area_b = _areas(a, b)
    union = area_a + area_b - inter
    return inter / union if union > 0 else 0.0


def quad_overlap(a: Quad, b: Quad) -> float:
    """The share of the smaller of two convex quads that the other covers (0..1)."""
    inter, area_a, area_b = _areas(a, b)
    smaller = min(area_a, area_b)
    return inter / smaller if smaller > 0 else 0.0


def grow_quad(quad: Quad, dw: float, dh: float) -> Quad:
    """Grows a quad along its own axes: ``dw`` of its width on each side, ``dh`` of its height."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = quad
    wx, wy = ((x1 - x0) + (x2 - x3)) / 2, ((y1 - y0) + (y2 - y3)) / 2
    hx, hy = ((x3 - x0) + (x2 - x1)) / 2, ((y3 - y0) + (y2 - y1)) / 2
    pts = [
        (x + sw * dw * wx + sh * dh * hx, y + sw * dw * wy + sh * dh * hy)
        for (x, y), sw, sh in (
            ((x0, y0), -1, -1),
            ((x1, y1), 1, -1),
            ((x2, y2), 1, 1),
            ((x3, y3), -1, 1),
        )
    ]
    return (pts[0], pts[1], pts[2], pts[3])


def clip_quad(quad: Quad, width: int, height: int) -> Quad:
    """The quad with every corner moved inside the photo (boxes drawn or stored never leave it)."""
    fx, fy = float(max(width - 1, 0)), float(max(height - 1, 0))
    pts = [(min(max(x, 0.0), fx), min(max(y, 0.0), fy)) for x, y in quad]
    return (pts[0], pts[1], pts[2], pts[3])


def warp(image: Image, quad: Quad, out_w: int, out_h: int) -> Image:
    """Perspective-warps ``quad`` of ``image`` onto an ``out_w`` x ``out_h`` rectangle.

    A quad far larger than the output (a close-up of a 40 MP photo) would alias under bilinear
    sampling: it is warped at a multiple of the size, then area-averaged down.
    """
    import cv2
    import numpy as np

    _, side = quad_size(quad)
    k = min(4, int(side / max(out_h, 1)))
    k = k if k >= 2 else 1
    src = np.array(quad, dtype=np.float32)
    bw, bh = out_w * k, out_h * k
    dst = np.array([[0, 0], [bw - 1, 0], [bw - 1, bh - 1], [0, bh - 1]], np.float32)
    m = cv2.getPerspectiveTransform(src, dst)
    out: Image = cv2.warpPerspective(
        image, m, (bw, bh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    if k > 1:
        out = cv2.resize(out, (out_w, out_h), interpolation=cv2.INTER_AREA)
    return out


def rectify(image: Image, quad: Quad, crop_height: int = 64, side_margin: float = 0.05) -> Image:
    """The plate of ``quad`` as an upright crop for the recogniser, with a small margin.

    One-row plates are ``crop_height`` high, squarish ones (maybe two rows) twice that; the width
    keeps the plate's aspect. ``side_margin`` of the plate's width is added left and right (a
    tight crop clips glyphs when the corners are a bit off), a tenth of its height above and
    below.
    """
    grown = grow_quad(quad, side_margin, 0.10)
    aspect = quad_aspect(quad)
    out_h = crop_height if aspect > ONE_ROW_MIN_ASPECT else crop_height * 2
    out_w = max(8, round(out_h * aspect * (1 + 2 * side_margin) / 1.20))
    return warp(image, grown, out_w, out_h)


def rotated(image: Image, degrees: float, fill: int = 128) -> tuple[Image, Any]:
    """``image`` turned ``degrees`` anticlockwise about its centre onto a canvas that holds all
    of it (the corners filled grey), and the 2x3 affine matrix that maps the canvas's points back
    into ``image``'s."""
    import cv2

    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    out_w, out_h = round(float(h * sin + w * cos)), round(float(h * cos + w * sin))
    m[0, 2] += out_w / 2 - w / 2
    m[1, 2] += out_h / 2 - h / 2
    canvas: Image = cv2.warpAffine(
        image, m, (out_w, out_h), borderMode=cv2.BORDER_CONSTANT, borderValue=(fill, fill, fill)
    )
    return canvas, cv2.invertAffineTransform(m)


def map_quad(quad: Quad, matrix: Any) -> Quad:
    """``quad``'s corners through a 2x3 affine ``matrix``, in the same order."""
    pts = [
        (
            float(matrix[0][0] * x + matrix[0][1] * y + matrix[0][2]),
            float(matrix[1][0] * x + matrix[1][1] * y + matrix[1][2]),
        )
        for x, y in quad
    ]
    return (pts[0], pts[1], pts[2], pts[3])
