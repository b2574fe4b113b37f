"""Interfaces between the pipeline and its engines (fast-alpr style: engines are passed in).

Only typing here: the real engines live in :mod:`plate_ocr.recognizer`, :mod:`plate_ocr.locator` and
:mod:`plate_ocr.gemini`, and import their heavy dependencies when constructed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from plate_ocr.results import Quad, Stage2Status

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Image = npt.NDArray[np.uint8]
else:
    Image = object


@dataclass(frozen=True)
class RawReading:
    """What a recogniser read from one plate crop, before the grammar looks at it.

    ``candidates`` are alternative raw strings with scores (0..1), best first; ``text`` is the best.
    ``char_confidences`` align with ``text``.
    """

    text: str
    confidence: float
    char_confidences: tuple[float, ...]
    candidates: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class PlateRegion:
    """A plate region: its 4 corners (clockwise from top-left), the rectified crop, and how sure
    the finder is that it is a plate (0..1). ``whole`` marks a photo that is a plate crop itself.
    ``frames`` are the same plate framed wider and wider, when the finder offers them (the
    pipeline reads them to check that the reading does not hang on where the crop's edges fall;
    a finder may cut each only when it is asked for)."""

    box: Quad
    crop: Image
    score: float = 0.0
    whole: bool = False
    frames: Sequence[Image] = ()


class Recognizer(Protocol):
    """Reads the characters of one rectified plate crop (BGR or grey uint8)."""

    def read(self, crop: Image) -> RawReading | None: ...


class Locator(Protocol):
    """Finds plate-like regions in a whole photo (BGR uint8), best first."""

    def locate(self, image: Image) -> list[PlateRegion]: ...


@dataclass(frozen=True)
class FallbackAnswer:
    """Stage 2's answer: a plate only with ``status`` ok."""

    status: Stage2Status
    plate_number: str | None = None
    confidence: float = 0.0
    box: Quad | None = None


class FallbackReader(Protocol):
    """Stage 2: a second opinion on the whole photo when stage 1 found no valid plate."""

    def read(self, image: Image) -> FallbackAnswer: ...
