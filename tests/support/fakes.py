"""Fakes of the engines for the unit, functional and hardening tests: deterministic, no models.

Each test folder that needs the plate somewhere particular passes its own ``box`` (the functional
tests' is where events/plate.jpg shows its plate).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from plate_ocr.engines import FallbackAnswer, PlateRegion, RawReading
from plate_ocr.results import Quad, Stage2Status

PLATE = "12가3456"
#: Where FakeLocator puts a plate unless told otherwise.
BOX: Quad = ((10.0, 20.0), (110.0, 20.0), (110.0, 45.0), (10.0, 45.0))


class FakeLocator:
    """Finds ``n`` plates, the first at ``box`` and each next one below the one before (plates
    never overlap), each crop the whole photo, scored ``score`` and then 0.1 less each; counts its
    calls."""

    def __init__(self, n: int = 1, *, box: Quad = BOX, score: float = 0.9) -> None:
        self.n, self.box, self.score = n, box, score
        self.calls = 0

    def locate(self, image: np.ndarray) -> list[PlateRegion]:
        self.calls += 1
        step = 2 * (self.box[3][1] - self.box[0][1])
        return [
            PlateRegion(
                box=tuple((x, y + i * step) for x, y in self.box),  # type: ignore[arg-type]
                crop=image,
                score=self.score - i / 10,
            )
            for i in range(self.n)
        ]


class FakeRecognizer:
    """Reads ``text`` at ``confidence`` from every crop (nothing while ``text`` is empty) or, given
    ``readings``, answers those in order and then nothing. Counts its calls and keeps the shapes of
    the crops it was given."""

    def __init__(
        self,
        text: str = PLATE,
        confidence: float = 0.93,
        *,
        readings: Iterable[RawReading | None] | None = None,
    ) -> None:
        self.text, self.confidence = text, confidence
        self.readings = None if readings is None else list(readings)
        self.calls = 0
        self.shapes: list[tuple[int, ...]] = []

    def read(self, crop: np.ndarray) -> RawReading | None:
        self.calls += 1
        self.shapes.append(tuple(crop.shape))
        if self.readings is not None:
            return self.readings.pop(0) if self.readings else None
        return reading(self.text, self.confidence) if self.text else None


class FakeFallback:
    """Stage 2 that answers ``answer`` (by default: no key configured) and counts its calls."""

    def __init__(self, answer: FallbackAnswer | None = None) -> None:
        self.answer = answer or FallbackAnswer(status=Stage2Status.SKIPPED_NO_KEY)
        self.calls = 0

    def read(self, image: np.ndarray) -> FallbackAnswer:
        self.calls += 1
        return self.answer


def reading(text: str, confidence: float = 0.9, *alternatives: tuple[str, float]) -> RawReading:
    """A raw reading whose every character has ``confidence``."""
    return RawReading(
        text=text,
        confidence=confidence,
        char_confidences=tuple(confidence for _ in text),
        candidates=tuple(alternatives),
    )
