"""The learned plate detector: a photo in, each plate's 4 corners and a plate score out.

The photo is scaled so that its long side fits ``input_long`` pixels and letterboxed onto one of two
fixed canvases (landscape or portrait; the close look's are twice as large): torch keeps per-shape
caches, so fixed shapes keep the process's memory flat. The network (:mod:`plate_ocr.locate.net`)
predicts a heat map of plate centres and, at each centre, the corners; :func:`decode` turns peaks
into :class:`Detection` s.

Everything that training must agree with lives here once: :func:`to_input` (colour order and
scaling) and :func:`decode`. The network's shape and the canvas come from ``platedet.yaml``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plate_ocr.cpu import bf16_supported, optimise_for_cpu, precision
from plate_ocr.locate.geometry import order_clockwise, quad_iou
from plate_ocr.results import Quad

if TYPE_CHECKING:
    import numpy.typing as npt

    Image = npt.NDArray[Any]

logger = logging.getLogger(__name__)

#: The grey of the canvas around a photo (letterbox and padding), as in training.
_GREY = (114, 114, 114)
#: The detector's files in the model folder.
WEIGHTS = "platedet.pth"
CONFIG = "platedet.yaml"


@dataclass(frozen=True)
class Detection:
    """One plate the detector found: corners clockwise from top-left (photo pixels) and a score."""

    quad: Quad
    score: float


@dataclass(frozen=True)
class DetectorConfig:
    """What ``platedet.yaml`` says: the network's shape, its canvas and its thresholds."""

    width_mult: float = 1.0
    fpn: int = 48
    stride: int = 4
    #: The canvas is ``input_long`` x ``input_short`` (landscape) or its transpose (portrait).
    input_long: int = 512
    input_short: int = 384
    #: Peaks below this are not plates. The shipped threshold (every export writes it), chosen on
    #: the dev split's ``plate-ocr eval`` (README). 0.4 was tried on 2026-12-01 (dev copies and
    #: shrunk dev scenes read the same, 25 of 30 synthetic three-car plates instead of 23) and
    #: taken back after the val measurement: a rental sticker listed as a plate on a
    #: half-resolution copy and a night misread answered at 0.99.
    min_score: float = 0.5
    trained_steps: str = ""

    @classmethod
    def read(cls, path: Path) -> DetectorConfig:
        """Parses the flat ``key: value`` yaml that :mod:`training.detector` writes."""
        fields = {f for f in cls.__dataclass_fields__}
        values: dict[str, Any] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if not line or ":" not in line:
                continue
            key, raw = (part.strip() for part in line.split(":", 1))
            if key not in fields:
                continue
            default = getattr(cls, key)
            values[key] = type(default)(raw.strip("\"'"))
        return cls(**values)

    def network_params(self) -> dict[str, Any]:
        return {"width_mult": self.width_mult, "fpn": self.fpn, "stride": self.stride}


def canvas_size(
    config: DetectorConfig, height: int, width: int, zoom: float = 1.0
) -> tuple[int, int]:
    """(canvas height, canvas width) for a photo: landscape photos get the landscape canvas.

    ``zoom`` scales both sides (rounded to a multiple of 32, the backbone's coarsest stride).
    """
    long, short = config.input_long, config.input_short
    if zoom != 1.0:
        long, short = _multiple_of_32(long * zoom), _multiple_of_32(short * zoom)
    if width >= height:
        return short, long
    return long, short


def _multiple_of_32(side: float) -> int:
    return max(32, 32 * round(side / 32))


def letterbox(image: Image, canvas_hw: tuple[int, int]) -> tuple[Image, float]:
    """The photo scaled to fit the canvas (top-left aligned, grey padding) and the scale used."""
    import cv2
    import numpy as np

    ch, cw = canvas_hw
    h, w = image.shape[:2]
    scale = min(ch / h, cw / w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    if scale < 0.5:
        # Area-averaging a large photo costs more than the network: a cheap bilinear pass to twice
        # the target first (reads only the pixels it needs), then area-averaging.
        image = cv2.resize(image, (nw * 2, nh * 2), interpolation=cv2.INTER_LINEAR)
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    small = cv2.resize(image, (nw, nh), interpolation=interp)
    out = np.full((ch, cw, 3), _GREY, np.uint8)
    out[:nh, :nw] = small
    return out, scale


def to_input(canvas: Image) -> npt.NDArray[Any]:
    """A BGR uint8 canvas as the network's (3, H, W) float32 RGB input in [-1, 1]."""
    import numpy as np

    rgb = canvas[:, :, ::-1].transpose(2, 0, 1)
    result: npt.NDArray[Any] = rgb.astype(np.float32) / 127.5 - 1.0
    return result


def decode(
    out: npt.NDArray[Any], stride: int, min_score: float, max_plates: int
) -> list[tuple[npt.NDArray[Any], float]]:
    """Peaks of one output map (10, H, W) as (corners (4, 2) in canvas pixels, score), best first.

    A peak is a cell whose heat is the largest of its 3x3 neighbourhood. Its corners are the mean
    of the corner predictions of the peak's 3x3 neighbours, weighted by their heat: neighbours of
    one plate agree, and the mean halves the spread of a single cell's guess. Neighbours under a
    third of the peak's heat are left out: training regresses corners only near a centre.
    """
    import numpy as np

    from plate_ocr.locate.net import SIZE_UNIT

    heat = 1.0 / (1.0 + np.exp(-out[0].astype(np.float64)))
    h, w = heat.shape
    padded = np.pad(heat, 1, constant_values=0.0)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3))
    peaks = (heat >= windows.max(axis=(2, 3))) & (heat >= min_score)
    ys, xs = np.nonzero(peaks)
    order = np.argsort(-heat[ys, xs])[: max_plates * 2]
    results: list[tuple[npt.NDArray[Any], float]] = []
    for i in order:
        y, x = int(ys[i]), int(xs[i])
        y0, y1, x0, x1 = max(0, y - 1), min(h, y + 2), max(0, x - 1), min(w, x + 2)
        weight = heat[y0:y1, x0:x1]
        weight = np.where(weight >= heat[y, x] / 3, weight, 0.0)
        gy, gx = np.mgrid[y0:y1, x0:x1]
        size = SIZE_UNIT * np.exp(np.clip(out[1, y0:y1, x0:x1], -6.0, 6.0))
        cx = (gx + 0.5) * stride
        cy = (gy + 0.5) * stride
        corners = np.empty((4, 2))
        for k in range(4):
            px = cx + size * out[2 + 2 * k, y0:y1, x0:x1]
            py = cy + size * out[3 + 2 * k, y0:y1, x0:x1]
            corners[k] = ((px * weight).sum() / weight.sum(), (py * weight).sum() / weight.sum())
        results.append((corners, float(heat[y, x])))
    return results


class PlateDetector:
    """Finds plates in a BGR photo with the shipped network (``models/platedet.{pth,yaml}``).

    Built once per process. On the CPU the network runs with its BatchNorms folded, in
    channels-last memory and, where the CPU has native bfloat16 (AVX512-BF16 or AMX), in bfloat16
    (a 512 x 384 canvas: about 30 -> 13 ms on one thread). Thread-safe: torch modules in eval mode
    hold no per-call state.
    """

    def __init__(self, model_dir: Path, gpu: bool = False, bf16: bool | None = None) -> None:
        import torch

        from plate_ocr.locate import net

        started = time.perf_counter()
        self.model_dir = Path(model_dir)
        weights = self.model_dir / WEIGHTS
        if not weights.is_file():
            raise FileNotFoundError(weights)
        self.config = DetectorConfig.read(self.model_dir / CONFIG)
        self._device = torch.device("cuda" if gpu and torch.cuda.is_available() else "cpu")
        model = net.build(**self.config.network_params())
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model.load_state_dict({k: v.float() for k, v in state.items()})
        model.eval()
        if self._device.type == "cpu":
            optimise_for_cpu(model)
        self.bf16 = self._device.type == "cpu" and (bf16_supported() if bf16 is None else bf16)
        self._model = model.to(self._device)
        self.load_seconds = time.perf_counter() - started

    @classmethod
    def from_module(cls, module: Any, config: DetectorConfig) -> PlateDetector:
        """A detector around an in-memory network (training-time evaluation)."""
        self = cls.__new__(cls)
        self.model_dir = Path()
        self.config = config
        self._device = next(module.parameters()).device
        self._model = module
        self.bf16 = False
        self.load_seconds = 0.0
        return self

    def forward(self, canvas: Image) -> npt.NDArray[Any]:
        """The raw (10, H / stride, W / stride) output for one canvas."""
        import numpy as np
        import torch

        x = torch.from_numpy(np.ascontiguousarray(to_input(canvas)[None])).to(self._device)
        if self._device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), precision(self.bf16):
            out = self._model(x)[0].float().cpu().numpy()
        result: npt.NDArray[Any] = out
        return result

    def detect(
        self,
        image: Image,
        max_plates: int = 8,
        pad: float = 0.0,
        zoom: float = 1.0,
        min_score: float | None = None,
    ) -> list[Detection]:
        """Plates in a BGR photo, best first: corners in the photo's pixels and a score (0..1),
        at least ``min_score`` (by default the model's own, :attr:`DetectorConfig.min_score`).

        ``pad`` surrounds the photo with that many times its own width and height of grey on
        each side before it is scaled to the canvas: a plate that fills a photo (a loose crop, a
        close-up) then has the size the detector was trained on, and room around it. ``zoom``
        scales the canvas (:func:`canvas_size`), for about ``zoom`` squared times the work: over 1
        small plates of a large photo are seen larger; under 1 a padded crop's plate is seen at a
        size the detector knows well, for less.
        """
        h, w = image.shape[:2]
        dx, dy = round(w * pad), round(h * pad)
        if dx or dy:
            import cv2

            image = cv2.copyMakeBorder(image, dy, dy, dx, dx, cv2.BORDER_CONSTANT, value=_GREY)
        canvas_hw = canvas_size(self.config, image.shape[0], image.shape[1], zoom)
        canvas, scale = letterbox(image, canvas_hw)
        out = self.forward(canvas)
        found = [
            Detection(quad, score)
            for corners, score in decode(
                out,
                self.config.stride,
                self.config.min_score if min_score is None else min_score,
                max_plates,
            )
            if _sane(quad := order_clockwise(corners / scale - (dx, dy)), w, h)
        ]
        return suppress(found, max_plates)


def suppress(detections: list[Detection], limit: int, max_iou: float = 0.3) -> list[Detection]:
    """The best detections, best first, without one that overlaps a better one by ``max_iou``."""
    kept: list[Detection] = []
    for d in sorted(detections, key=lambda d: -d.score):
        if all(quad_iou(d.quad, k.quad) < max_iou for k in kept):
            kept.append(d)
        if len(kept) >= limit:
            break
    return kept


def _sane(quad: Quad, width: int, height: int) -> bool:
    """A quad with some area whose centre lies in the photo."""
    cx = sum(p[0] for p in quad) / 4
    cy = sum(p[1] for p in quad) / 4
    top = math.dist(quad[0], quad[1])
    side = math.dist(quad[0], quad[3])
    return 0 <= cx < width and 0 <= cy < height and top >= 4 and side >= 2
